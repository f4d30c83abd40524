"""Pipelines through the REST API (API.md "Resources", "Pipeline definition"; SPEC P1–P8, R1–R9, I3).

Every response of every test goes through ``api``, which fails the test if a body ever carries a
planted secret parameter value (R4). Helpers here are shared by ``test_pipelines_api_*.py``.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.models import UserObjectPermission

from devops_console.core.models import Membership, Role
from pipelines import services
from pipelines.models import (
    Host,
    HostGroup,
    Pipeline,
    PipelineFollow,
    PipelinePersonPermission,
    PipelineRolePermission,
    PipelineSecret,
    PipelineUserObjectPermission,
    PipelineVersion,
)

pytestmark = pytest.mark.django_db

SECRET = "planted-Secret-4711"


class Api:
    """Calls the API as a world actor and remembers every response body for the R4 check."""

    def __init__(self, world, client):
        self.world, self.client, self.bodies, self.secrets = world, client, [], {SECRET}

    def __call__(self, actor, method, url, data=None, raw=None, content_type="application/json"):
        kwargs = {"HTTP_X_AUTH_TOKEN": self.world.token(actor)}
        if data is not None or raw is not None:
            kwargs.update(data=raw if raw is not None else json.dumps(data), content_type=content_type)
        elif method.lower() in ("post", "put", "patch"):  # no body at all (the test client would send a form)
            kwargs.update(data="", content_type=content_type)
        response = getattr(self.client, method.lower())(url, **kwargs)
        self.bodies.append(response.content.decode(errors="replace"))
        return response

    def plant(self, *values):
        self.secrets.update(values)

    def assert_no_secret(self):
        leaks = [(secret, body[:200]) for body in self.bodies for secret in self.secrets if secret in body]
        assert not leaks, f"a response carried a secret: {leaks[:3]}"


@pytest.fixture(name="api")
def api_fixture(world, client):
    caller = Api(world, client)
    yield caller
    caller.assert_no_secret()


def definition(name="web-app", **extra) -> dict:
    """A realistic small definition: a secret and an auto-increment parameter, build and deploy stages."""
    return {
        "name": name,
        "description": "Builds the web app",
        "parameters": [
            {"name": "releaseversion", "type": "auto_increment", "default": "1.0.0", "runtime": True},
            {"name": "token", "type": "string", "default": SECRET, "secret": True},
            {"name": "env", "type": "enum", "choices": "dev,prod", "default": "dev"},
        ],
        "stages": [
            {
                "name": "Build",
                "tasks": [
                    {
                        "name": "compile",
                        "type": "build",
                        "config": {"commands": "make TOKEN=${token}", "artifacts": ["dist/*"], "package": "web-app",
                                   "version": "${releaseversion}"},
                    }
                ],
            },
            {"name": "Deploy", "tasks": [{"name": "wait", "type": "delay", "config": {"seconds": 5}}]},
        ],
        **extra,
    }  # fmt: skip


def plist(world, project=None) -> str:
    return f"/api/v1/projects/{(project or world.project).pk}/pipelines/"


def purl(pipeline, suffix="") -> str:
    return f"/api/v1/projects/{pipeline.project_id}/pipelines/{pipeline.pk}/{suffix}"


def make(world, actor="creator", project=None, **kwargs) -> Pipeline:
    return services.create_pipeline(world.users[actor], project or world.project, definition(**kwargs))


def snapshot():
    """Everything a refused or invalid request must leave alone."""
    return (
        list(Pipeline.objects.order_by("pk").values_list("pk", "name", "version", "definition", "creator_id")),
        list(PipelineVersion.objects.order_by("pk").values_list("pk", "number")),
        list(PipelineSecret.objects.order_by("pk").values_list("pk", "value")),
        list(PipelineRolePermission.objects.order_by("pk").values_list("pk", "view", "execute", "modify", "delete")),
        list(PipelinePersonPermission.objects.order_by("pk").values_list("pk", "user_id", "execute", "modify")),
        list(PipelineUserObjectPermission.objects.order_by("pk").values_list("pk", "user_id", "permission_id")),
        UserObjectPermission.objects.count(),
        list(PipelineFollow.objects.order_by("pk").values_list("pk", "user_id")),
        list(HostGroup.objects.order_by("pk").values_list("pk", "name", "description")),
        list(Host.objects.order_by("pk").values_list("pk", "address", "port", "ssh_user", "credential_id")),
    )


# --- list (P1) ----------------------------------------------------------------------------------


def test_list_items_filters_and_search(api, world):
    """P1: items carry id, name, project, description, creator, created, updated, version, following,
    last_run; filters all / mine / last_run_by_me (no runs yet) and search by name."""
    mine = make(world, "developer", name="api-gateway")
    make(world, "creator", name="web-app")
    make(world, "other_creator", project=world.other_project, name="api-other")
    api("developer", "put", purl(mine, "follow/"))
    body = api("developer", "get", plist(world)).json()
    assert body["count"] == 2 and [p["name"] for p in body["results"]] == ["api-gateway", "web-app"]
    item = body["results"][0]
    assert set(item) >= {"id", "name", "project", "description", "creator", "created", "updated", "version",
                         "following", "last_run"}  # fmt: skip
    assert item["project"] == {"id": world.project.pk, "name": "Alpha"} and item["creator"] == "developer"
    assert item["following"] is True and body["results"][1]["following"] is False and item["last_run"] is None
    assert "stages" not in item and SECRET not in json.dumps(body)
    names = lambda query: [p["name"] for p in api("developer", "get", plist(world) + query).json()["results"]]  # noqa: E731
    assert names("?filter=mine") == ["api-gateway"]
    assert names("?filter=last_run_by_me") == []
    assert names("?search=GATE") == ["api-gateway"] and names("?search=api") == ["api-gateway"]
    assert names("?filter=all&page_size=1") == ["api-gateway"]


@pytest.mark.parametrize("query", ["?filter=bogus", "?search=" + "x" * 101, "?search=a%00b", "?filter=%00"])
def test_bad_list_queries_are_400(api, world, query):
    response = api("developer", "get", plist(world) + query)
    assert response.status_code == 400 and response.json()["error_code"] == "PIPELINES.4000", response.content


def _bulk(world, count, start=0):
    creator = world.users["developer"]
    pipelines = Pipeline.objects.bulk_create(
        [Pipeline(project=world.project, name=f"p{start + i:04d}", creator=creator, definition=definition(f"p{i}"))
         for i in range(count)]
    )  # fmt: skip
    PipelineFollow.objects.bulk_create([PipelineFollow(pipeline=p, user=creator) for p in pipelines[::2]])


def test_list_query_count_is_constant(api, world, django_assert_num_queries):
    """The list uses the same number of queries for 5 and for 50 pipelines (following via Exists,
    project and creator via select_related, no definition loaded)."""
    url = plist(world) + "?page_size=100"
    api("developer", "get", url)  # warm-up: the token's last_used_at write happens once
    _bulk(world, 5)
    with CaptureQueriesContext(connection) as five:
        assert len(api("developer", "get", url).json()["results"]) == 5
    _bulk(world, 45, start=5)
    with django_assert_num_queries(len(five.captured_queries)):
        body = api("developer", "get", url).json()
    assert len(body["results"]) == 50 and sum(p["following"] for p in body["results"]) == 3 + 23
    assert len(five.captured_queries) <= 5, [q["sql"] for q in five.captured_queries]


# --- create, read, update, delete (P2, P4, P8) --------------------------------------------------


def test_create_and_get_full_definition_without_secret(api, world):
    """P2 and R4: the full definition comes back with id/version/creator; a secret shows value_set."""
    response = api("developer", "post", plist(world), definition())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["version"] == 1 and body["creator"] == "developer" and body["name"] == "web-app"
    got = api("tester", "get", purl(Pipeline.objects.get(pk=body["id"]))).json()
    token = next(p for p in got["parameters"] if p["name"] == "token")
    assert token["value_set"] is True and token["default"] == ""
    assert set(got) >= {"sources", "parameters", "stages", "triggers", "notifications", "id", "version"}
    assert got["stages"][0]["tasks"][0]["config"]["commands"] == "make TOKEN=${token}"
    assert PipelineSecret.objects.get(name="token").value == SECRET


def test_put_replaces_and_patch_merges(api, world):
    """P4: PUT replaces the definition (a GET body can be sent back: the secret is kept); PATCH merges
    top-level keys; each save is a new version."""
    pipeline = make(world)
    body = api("developer", "get", purl(pipeline)).json()
    body["description"] = "changed"
    response = api("developer", "put", purl(pipeline), body)
    assert response.status_code == 200 and response.json()["version"] == 2, response.content
    response = api("developer", "patch", purl(pipeline), {"stages": [], "parameters": []})
    assert response.status_code == 200 and response.json()["stages"] == []
    assert response.json()["description"] == "changed" and response.json()["version"] == 3
    assert not PipelineSecret.objects.exists()  # the secret parameter is gone, so is its value
    response = api("developer", "put", purl(pipeline), {"name": "web-app"})
    assert response.status_code == 200 and response.json()["description"] == ""


def test_put_with_a_stale_version_is_409(api, world):
    """A version sent back must still be the latest: no lost update."""
    pipeline = make(world)
    body = api("developer", "get", purl(pipeline)).json()
    api("manager", "patch", purl(pipeline), {"description": "manager was here"})
    before = snapshot()
    response = api("developer", "put", purl(pipeline), {**body, "description": "mine"})
    assert response.status_code == 409 and response.json()["version"] == 2
    assert api("developer", "patch", purl(pipeline), {"version": "2"}).status_code == 400
    assert snapshot() == before


def test_delete_defaults_p8(api, world):
    """P8: by default only the project manager and the creators (project, pipeline) delete."""
    theirs, own = make(world, "creator"), make(world, "developer", name="own")
    assert api("developer", "delete", purl(theirs)).status_code == 403
    assert api("developer", "delete", purl(own)).status_code == 204  # pipeline creator (A5)
    assert api("manager", "delete", purl(theirs)).status_code == 204
    assert not Pipeline.objects.exists()


# --- copy (P3), follow (N2) ---------------------------------------------------------------------


def test_copy_p3(api, world):
    """P3: copy keeps the definition and the secret values; the caller is the new creator; names
    get “ - copy”, “ - copy (2)”; an explicit name is validated like any other."""
    original = make(world, "creator")
    response = api("developer", "post", purl(original, "copy/"))
    assert response.status_code == 201, response.content
    copy = response.json()
    assert copy["name"] == "web-app - copy" and copy["creator"] == "developer" and copy["version"] == 1
    assert copy["stages"] == api("developer", "get", purl(original)).json()["stages"]
    assert PipelineSecret.objects.get(pipeline_id=copy["id"]).value == SECRET
    assert api("manager", "post", purl(original, "copy/"), {}).json()["name"] == "web-app - copy (2)"
    named = api("developer", "post", purl(original, "copy/"), {"name": "hotfix"})
    assert named.status_code == 201 and named.json()["name"] == "hotfix"
    before = snapshot()
    for body in ({"name": "HOTFIX"}, {"name": 5}, {"name": "x" * 101}, {"colour": "red"}, []):
        response = api("developer", "post", purl(original, "copy/"), body)
        assert response.status_code == 400, (body, response.content)
    assert api("tester", "post", purl(original, "copy/")).status_code == 403  # may view, may not add
    assert snapshot() == before


def test_follow_and_unfollow(api, world):
    pipeline = make(world)
    assert api("viewer", "put", purl(pipeline, "follow/")).json() == {"following": True}
    assert api("viewer", "put", purl(pipeline, "follow/")).status_code == 200  # idempotent
    assert api("viewer", "get", purl(pipeline)).json()["following"] is True
    assert api("tester", "get", purl(pipeline)).json()["following"] is False
    assert api("viewer", "delete", purl(pipeline, "follow/")).status_code == 204
    assert not PipelineFollow.objects.exists()


# --- versions and restore -----------------------------------------------------------------------


def test_versions_diff_and_restore(api, world):
    """Configuration history: list (newest first), one version with a readable diff, restore."""
    pipeline = make(world)
    api("developer", "patch", purl(pipeline), {"description": "second"})
    versions = api("viewer", "get", purl(pipeline, "versions/")).json()
    assert versions["count"] == 2 and [v["number"] for v in versions["results"]] == [2, 1]
    assert set(versions["results"][0]) == {"number", "author", "created", "summary"}
    assert versions["results"][0]["author"] == "developer"
    detail = api("viewer", "get", purl(pipeline, "versions/2/")).json()
    assert "+description: second" in detail["diff"] and detail["definition"]["description"] == "second"
    assert SECRET not in json.dumps(detail)
    restored = api("developer", "post", purl(pipeline, "versions/1/restore/"))
    assert restored.status_code == 200 and restored.json()["version"] == 3
    assert restored.json()["description"] == "Builds the web app"
    assert PipelineSecret.objects.get(pipeline=pipeline).value == SECRET
    assert api("viewer", "get", purl(pipeline, "versions/9/")).status_code == 404
    assert api("developer", "post", purl(pipeline, "versions/9/restore/")).status_code == 404


# --- definition rules through the API (R1–R9) -----------------------------------------------------


def _with_parameter(**parameter):
    return definition(parameters=[parameter], stages=[])


RULES = [
    ("R5 enum default outside choices", _with_parameter(name="env", type="enum", choices="dev,prod", default="qa"),
     "parameters[0].default", "one of the choices"),
    ("R4 secret shorter than 6", _with_parameter(name="pw", type="string", secret=True, default="abc12"),
     "parameters[0].default", "at least 6"),
    ("R2 system parameter name", _with_parameter(name="PIPELINE_ID", default="1"), "parameters[0].name",
     "system parameter"),
    ("R2 fixed system name", _with_parameter(name="COMMIT_ID"), "parameters[0].name", "system parameter"),
    ("R7 unknown host group", _with_parameter(name="hosts", type="host_group", default="web"),
     "parameters[0].default", "host group"),
    ("R1 unknown type", _with_parameter(name="n", type="number"), "parameters[0].type", "string, enum"),
]  # fmt: skip


@pytest.mark.parametrize("label, body, path, text", RULES, ids=[r[0] for r in RULES])
def test_parameter_rules(api, world, label, body, path, text):
    before = snapshot()
    response = api("developer", "post", plist(world), body)
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert path in errors and text in " ".join(errors[path]), errors
    assert "abc12" not in response.content.decode()  # a refused secret is not echoed either
    assert snapshot() == before


def test_unknown_reference_names_stage_and_task(api, world):
    """R3: ``${x}`` must be a parameter; the error path and message name the stage and the task."""
    body = definition()
    body["stages"][1]["tasks"].append({"name": "ship", "type": "build", "config": {"commands": "deploy ${nope}"}})
    response = api("developer", "post", plist(world), body)
    assert response.status_code == 400
    message = " ".join(response.json()["errors"]["stages[1].tasks[1].config.commands"])
    assert "${nope}" in message and "Deploy" in message and "ship" in message


def test_r9_task_parameter_and_reference(api, world):
    """R9: a task declares its own runtime parameter and references it; it may not shadow a pipeline one."""
    body = definition()
    body["stages"][0]["tasks"][0]["parameters"] = [{"name": "target", "type": "enum", "choices": "a,b"}]
    body["stages"][0]["tasks"][0]["config"]["commands"] = "make ${target}"
    assert api("developer", "post", plist(world), body).status_code == 201
    body["name"], body["stages"][0]["tasks"][0]["parameters"] = "other", [{"name": "env"}]
    response = api("developer", "post", plist(world), body)
    assert "stages[0].tasks[0].parameters[0].name" in response.json()["errors"]


def test_validation_error_paths(api, world):
    """Validation errors → 400 with the definition paths as ``errors`` keys."""
    body = definition()
    body["stages"][1]["tasks"][0] = {"name": "x", "type": "build", "config": {"commands": ""}}
    response = api("developer", "post", plist(world), body)
    assert response.status_code == 400 and response.json()["error_code"] == "PIPELINES.4000"
    assert "stages[1].tasks[0].config.commands" in response.json()["errors"]


def test_duplicate_name_is_400(api, world):
    make(world)
    response = api("developer", "post", plist(world), definition(name="WEB-APP"))
    assert response.status_code == 400 and "name" in response.json()["errors"]


def test_membership_roles_are_the_a1_defaults(world):
    """The matrix relies on the world's roles (one member per role)."""
    assert {m.role for m in Membership.objects.filter(project=world.project)} == set(Role.values)


