"""Recovery on a real worker and beat: a worker process killed with SIGKILL mid-task (X9), retry from
the failed task (X5), rerun a single task (X5), and sub-pipelines (X8)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from pipelines.runs import engine
from pipelines.runs.models import Run, TaskRun
from pipelines.runs.start import start_run
from tests.celery_support import start_beat, stop, workers_database_url
from tests.engine_support import build, log_of, make_pipeline, stage, task_states, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker", "drain_runs")]


def test_killed_worker_fails_the_run_within_60_s_and_retry_succeeds(world, tmp_path):
    """X9: SIGKILL the worker process running the task → the reaper (sent by a real beat) fails it within
    60 s, never leaving it running; X5: a retry of the same run then succeeds."""
    marker, pids = tmp_path / "second-attempt", tmp_path / "pids"
    commands = (
        f"if [ -e {marker} ]; then echo second attempt ok; exit 0; fi; touch {marker}; "
        f"sleep 300 & echo $! > {pids}; wait"
    )
    pipeline = make_pipeline(world, [stage("S", build(commands=commands))])
    beat = start_beat(workers_database_url(), tmp_path)
    try:
        run = start_run(world.users["developer"], pipeline)
        wait_for(run, what=lambda r: pids.exists() and pids.read_text().strip())
        task = TaskRun.objects.get(stage__run=run)
        worker_pid = int(task.worker.rsplit(":", 1)[1])
        os.kill(worker_pid, signal.SIGKILL)  # the pool process executing the task
        killed_at = time.monotonic()
        run = wait_for(run, timeout=60)
        assert run.state == "failed" and time.monotonic() - killed_at < 60
        task.refresh_from_db()
        assert task.state == "failed" and "lost" in task.message
    finally:
        stop(beat)
        if pids.exists():
            try:
                os.kill(int(pids.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert engine.retry_run(run)
    run = wait_for(run)
    assert run.state == "succeeded" and run.number == 1
    assert "second attempt ok" in log_of(run, "compile")
    assert TaskRun.objects.get(stage__run=run).attempt == 1


def test_retry_resumes_from_the_failed_task_with_the_frozen_snapshot(world, tmp_path):
    """X5: retry runs the failed task and what follows, in the same run, with the original configuration."""
    flag = tmp_path / "fixed"
    pipeline = make_pipeline(
        world,
        [
            stage("A", build("first", f"echo first >> {tmp_path}/log")),
            stage("B", build("flaky", f"test -e {flag}"), build("after", "echo after")),
        ],
    )
    run = wait_for(start_run(world.users["developer"], pipeline))
    assert run.state == "failed" and task_states(run)["B/after"] == "skipped"
    from pipelines import services

    services.update_pipeline(world.users["developer"], pipeline, {"stages": []}, partial=True)  # change config
    flag.touch()
    assert engine.retry_run(run)
    run = wait_for(run)
    assert run.state == "succeeded"
    assert task_states(run) == {"A/first": "succeeded", "B/flaky": "succeeded", "B/after": "succeeded"}
    assert (tmp_path / "log").read_text().count("first") == 1  # the succeeded stage did not run again
    assert not engine.retry_run(run)  # nothing to retry on a succeeded run


def test_rerun_a_single_task(world, tmp_path):
    counter = tmp_path / "count"
    pipeline = make_pipeline(world, [stage("A", build("count", f"echo x >> {counter}"), build("other", "true"))])
    run = wait_for(start_run(world.users["developer"], pipeline))
    task = TaskRun.objects.get(stage__run=run, name="count")
    assert engine.rerun_task(run, task)
    run = wait_for(run, what=lambda r: r.state in {"succeeded", "failed"} and counter.read_text().count("x") == 2)
    assert run.state == "succeeded" and TaskRun.objects.get(pk=task.pk).attempt == 1
    assert TaskRun.objects.get(stage__run=run, name="other").attempt == 0


@pytest.mark.parametrize("child_commands, outcome", [("echo child ${mode}", "succeeded"), ("exit 1", "failed")])
def test_sub_pipeline_takes_the_child_result(world, child_commands, outcome):
    """X8: a sub-pipeline task starts a run of another pipeline of the same project with mapped
    parameters and takes its result, without holding a worker while it waits."""
    child = make_pipeline(
        world,
        [stage("C", build("c", child_commands))],
        name="child",
        parameters=[{"name": "mode", "type": "string", "default": "plain", "runtime": True}],
    )
    parent = make_pipeline(
        world,
        [
            stage(
                "P",
                {
                    "name": "call",
                    "type": "sub_pipeline",
                    "config": {"pipeline": child.pk, "parameters": {"mode": "mapped"}},
                },
            )
        ],
        name="parent",
    )
    run = wait_for(start_run(world.users["developer"], parent))
    call = TaskRun.objects.get(stage__run=run)
    assert run.state == outcome, call.message
    assert Run.objects.filter(pipeline=child).exists(), call.message
    child_run = Run.objects.get(pipeline=child)
    assert child_run.trigger == "sub_pipeline" and child_run.parent_task.stage.run == run
    if outcome == "succeeded":
        assert "child mapped" in log_of(child_run, "c")


def test_a_waiting_sub_pipeline_task_holds_no_worker_process(world):
    """X8: while a sub-pipeline task waits for its child run no process of the worker runs its commands, so
    its pid is empty (a stopped parent's log reads as complete)."""
    child = make_pipeline(world, [stage("C", build("c", "sleep 300"))], name="slow-child")
    call = {"name": "call", "type": "sub_pipeline", "config": {"pipeline": child.pk}}
    parent = make_pipeline(world, [stage("P", call)], name="waiting-parent")
    run = start_run(world.users["developer"], parent)
    wait_for(run, what=lambda r: Run.objects.filter(pipeline=child, state="running").exists())
    task = TaskRun.objects.get(stage__run=run)
    assert task.state == "running" and task.worker and task.pid is None
    for started in (run, Run.objects.get(pipeline=child)):
        engine.stop_run(started)

