"""P1: the pipeline list costs the same number of queries for 5 and 50 rows (rights and the follow state
are annotations of the page query; nothing is fetched per row)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pipelines import services
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
