"""Helpers for tests that run pipelines on a real Celery worker."""

from __future__ import annotations

import time

import pytest

from pipelines import services
from pipelines.runs.models import Run

FINAL = {"succeeded", "failed", "stopped"}


def make_pipeline(world, stages, *, parameters=(), name="web", actor="developer", **extra):
    data = {"name": name, "parameters": list(parameters), "stages": stages, **extra}
    return services.create_pipeline(world.users[actor], world.project, data)


def build(name="compile", commands="echo hello", **config):
    return {"name": name, "type": "build", "config": {"commands": commands, **config}}


def stage(name, *tasks, **flags):
    return {"name": name, "tasks": list(tasks), **flags}


def wait_for(run: Run, states=FINAL, timeout: float = 45.0, what=None) -> Run:
    """Poll the database until the run is in one of ``states`` (or ``what(run)`` is true)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if what(run) if what else run.state in states:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run #{run.number} stayed {run.state}; tasks: {task_states(run)}")


def task_states(run: Run) -> dict[str, str]:
    from pipelines.runs.models import TaskRun

    tasks = TaskRun.objects.filter(stage__run=run).select_related("stage")
    return {f"{t.stage.name}/{t.name}": t.state for t in tasks}


def log_of(run: Run, task_name: str) -> str:
    from pipelines.runs import logs
    from pipelines.runs.models import TaskRun

    task = TaskRun.objects.get(stage__run=run, name=task_name)
    return logs.read(task, 0)[0]


@pytest.fixture
def drain_runs(transactional_db):
    """After the test: stop what still runs and wait until no worker executes any of it, so the next test
    (and the database flush) never meets a leftover task."""
    yield
    from pipelines.runs import engine
    from pipelines.runs.models import TaskRun

    for run in Run.objects.exclude(state__in=FINAL):
        engine.stop_run(run)
    deadline = time.monotonic() + 20
    while TaskRun.objects.filter(pid__isnull=False).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)  # let the worker finish writing its last log chunk
