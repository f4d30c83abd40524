"""The engine's inline hops (issue 5 throughput): after a run finishes, the next queued run is promoted in the
same process; when that fails, or chains too deep, a worker's ``runs.finished`` task does it (X3 never stalls)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError

from pipelines.runs import engine

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _runs_waiting():
    """Runs of pipeline 7 wait for a slot (unless a test says otherwise)."""
    with mock.patch("pipelines.runs.engine.has_queued", return_value=True) as has_queued:
        yield has_queued


def test_after_finish_dispatches_inline():
    with (
        mock.patch("pipelines.runs.start.dispatch") as dispatch,
        mock.patch("pipelines.runs.tasks.run_finished.delay") as delay,
    ):
        engine.after_finish_soon(11, 7, has_parent=False)
    dispatch.assert_called_once_with(7)
    delay.assert_not_called()


def test_after_finish_takes_no_lock_when_no_run_waits(_runs_waiting):
    _runs_waiting.return_value = False
    with mock.patch("pipelines.runs.start.dispatch") as dispatch:
        engine.after_finish_soon(11, 7, has_parent=False)
    dispatch.assert_not_called()


def test_after_finish_falls_back_to_a_worker_when_inline_fails():
    with (
        mock.patch("pipelines.runs.start.dispatch", side_effect=OperationalError("database is locked")),
        mock.patch("pipelines.runs.tasks.run_finished.delay") as delay,
    ):
        engine.after_finish_soon(11, 7, has_parent=False)
    delay.assert_called_once_with(11)


def test_after_finish_hands_deep_chains_to_a_worker():
    """Runs that finish at once (preflight failures) promote the next ones; the chain stays shallow."""
    calls = []

    def dispatch(pipeline_id):
        calls.append(pipeline_id)
        engine.after_finish_soon(len(calls), pipeline_id, has_parent=False)  # the promoted run finished at once

    with (
        mock.patch("pipelines.runs.start.dispatch", side_effect=dispatch),
        mock.patch("pipelines.runs.tasks.run_finished.delay") as delay,
    ):
        engine.after_finish_soon(0, 7, has_parent=False)
    assert len(calls) == engine.MAX_INLINE_DEPTH
    delay.assert_called_once_with(engine.MAX_INLINE_DEPTH)


def test_after_finish_notifies_a_parent_task():
    with mock.patch("pipelines.runs.start.dispatch"), mock.patch("pipelines.runs.hooks.after_run") as after_run:
        engine.after_finish_soon(11, 7, has_parent=True)
    after_run.assert_called_once_with(11)


def test_a_run_queued_while_the_last_one_finishes_is_promoted(world, django_capture_on_commit_callbacks):
    """X3 race: the finisher looked for queued runs (none) before the start that saw it still active committed
    its queued run; that start's own dispatch after its commit promotes the run."""
    from pipelines.models import Pipeline
    from pipelines.runs.models import Run, State
    from pipelines.runs.start import _slots, start_run
    from tests.engine_support import build, make_pipeline, stage

    pipeline = make_pipeline(world, [stage("Build", build())], name="race")
    Pipeline.objects.filter(pk=pipeline.pk).update(max_concurrent_runs=1)
    pipeline.refresh_from_db()
    with mock.patch("pipelines.runs.tasks.execute_task.delay"):
        first = start_run(world.users["developer"], pipeline)
        Run.objects.filter(pk=first.pk).update(state=State.SUCCEEDED)  # it finished; no run was queued yet
        reads = []

        def slots(pipeline_id):
            number, active, queued = _slots(pipeline_id)
            reads.append(active)
            # The start's read under the lock, before the finish was visible: one active run, none queued.
            return (number, 1, False) if len(reads) == 1 else (number, active, queued)

        with mock.patch("pipelines.runs.start._slots", slots), django_capture_on_commit_callbacks(execute=True):
            second = start_run(world.users["developer"], pipeline)  # sees the first still active
        assert second.state == State.QUEUED
    assert Run.objects.get(pk=second.pk).state == State.RUNNING


def test_a_task_result_advances_its_run_in_the_same_transaction(world):
    """Issue 5: finish_task records the result, clears the command's pid and moves the run on before it
    returns; no commit hook or worker hop is needed (on_commit never fires in this test)."""
    from pipelines.runs.models import Run, State, TaskRun
    from pipelines.runs.start import start_run
    from tests.engine_support import build, make_pipeline, stage

    pipeline = make_pipeline(world, [stage("A", build("one")), stage("B", build("two"))], name="inline")
    with mock.patch("pipelines.runs.tasks.execute_task.delay"):
        run = start_run(world.users["developer"], pipeline)
        one = TaskRun.objects.get(stage__run=run, name="one")
        assert one.state == State.RUNNING  # started in the transaction that created the run
        TaskRun.objects.filter(pk=one.pk).update(pid=4242)
        assert engine.finish_task(one.pk, one.attempt, State.SUCCEEDED, exit_code=0)
    one.refresh_from_db()
    assert (one.state, one.pid) == (State.SUCCEEDED, None)
    assert TaskRun.objects.get(stage__run=run, name="two").state == State.RUNNING
    assert engine.finish_task(one.pk, one.attempt, State.FAILED) is False  # already finished: ignored
    with mock.patch("pipelines.runs.tasks.execute_task.delay"):
        two = TaskRun.objects.get(stage__run=run, name="two")
        assert engine.finish_task(two.pk, two.attempt, State.SUCCEEDED, exit_code=0)
    assert Run.objects.get(pk=run.pk).state == State.SUCCEEDED


