"""Celery tasks of the engine: thin, take ids, idempotent (Weblate style). Orchestration runs on the
default queue; commands run on the ``tasks`` queue so long builds never starve orchestration."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

from pipelines.runs import engine, start

logger = logging.getLogger(__name__)
# Nothing reads the engine tasks' return values (the database holds the state): no result-backend write.
RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5, "ignore_result": True}


@shared_task(name="runs.dispatch", **RETRY)
def dispatch_runs(pipeline_id: int) -> list[int]:
    return start.dispatch(pipeline_id)


@shared_task(name="runs.advance", **RETRY)
def advance_run(run_id: int) -> str | None:
    return engine.advance(run_id)


@shared_task(name="runs.execute", acks_late=True, reject_on_worker_lost=False, ignore_result=True)
def execute_task(task_id: int, attempt: int) -> str | None:
    from pipelines.executors.runner import execute

    return execute(task_id, attempt)


@shared_task(name="runs.check_timers", **RETRY)
def check_timers() -> int:
    return engine.fire_timers()


@shared_task(name="runs.reap", **RETRY)
def reap() -> int:
    from pipelines.runs.reaper import reap_lost_tasks

    return reap_lost_tasks()


@shared_task(name="runs.finished", **RETRY)
def run_finished(run_id: int) -> None:
    """What follows a finished run: its slot goes to the next queued run (X3), a parent sub-pipeline task
    takes its result (X8)."""
    from pipelines.runs.models import Run

    pipeline_id = Run.objects.filter(pk=run_id).values_list("pipeline_id", flat=True).first()
    if pipeline_id is not None:
        engine.follow_up(run_id, pipeline_id)
