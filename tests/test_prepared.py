"""Prepared ORM queries (issue 5 throughput): compiled once per database, run with new ids, the same results
as the ORM gives, instances built as Django builds them."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.db.models import Count, Q
from django.db.models.signals import post_save
from django.utils import timezone

from devops_console.core.prepared import Prepared, first, save_fields, saves_together
from pipelines.models import Pipeline
from pipelines.runs.start import start_run
from tests.engine_support import build, make_pipeline, stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_pipelines(world):
    return [
        make_pipeline(world, [stage("S", build("a"), build("b"))], name=name, actor="creator")
        for name in ("one", "two")
    ]


def test_compiled_once_and_run_with_each_argument(two_pipelines, django_assert_num_queries):
    builds = []

    def build_query(pipeline_id):
        builds.append(pipeline_id)
        return Pipeline.objects.filter(pk=pipeline_id).order_by()

    prepared = Prepared(build_query)
    for pipeline in two_pipelines:
        with django_assert_num_queries(1):
            (loaded,) = prepared(pipeline.pk)
        assert (loaded.pk, loaded.name, loaded.definition) == (pipeline.pk, pipeline.name, pipeline.definition)
    assert len(builds) == 1  # with a marker, not a real id
    assert prepared(10**9) == []


def test_select_related_and_deferred_fields_as_the_orm_loads_them(world, two_pipelines, django_assert_num_queries):
    run = start_run(world.users["creator"], two_pipelines[1])
    prepared = Prepared(
        lambda run_id: (
            run.stages.model.objects.select_related("run__pipeline")
            .defer("run__pipeline__definition")
            .filter(run_id=run_id)
            .order_by("index")
        )
    )
    with django_assert_num_queries(1):
        (stage_run,) = prepared(run.pk)
        assert stage_run.run.pipeline.name == "two"  # no query: loaded with the stage
        assert stage_run.run.snapshot == run.snapshot  # JSON converted
        assert isinstance(stage_run.run.created, datetime)
    assert "definition" in stage_run.run.pipeline.get_deferred_fields()


def test_rows_come_converted(world, two_pipelines):
    for pipeline in two_pipelines:
        start_run(world.users["creator"], pipeline)
    prepared = Prepared(
        lambda pipeline_id: Pipeline.objects.filter(pk=pipeline_id).values_list("created").annotate(n=Count("runs"))
    )
    ((created, runs),) = prepared(two_pipelines[0].pk)
    assert isinstance(created, datetime) and runs == 1


def test_first():
    assert first([]) is None
    assert first([3, 4]) == 3


@pytest.mark.parametrize(
    "build_query, message",
    [
        (lambda pk: Pipeline.objects.all(), "must appear in it"),
        (lambda pk: Pipeline.objects.filter(pk=pk).annotate(n=Count("runs")), "no annotations"),
        (lambda pk: Pipeline.objects.filter(pk=pk).values("name"), "model instances or values_list rows"),
    ],
)
def test_queries_it_cannot_prepare_are_refused(build_query, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        Prepared(build_query)(1)


def test_an_argument_used_several_times_takes_its_value_everywhere(world, two_pipelines):
    """A permission check names its user in several subqueries (membership, own and group permissions)."""
    one, two = two_pipelines
    prepared = Prepared(lambda pk: Pipeline.objects.filter(pk__gte=pk, pk__lte=pk).values_list("pk"))
    assert prepared(one.pk) == [(one.pk,)]
    assert prepared(two.pk) == [(two.pk,)]


def test_an_id_beyond_the_databases_range_matches_nothing(two_pipelines, django_assert_num_queries):
    """As Django's integer lookups: an id outside 64 bits (from a URL) finds no row, without an overflow."""
    prepared = Prepared(lambda pk: Pipeline.objects.filter(pk=pk))
    with django_assert_num_queries(0):
        assert prepared(2**63) == [] and prepared(-(2**63) - 1) == [] and prepared(10**30) == []
    assert len(prepared(two_pipelines[0].pk)) == 1


def test_a_query_no_row_can_meet_answers_nothing_without_the_database(two_pipelines, django_assert_num_queries):
    """As Django does for ``Q(pk__in=[])`` (``permissions.nothing()``, an action a model grants nobody)."""
    prepared = Prepared(lambda pk: Pipeline.objects.filter(Q(pk__in=[]), pk=pk).values_list("pk"))
    with django_assert_num_queries(0):
        assert prepared(two_pipelines[0].pk) == []


def test_argument_count_is_checked():
    with pytest.raises(TypeError):
        Prepared(lambda pk: Pipeline.objects.filter(pk=pk))(1, 2)