def test_a_start_unsticks_a_queue_whose_promotion_failed(world, django_capture_on_commit_callbacks):
    """X3: runs wait although a slot is free (an earlier promotion failed); the next start promotes the oldest."""
    from pipelines.models import Pipeline
    from pipelines.runs.models import Run, State
    from pipelines.runs.start import start_run
    from tests.engine_support import build, make_pipeline, stage

    pipeline = make_pipeline(world, [stage("Build", build())], name="stuck")
    Pipeline.objects.filter(pk=pipeline.pk).update(max_concurrent_runs=1)
    pipeline.refresh_from_db()
    with mock.patch("pipelines.runs.tasks.execute_task.delay"):
        first = start_run(world.users["developer"], pipeline)
        with mock.patch("pipelines.runs.start._dispatch_later"):
            stuck = start_run(world.users["developer"], pipeline)  # queued behind the first
        Run.objects.filter(pk=first.pk).update(state=State.SUCCEEDED)  # its follow-up was lost
        with django_capture_on_commit_callbacks(execute=True):
            start_run(world.users["developer"], pipeline)
    assert Run.objects.get(pk=stuck.pk).state == State.RUNNING


def _one_slot_with_a_queued_run(world, name):
    """A pipeline with one slot: its first run executes (its task running), a second run waits (X3)."""
    from pipelines.models import Pipeline
    from pipelines.runs.models import State, TaskRun
    from pipelines.runs.start import start_run
    from tests.engine_support import build, make_pipeline, stage

    pipeline = make_pipeline(world, [stage("Build", build())], name=name)
    Pipeline.objects.filter(pk=pipeline.pk).update(max_concurrent_runs=1)
    pipeline.refresh_from_db()
    with mock.patch("pipelines.runs.tasks.execute_task.delay"):
        first = start_run(world.users["developer"], pipeline)
        waiting = start_run(world.users["developer"], pipeline)
    assert waiting.state == State.QUEUED
    return TaskRun.objects.get(stage__run=first), waiting


def test_a_finished_run_hands_its_slot_on_in_the_same_transaction(world, django_capture_on_commit_callbacks):
    """X3 (issue 5 throughput): the task that finishes a run promotes the next queued run before it returns;
    the follow-up after the commit does not dispatch again."""
    from pipelines.runs.models import Run, State

    task, waiting = _one_slot_with_a_queued_run(world, "handover")
    with mock.patch("pipelines.runs.tasks.execute_task.delay"), django_capture_on_commit_callbacks() as hooks:
        assert engine.finish_task(task.pk, task.attempt, State.SUCCEEDED, exit_code=0)
        assert Run.objects.get(pk=waiting.pk).state == State.RUNNING  # before any commit hook ran
    with (
        mock.patch("pipelines.runs.start.dispatch") as dispatch,
        mock.patch("pipelines.runs.tasks.execute_task.delay") as execute,
    ):
        for hook in hooks:
            hook()
    dispatch.assert_not_called()
    execute.assert_called_once()  # the promoted run's first task


def test_a_failed_handover_leaves_the_result_and_dispatches_after_the_commit(world, django_capture_on_commit_callbacks):
    """X3: should promoting inside the finishing transaction fail, its savepoint is rolled back, the task's
    result stands and the follow-up after the commit dispatches the queue as before."""
    from pipelines.runs.models import Run, State, TaskRun

    task, waiting = _one_slot_with_a_queued_run(world, "fallback")
    with mock.patch("pipelines.runs.start.promote", side_effect=RuntimeError("boom")), \
            django_capture_on_commit_callbacks() as hooks:  # fmt: skip
        assert engine.finish_task(task.pk, task.attempt, State.SUCCEEDED, exit_code=0)
    assert TaskRun.objects.get(pk=task.pk).state == State.SUCCEEDED
    assert Run.objects.get(pk=waiting.pk).state == State.QUEUED
    with mock.patch("pipelines.runs.start.dispatch") as dispatch:
        for hook in hooks:
            hook()
    dispatch.assert_called_once_with(waiting.pipeline_id)