def test_list_carries_the_last_run_and_filters_by_who_ran_it(world, client):
    """P1 through the API: ``last_run`` (number, state, branch, commit, trigger, who, stages) and
    ``?filter=last_run_by_me``."""
    from pipelines import services as pipeline_services
    from pipelines.runs.models import Run, StageRun

    pipeline = pipeline_services.create_pipeline(world.users["developer"], world.project, {"name": "ran"})
    pipeline_services.create_pipeline(world.users["developer"], world.project, {"name": "idle"})
    run = Run.objects.create(pipeline=pipeline, number=1, state="failed", branch="main", commit_id="abc123",
                             triggered_by=world.users["tester"])
    StageRun.objects.create(run=run, index=0, name="Build", state="failed")
    url = f"/api/v1/projects/{world.project.pk}/pipelines/"
    items = {p["name"]: p for p in client.get(url, HTTP_X_AUTH_TOKEN=world.token("tester")).json()["results"]}
    assert items["idle"]["last_run"] is None
    last = items["ran"]["last_run"]
    assert (last["number"], last["state"], last["branch"], last["triggered_by"]) == (1, "failed", "main", "tester")
    assert last["stages"] == [{"name": "Build", "state": "failed"}]
    mine = client.get(url + "?filter=last_run_by_me", HTTP_X_AUTH_TOKEN=world.token("tester")).json()
    assert [p["name"] for p in mine["results"]] == ["ran"]
    theirs = client.get(url + "?filter=last_run_by_me", HTTP_X_AUTH_TOKEN=world.token("viewer")).json()
    assert theirs["count"] == 0
