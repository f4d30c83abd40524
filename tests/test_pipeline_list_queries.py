"""P1: the pipeline list costs the same number of queries for 5 and 50 rows (rights and the follow state
are annotations of the page query; nothing is fetched per row)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pipelines import services
from pipelines.runs.api_serializers import format_duration
from tests.test_pipeline_pages import login, sample_definition

pytestmark = pytest.mark.django_db


def create(world, count, start=0):
    for i in range(start, start + count):
        pipeline = services.create_pipeline(world.users["developer"], world.project, sample_definition(f"p{i:03d}"))
        if i % 2:
            services.follow(world.users["manager"], pipeline)


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response


PATHS = ["/pipelines/", "/projects/{pid}/pipelines/", "/pipelines/?filter=mine&search=p"]


def test_list_query_count_does_not_grow_with_rows(world):
    clients = {actor: login(world, actor) for actor in ("manager", "tester", "developer")}
    urls = [path.format(pid=world.project.pk) for path in PATHS]
    create(world, 5)
    for client in clients.values():
        client.get(urls[0])  # warm the per-process caches (content types, session)
    few = {(actor, url): count_queries(client, url)[0] for actor, client in clients.items() for url in urls}
    create(world, 45, start=5)
    many = {(actor, url): count_queries(client, url)[0] for actor, client in clients.items() for url in urls}
    assert few == many, f"5 rows: {few}\n50 rows: {many}"
    assert max(many.values()) <= 12


def test_superuser_list_query_count(world):
    from django.contrib.auth import get_user_model
    from django.test import Client

    admin = get_user_model().objects.create_superuser("root", password="pw-root-123")
    client = Client()
    client.force_login(admin)
    create(world, 5)
    client.get("/pipelines/")
    few, _ = count_queries(client, "/pipelines/")
    create(world, 45, start=5)
    many, response = count_queries(client, "/pipelines/")
    assert few == many and len(response.context["object_list"]) == 50


def test_run_columns_and_last_run_by_me(client, world, django_assert_max_num_queries):
    """P1: the list shows each pipeline's last run (number, branch, trigger, who, stage states) with the same
    number of queries for few and many runs; "last run by me" filters on who started the last run."""
    from pipelines import services as pipeline_services
    from pipelines.runs.models import Run, StageRun

    def make(name, runner, runs):
        pipeline = pipeline_services.create_pipeline(world.users["developer"], world.project, {
            "name": name, "stages": [{"name": "Build", "tasks": [
                {"name": "c", "type": "build", "config": {"commands": "true"}}]}]})
        for number in range(1, runs + 1):
            run = Run.objects.create(pipeline=pipeline, number=number, state="succeeded", branch="main",
                                     triggered_by=world.users[runner], commit_id="abcdef1234567",
                                     started=started, finished=started + timedelta(seconds=95))
            StageRun.objects.create(run=run, index=0, name="Build", state="succeeded")
        return pipeline

    started = timezone.now() - timedelta(hours=1)
    make("mine-last", "tester", 3)
    client.force_login(world.users["tester"])
    url = f"/projects/{world.project.pk}/pipelines/"
    with django_assert_max_num_queries(30) as few:
        body = client.get(url).content.decode()
    assert "#3" in body and "abcdef12" in body and "tester" in body and 'state-succeeded' in body
    assert format_duration(started, started + timedelta(seconds=95)) in body  # the same duration as the history
    for i in range(6):
        make(f"other-{i}", "manager", 2)
    with django_assert_max_num_queries(30) as many:
        body = client.get(url + "?filter=last_run_by_me").content.decode()
    assert "mine-last" in body and "other-0" not in body
    assert len(few.captured_queries) == len(many.captured_queries)
