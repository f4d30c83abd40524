"""Holes found in review, each closed at the shared enforcement point and pinned here."""

import pytest

from pipelines import permissions as perms
from pipelines import services
from pipelines.models import Pipeline, PipelineSecret

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline(world):
    return services.create_pipeline(
        world.users["manager"],
        world.project,
        {"name": "p", "parameters": [{"name": "token", "type": "string", "default": "s3cret-Value", "secret": True}]},
    )


def deletable_by(world, actor, pipeline):
    return Pipeline.objects.restrict(world.users[actor], "delete").filter(pk=pipeline.pk).exists()


def test_modify_cannot_grant_delete_on_the_page(client, world, pipeline):
    """A1/A4: a developer (modify, no delete) cannot give the developer role delete — page toggle and full save."""
    client.force_login(world.users["developer"])
    base = f"/projects/{world.project.pk}/pipelines/{pipeline.pk}/settings/permissions/"
    toggle = client.post(
        base + "toggle/",
        {"kind": "role", "key": "developer", "flag": "delete", "role-developer-delete": "on"},
        HTTP_HX_REQUEST="true",
    )
    assert toggle.status_code == 403
    assert not deletable_by(world, "developer", pipeline)


def test_modify_cannot_grant_delete_through_the_api(client, world, pipeline):
    response = client.put(
        f"/api/v1/projects/{world.project.pk}/pipelines/{pipeline.pk}/permissions/",
        {"roles": {"developer": {"delete": True}}},
        content_type="application/json",
        HTTP_X_AUTH_TOKEN=world.token("developer"),
    )
    assert response.status_code == 403 and not deletable_by(world, "developer", pipeline)


def test_service_refuses_delete_grant_for_a_user_without_delete(world, pipeline):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        perms.set_permissions(pipeline, roles={"tester": {"delete": True}}, actor=world.users["developer"])
    perms.set_permissions(pipeline, roles={"tester": {"delete": True}}, actor=world.users["manager"])
    assert deletable_by(world, "tester", pipeline)


def test_api_copy_needs_modify_like_the_page(client, world, pipeline):
    """P3: a copy keeps the stored secret values, so viewing is not enough (tester may view and execute)."""
    response = client.post(
        f"/api/v1/projects/{world.project.pk}/pipelines/{pipeline.pk}/copy/",
        {},
        content_type="application/json",
        HTTP_X_AUTH_TOKEN=world.token("tester"),
    )
    assert response.status_code == 403
    assert PipelineSecret.objects.count() == 1


WEIRD = ["²", "abc", "-1", "1e3", "9" * 40]


@pytest.mark.parametrize("value", WEIRD)
def test_numbers_in_urls_and_bodies_never_500(client, world, value):
    """Bad input: non-ASCII digits and other junk in query strings and bodies answer 4xx (or a default), never 500."""
    from django.urls import reverse

    pipeline = services.create_pipeline(
        world.users["manager"],
        world.project,
        {
            "name": "w",
            "stages": [{"name": "S", "tasks": [{"name": "t", "type": "build", "config": {"commands": "true"}}]}],
        },
    )
    client.force_login(world.users["manager"])
    pid, ppk = world.project.pk, pipeline.pk
    assert client.get(f"/pipelines/new/?project={value}").status_code == 404
    assert client.get(reverse("run-history", args=[pid, ppk]) + f"?days={value}").status_code == 200
    workflow = reverse("pipeline-workflow-stage-edit", args=[pid, ppk, 0])
    assert client.post(workflow, {"version": value, "name": "S2"}).status_code < 500
    gates = reverse("pipeline-workflow-gates", args=[pid, ppk, 0])
    assert client.post(gates, {"version": str(pipeline.version), "templates": value}).status_code < 500
    api = client.post(
        f"/api/v1/projects/{pid}/host-groups/",
        {"name": "g", "hosts": [{"address": "10.0.0.1", "port": value, "ssh_user": "u"}]},
        content_type="application/json",
        HTTP_X_AUTH_TOKEN=world.token("manager"),
    )
    assert api.status_code == 400


