"""Celery tasks of schedules (T5): thin, take ids; the logic is in ``pipelines.triggers.schedules``.

``triggers.fire_schedule`` is what every beat entry ``pipeline-<id>-point-<n>`` runs (kwargs from the
entry), ``triggers.fire_schedules`` several entries due together (``triggers.beat`` sends them as one
message); ``triggers.start_slots`` starts slots another task claimed for them (a share of a burst of points
due at the same instant; ``triggers.start_slot``, one slot, for messages queued by earlier versions);
``triggers.scan_schedules`` runs every minute from ``CELERY_BEAT_SCHEDULE``. Retries are safe: the slot's
unique key and its ``starting`` state make a second attempt start nothing.
"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from pipelines.triggers import schedules

# Nothing reads their return values (the slot rows say what happened): no result-backend write.
RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 3, "ignore_result": True}


@shared_task(name="triggers.fire_schedule", **RETRY)
def fire_schedule(pipeline_id: int, point: int, armed: str | None = None, **_ignored) -> str:
    return schedules.fire(pipeline_id, point, armed=armed)


@shared_task(name="triggers.start_slot", **RETRY)
def start_slot(slot_id: int, status: str = "fired") -> str:
    return schedules.start_slot(slot_id, status)


@shared_task(name="triggers.start_slots", **RETRY)
def start_slots(slot_ids: list[int]) -> list[str]:
    return schedules.start_slots(slot_ids)


@shared_task(name="triggers.scan_schedules", **RETRY)
def scan_schedules() -> int:
    return schedules.scan()


@shared_task(name="triggers.fire_schedules", **RETRY)
def fire_schedules(entries: list[dict]) -> list[str]:
    return schedules.fire_many(entries)
