"""Prepared ORM queries (issue 5 throughput): compiled once per database, run with new ids, the same results
as the ORM gives, instances built as Django builds them."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Q

from devops_console.core.prepared import Prepared, first
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
        lambda run_id: run.stages.model.objects.select_related("run__pipeline")
        .defer("run__pipeline__definition")
        .filter(run_id=run_id)
        .order_by("index")
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
        (lambda pk: Pipeline.objects.filter(Q(pk=pk) | Q(creator_id=pk)), "appear once"),
        (lambda pk: Pipeline.objects.all(), "appear once"),
        (lambda pk: Pipeline.objects.filter(pk=pk).annotate(n=Count("runs")), "no annotations"),
        (lambda pk: Pipeline.objects.filter(pk=pk).values("name"), "model instances or values_list rows"),
    ],
)
def test_queries_it_cannot_prepare_are_refused(build_query, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        Prepared(build_query)(1)


def test_argument_count_is_checked():
    with pytest.raises(TypeError):
        Prepared(lambda pk: Pipeline.objects.filter(pk=pk))(1, 2)