# --- save_fields -----------------------------------------------------------------------------------


def _task_of(world, pipeline):
    from pipelines.runs.models import TaskRun

    run = start_run(world.users["creator"], pipeline)
    return TaskRun.objects.filter(stage__run=run).order_by("pk").first()


def test_save_fields_writes_what_django_writes_in_one_statement(world, two_pipelines, django_assert_num_queries):
    from pipelines.runs.models import TaskRun

    task, other = _task_of(world, two_pipelines[0]), _task_of(world, two_pipelines[1])
    now = timezone.now()
    task.state, task.finished, task.metrics, task.exit_code, task.message = "succeeded", now, {"n": [1]}, 3, "ok"
    task.name = "not written"  # only the fields named are
    with django_assert_num_queries(1):
        assert save_fields(task, ["state", "finished", "metrics", "exit_code", "message"]) is True
    saved = TaskRun.objects.get(pk=task.pk)
    assert (saved.state, saved.finished, saved.metrics, saved.exit_code, saved.message, saved.name) == (
        "succeeded", now, {"n": [1]}, 3, "ok", "a"
    )  # fmt: skip
    assert TaskRun.objects.get(pk=other.pk).state == other.state  # one row only


def test_save_fields_fails_like_django_when_the_row_is_gone(world, two_pipelines):
    from pipelines.runs.models import TaskRun

    task = _task_of(world, two_pipelines[0])
    TaskRun.objects.filter(pk=task.pk).delete()
    with pytest.raises(DatabaseError, match="did not affect any rows"):
        save_fields(task, ["state"])


def test_save_fields_only_if_the_row_still_holds_the_values(world, two_pipelines):
    """The worker's claim: written once while unclaimed; a second claim finds the row taken and writes nothing."""
    from pipelines.runs.models import TaskRun

    task = _task_of(world, two_pipelines[0])
    task.worker = "host:1"
    assert save_fields(task, ["worker"], only_if={"worker": "", "attempt": task.attempt}) is True
    task.worker = "host:2"
    assert save_fields(task, ["worker"], only_if={"worker": "", "attempt": task.attempt}) is False
    assert TaskRun.objects.get(pk=task.pk).worker == "host:1"


def test_save_fields_only_if_a_column_is_still_null(world, two_pipelines):
    """A webhook delivery is claimed once: while it has no processed time (IS NULL, not ``= NULL``)."""
    from pipelines.runs.models import TaskRun

    task = _task_of(world, two_pipelines[0])
    assert task.finished is None
    task.finished = timezone.now()
    assert save_fields(task, ["finished"], only_if={"finished": None, "attempt": task.attempt}) is True
    task.finished = timezone.now()
    assert save_fields(task, ["finished"], only_if={"finished": None, "attempt": task.attempt}) is False
    assert TaskRun.objects.get(pk=task.pk).finished < task.finished


def test_save_fields_leaves_models_with_save_receivers_to_django(world, two_pipelines):
    from pipelines.runs.models import TaskRun

    task, seen = _task_of(world, two_pipelines[0]), []

    def receiver(sender, instance, update_fields, **kwargs):
        seen.append((instance.pk, sorted(update_fields)))

    post_save.connect(receiver, sender=TaskRun, weak=False)
    try:
        task.state, task.worker = "failed", "host:3"
        save_fields(task, ["state"])
        assert save_fields(task, ["worker"], only_if={"worker": "nobody"}) is False
    finally:
        post_save.disconnect(receiver, sender=TaskRun)
    assert seen == [(task.pk, ["state"])]
    assert TaskRun.objects.filter(pk=task.pk).values_list("state", "worker").get() == ("failed", "")


def test_save_fields_refuses_fields_it_cannot_write():
    from pipelines.runs.models import TaskRun

    with pytest.raises(ImproperlyConfigured, match="cannot use runs.TaskRun.id"):
        save_fields(TaskRun(pk=1), ["id"])


# --- saves_together: one statement per model and fields for all the rows ------------------------


