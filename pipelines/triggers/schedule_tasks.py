"""Celery tasks of schedules (T5): thin, take ids; the logic is in ``pipelines.triggers.schedules``.

``triggers.fire_schedule`` is what every beat entry ``pipeline-<id>-point-<n>`` runs (kwargs from the
entry); ``triggers.start_slot`` starts a slot another task claimed for it (a burst of points due at the
same instant); ``triggers.scan_schedules`` runs every minute from ``CELERY_BEAT_SCHEDULE``. Retries are
safe: the slot's unique key and its ``starting`` state make a second attempt start nothing.
"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from pipelines.triggers import schedules

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 3}


@shared_task(name="triggers.fire_schedule", **RETRY)
def fire_schedule(pipeline_id: int, point: int, armed: str | None = None, **_ignored) -> str:
    return schedules.fire(pipeline_id, point, armed=armed)


@shared_task(name="triggers.start_slot", **RETRY)
def start_slot(slot_id: int, status: str = "fired") -> str:
    return schedules.start_slot(slot_id, status)


@shared_task(name="triggers.scan_schedules", **RETRY)
def scan_schedules() -> int:
    return schedules.scan()
