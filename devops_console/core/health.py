"""``GET /healthz``: database, broker and the number of live Celery workers (no auth, no secrets)."""

from __future__ import annotations

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from devops_console.celery import app as celery_app


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception:  # noqa: BLE001 — any failure means "not ok"; the reason is not for anonymous callers
        return "error"


def _broker_and_workers(timeout: float = 1.0) -> tuple[str, int]:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            replies = celery_app.control.ping(timeout=timeout, connection=conn) or []
    except Exception:  # noqa: BLE001
        return "error", 0
    return "ok", len(replies)


@never_cache
@require_GET
def healthz(request):
    database = _database()
    broker, workers = _broker_and_workers()
    healthy = database == "ok" and broker == "ok"
    return JsonResponse({"database": database, "broker": broker, "workers": workers}, status=200 if healthy else 503)