def test_fresh_run_never_turns_an_old_secret_into_a_plain_parameter(world):
    """R4: a runtime secret given to run #1 is not carried into a fresh run once the parameter is no
    longer secret (it would be stored in clear and shown to every viewer)."""
    from pipelines.runs.actions import fresh_run_kwargs
    from pipelines.runs.models import Run, RunSecret

    pipeline = services.create_pipeline(
        world.users["manager"],
        world.project,
        {
            "name": "f",
            "parameters": [
                {"name": "token", "type": "string", "default": "initial-Secret", "secret": True, "runtime": True}
            ],
        },
    )
    run = Run.objects.create(pipeline=pipeline, number=1, state="succeeded")
    RunSecret.objects.create(run=run, name="token", value="given-Secret-123")
    assert fresh_run_kwargs(run, pipeline.definition)["parameters"] == {"token": "given-Secret-123"}
    changed = {
        **pipeline.definition,
        "parameters": [{"name": "token", "type": "string", "default": "", "secret": False, "runtime": True}],
    }
    assert fresh_run_kwargs(run, changed)["parameters"] == {}


def test_credential_usage_never_names_endpoints_the_user_cannot_see(client, world):
    """E3: a shared credential used by the creator's private endpoint: the developer sees a count, not its name."""
    from endpoints import services as endpoint_services

    shared = endpoint_services.create_credential(
        world.users["developer"],
        world.project,
        {"name": "robot", "kind": "username_password", "identity": "u", "secret": "pw-123456", "shared": True},
    )
    endpoint_services.create_endpoint(
        world.users["creator"],
        world.project,
        {"name": "creators-private-ep", "type": "docker_registry", "url": "https://r.example", "credential": shared.pk},
    )
    client.force_login(world.users["developer"])
    edit = client.get(f"/projects/{world.project.pk}/settings/credentials/{shared.pk}/edit/")
    assert edit.status_code == 200 and "creators-private-ep" not in edit.content.decode()
    api = client.delete(
        f"/api/v1/projects/{world.project.pk}/credentials/{shared.pk}/", HTTP_X_AUTH_TOKEN=world.token("developer")
    )
    assert api.status_code == 409 and "creators-private-ep" not in api.content.decode()
    assert "1 endpoint(s) you cannot see" in api.content.decode()


@pytest.mark.parametrize("resource", ["endpoints", "credentials"])
def test_endpoint_and_credential_lists_use_constant_queries(client, world, django_assert_max_num_queries, resource):
    """Lists cost the same number of queries for 2 and 12 rows (custom members, usage, hidden counts)."""
    from endpoints import services as endpoint_services

    def add(n):
        for i in range(n):
            endpoint_services.create_endpoint(
                world.users["manager"],
                world.project,
                {
                    "name": f"{resource}-{n}-{i}",
                    "type": "docker_registry",
                    "url": "https://r.example",
                    "username": "u",
                    "password": "pw-123456",
                    "scope": "custom",
                    "members": ["tester", "viewer"],
                },
            )

    url = f"/api/v1/projects/{world.project.pk}/{resource}/?page_size=100"
    token = world.token("manager")
    client.get("/api/v1/projects/", HTTP_X_AUTH_TOKEN=token)  # the token's first use records last_used_at
    add(2)
    with django_assert_max_num_queries(40) as few:
        assert client.get(url, HTTP_X_AUTH_TOKEN=token).json()["count"] == 2
    add(10)
    with django_assert_max_num_queries(40) as many:
        body = client.get(url, HTTP_X_AUTH_TOKEN=token).json()
    assert body["count"] == 12 and len(few.captured_queries) == len(many.captured_queries)
    if resource == "endpoints":
        assert body["results"][0]["members"] == ["tester", "viewer"]


def test_ssh_key_credential_pages_work(client, world):
    """R7 host groups log in with SSH keys: the credential pages offer that kind without errors."""
    client.force_login(world.users["manager"])
    response = client.get(f"/projects/{world.project.pk}/settings/credentials/new/?kind=ssh_key")
    assert response.status_code == 200 and b"private" in response.content.lower()


def test_empty_log_write_lets_a_partial_line_through():
    """X2: a command that printed half a line and went quiet shows it within about a second."""
    from pipelines.runs.logs import LogWriter

    class FakeTask:
        pk, log_size, attempt = None, 0, 0

    clock = [0.0]
    writer = LogWriter(FakeTask(), clock=lambda: clock[0])
    stored = []
    writer.flush = lambda final=False: stored.append("".join(writer._ready)) or writer._ready.clear()
    writer.write("progress: 50%")
    clock[0] = 1.0
    writer.write("")
    assert stored == ["progress: 50%"]