def test_saves_together_writes_the_rows_with_one_statement_per_model_and_fields(
    world, two_pipelines, django_assert_num_queries
):
    """A burst's starts mark their first stage and task started together. The values written are those the
    objects hold when the block ends, NULLs and JSON typed by their column (PostgreSQL), and nothing else."""
    from pipelines.runs.models import StageRun, TaskRun

    tasks = [_task_of(world, pipeline) for pipeline in two_pipelines]
    tasks.append(_task_of(world, two_pipelines[0]))
    for task in tasks:
        assert task.stage.state == "running"  # loaded before the block
    now = timezone.now()
    with django_assert_num_queries(1 + 2):  # the read below, then one write for the tasks and one for the stages
        with saves_together():
            for index, task in enumerate(tasks):
                task.state, task.finished, task.heartbeat, task.metrics = "succeeded", now, None, {"n": [index]}
                task.name = "not written"
                save_fields(task, ["state", "finished", "heartbeat", "metrics"])
                task.stage.state = "failed"
                save_fields(task.stage, ["state"])
            tasks[0].state = "stopped"  # changed after its save: the value at the end is written
            save_fields(tasks[0], ["state", "finished", "heartbeat", "metrics"])  # and written once
            assert set(TaskRun.objects.filter(pk__in=[t.pk for t in tasks]).values_list("state", flat=True)) == {
                "running"
            }  # nothing written yet
    rows = TaskRun.objects.filter(pk__in=[t.pk for t in tasks]).order_by("pk")
    assert [(r.state, r.finished, r.heartbeat, r.metrics, r.name) for r in rows] == [
        ("stopped", now, None, {"n": [0]}, "a"), ("succeeded", now, None, {"n": [1]}, "a"),
        ("succeeded", now, None, {"n": [2]}, "a"),
    ]  # fmt: skip
    assert set(StageRun.objects.filter(pk__in=[t.stage_id for t in tasks]).values_list("state", flat=True)) == {
        "failed"
    }


def test_saves_together_of_one_row_and_nested_blocks(world, two_pipelines, django_assert_num_queries):
    from pipelines.runs.models import TaskRun

    task = _task_of(world, two_pipelines[0])
    with django_assert_num_queries(1 + 1):  # the read below, then the write
        with saves_together():
            with saves_together():  # written by the outer block
                task.state = "failed"
                save_fields(task, ["state"])
            assert TaskRun.objects.filter(pk=task.pk, state="running").exists()
    assert TaskRun.objects.get(pk=task.pk).state == "failed"


def test_saves_together_writes_nothing_when_the_block_fails_and_fails_like_django_for_a_gone_row(
    world, two_pipelines
):
    from pipelines.runs.models import TaskRun

    task, gone = _task_of(world, two_pipelines[0]), _task_of(world, two_pipelines[1])
    with pytest.raises(RuntimeError):
        with saves_together():
            task.state = "failed"
            save_fields(task, ["state"])
            raise RuntimeError("stop")
    assert TaskRun.objects.get(pk=task.pk).state == "running"
    TaskRun.objects.filter(pk=gone.pk).delete()
    with pytest.raises(DatabaseError, match="did not affect every row"):
        with saves_together():
            for each in (task, gone):
                save_fields(each, ["state"])


def test_saves_together_leaves_conditional_writes_to_save_fields(world, two_pipelines):
    """A conditional claim must know at once whether it won: it is written in place."""
    from pipelines.runs.models import TaskRun

    task = _task_of(world, two_pipelines[0])
    with saves_together():
        task.worker = "host:1"
        assert save_fields(task, ["worker"], only_if={"worker": ""}) is True
        assert TaskRun.objects.get(pk=task.pk).worker == "host:1"
        assert save_fields(task, ["worker"], only_if={"worker": ""}) is False


# --- load_stages: one query, two when a stage has no task ---------------------------------------


def test_load_stages_in_one_query_when_every_stage_has_a_task(world, django_assert_num_queries):
    from pipelines.runs.engine import load_stages

    pipeline = make_pipeline(world, [stage("A", build("a1"), build("a2")), stage("B", build("b1"))], name="full")
    run = start_run(world.users["developer"], pipeline)
    with django_assert_num_queries(1):
        stages = load_stages(run)
    assert [(s.name, [t.name for t in s.loaded_tasks]) for s in stages] == [("A", ["a1", "a2"]), ("B", ["b1"])]
    assert all(t.stage is s and s.run is run for s in stages for t in s.loaded_tasks)


def test_load_stages_keeps_a_stage_without_tasks(world, django_assert_num_queries):
    """A manual stage that only asks for a confirmation has no task row: the stages are read as well."""
    from pipelines.runs.engine import load_stages
    from pipelines.runs.models import State

    stages_def = [stage("A", build("a1")), stage("Confirm", manual=True), stage("C", build("c1"))]
    run = start_run(world.users["developer"], make_pipeline(world, stages_def, name="gap"))
    with django_assert_num_queries(2):
        stages = load_stages(run)
    assert [(s.name, [t.name for t in s.loaded_tasks]) for s in stages] == [("A", ["a1"]), ("Confirm", []),
                                                                           ("C", ["c1"])]  # fmt: skip
    assert stages[0].loaded_tasks[0].state == State.RUNNING and stages[0].loaded_tasks[0].stage is stages[0]
