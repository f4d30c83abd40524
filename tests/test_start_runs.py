"""Several runs started in one transaction (``start.start_runs``, used by a burst of schedules, T5): numbered
gap-free per pipeline (also two of one pipeline), X3 slots taken in order, a refused start returned without
stopping the others, and a share of a burst never started twice when the joint start fails after its commit."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from pipelines.models import Pipeline
from pipelines.runs.models import Run, State, TaskRun
from pipelines.runs.start import start_run, start_runs
from pipelines.triggers import schedules
from pipelines.triggers.models import ScheduleSlot
from tests.engine_support import build, make_pipeline, stage

pytestmark = pytest.mark.django_db


def pipelines(world, count, **extra):
    return [make_pipeline(world, [stage("S", build("t"))], name=f"p{i}", **extra) for i in range(count)]


def test_runs_of_several_pipelines_are_created_and_started_together(world, django_assert_max_num_queries):
    one, two, three = pipelines(world, 3)
    start_run(world.users["developer"], two)  # two already has run #1
    actor = world.users["developer"]
    with django_assert_max_num_queries(8 + 2 * 3):  # a few statements for all; per run its first stage and task
        runs = start_runs([(actor, p, {"trigger": "schedule"}) for p in (one, two, three)])
    assert [(run.pipeline_id, run.number, run.state) for run in runs] == [
        (one.pk, 1, State.RUNNING), (two.pk, 2, State.RUNNING), (three.pk, 1, State.RUNNING)
    ]  # fmt: skip
    for run in runs:
        task = TaskRun.objects.get(stage__run=run)
        assert task.state == State.RUNNING and Run.objects.get(pk=run.pk).trigger == "schedule"


def test_two_runs_of_one_pipeline_are_numbered_in_order_and_share_its_slots(world):
    """R-numbering gap-free and X3: with one slot the first runs, the second waits its turn."""
    (pipeline,) = pipelines(world, 1)
    Pipeline.objects.filter(pk=pipeline.pk).update(max_concurrent_runs=1)
    pipeline.refresh_from_db()
    actor = world.users["developer"]
    first, second = start_runs([(actor, pipeline, {}), (actor, pipeline, {})])
    assert (first.number, first.state, second.number, second.state) == (1, State.RUNNING, 2, State.QUEUED)
    assert TaskRun.objects.get(stage__run=second).state == State.PENDING


def test_a_refused_start_is_returned_and_the_others_start(world):
    one, two = pipelines(world, 2)
    actor = world.users["developer"]
    refused, run = start_runs([(actor, one, {"parameters": {"nope": "1"}}), (actor, two, {})])
    assert isinstance(refused, ValidationError) and "parameters.nope" in refused.message_dict
    assert not Run.objects.filter(pipeline=one).exists()
    assert run.pipeline_id == two.pk and run.number == 1


def test_a_start_whose_sources_changed_meanwhile_is_started_on_its_own(world):
    """Sources resolved outside the transaction that no longer match the locked definition: that start is
    done again on its own after the commit (as start_run does), the others in the joint transaction."""
    from pipelines.runs import sources

    one, two = pipelines(world, 2)
    actor, real, resolved = world.users["developer"], sources.resolve_sources, []

    def stale_first(*args, **kwargs):
        resolution = real(*args, **kwargs)
        if not resolved:
            resolution.basis = [{"alias": "changed meanwhile"}]
        resolved.append(args[1].pk)
        return resolution

    with mock.patch.object(sources, "resolve_sources", stale_first):
        first, second = start_runs([(actor, one, {}), (actor, two, {})])
    assert (first.pipeline_id, first.number, second.pipeline_id, second.number) == (one.pk, 1, two.pk, 1)
    assert resolved == [one.pk, two.pk, one.pk]  # the stale one resolved again, on its own


def test_a_deleted_pipeline_is_an_error_result(world):
    one, two = pipelines(world, 2)
    actor = world.users["developer"]
    Pipeline.objects.filter(pk=one.pk).delete()
    gone, run = start_runs([(actor, one, {}), (actor, two, {})])
    assert isinstance(gone, Pipeline.DoesNotExist) and run.number == 1


def test_a_joint_start_failing_after_its_commit_starts_no_slot_twice(world):
    """If creating a share of a burst together fails after its runs were committed (say the broker refused a
    message), the slots whose runs exist keep them and only the others start one by one."""
    now = timezone.now().replace(second=0, microsecond=0)
    made = pipelines(world, 3)
    rows = [
        ScheduleSlot.objects.create(pipeline=p, point=0, scheduled_for=now, fired_at=now, delay=0, status="starting")
        for p in made
    ]
    real = start_runs

    def created_two_then_failed(starts):
        real(starts[:2])
        raise ConnectionError("broker went away")

    with mock.patch("pipelines.runs.start.start_runs", created_two_then_failed):
        assert schedules.start_slots([row.pk for row in rows]) == ["fired"] * 3
    for pipeline, row in zip(made, rows, strict=True):
        (run,) = Run.objects.filter(pipeline=pipeline)
        assert ScheduleSlot.objects.get(pk=row.pk).run == run and run.trigger_detail["slot"] == row.pk
    assert schedules.start_slots([row.pk for row in rows]) == []  # delivered again: nothing left to start


def test_runs_started_together_are_written_as_each_one_advanced(world, git_server, django_capture_on_commit_callbacks):
    """The stage and task states of a joint start are written together when its runs have advanced
    (``saves_together``): each run's rows hold what its own path decided — a preflight failure (nothing of it
    runs), a manual first stage (waiting), a first stage left out (skipped, the next one runs)."""
    from pipelines.runs.models import StageRun
    from tests.test_executors_checkout import git_endpoint, git_source

    private = git_endpoint(world, git_server, scope="private")  # the tester may not use it (E3)
    unusable = make_pipeline(world, [stage("Build", build(source="app"))], sources=[git_source(private)],
                             name="unusable")  # fmt: skip
    manual = make_pipeline(world, [stage("Approve", build("a"), manual=True)], name="manual")
    partial = make_pipeline(world, [stage("A", build("a1")), stage("B", build("b1"))], name="partial")
    tester = world.users["tester"]
    with django_capture_on_commit_callbacks():
        runs = start_runs([(tester, unusable, {}), (tester, manual, {}), (tester, partial, {"tasks": ["B/b1"]})])

    def written(run):
        stages = StageRun.objects.filter(run=run).order_by("index")
        return (Run.objects.get(pk=run.pk).state,
                [(s.name, s.state, [t.state for t in s.tasks.order_by("index")]) for s in stages])  # fmt: skip

    assert written(runs[0]) == ("failed", [("Build", "skipped", ["skipped"])])
    assert "tester may not use" in Run.objects.get(pk=runs[0].pk).error
    assert written(runs[1]) == ("waiting", [("Approve", "waiting", ["pending"])])
    assert written(runs[2]) == ("running", [("A", "skipped", ["skipped"]), ("B", "running", ["running"])])
