"""Templates REST API (API.md ``/api/v1/templates/``; SPEC M1–M3, R8): the permission matrix over every
route, system templates read-only (M1), custom CRUD by the owner, copy, follow, generate (M3) and bad input
answered in the API.md error format, never with a 500."""

import json

import pytest
from django.test import Client

from pipelines.models import Pipeline
from templates_app.models import PipelineTemplate, TemplateFollow
from tests.matrix import check_matrix, expect
from tests.test_templates_support import (  # noqa: F401 (fixtures)
    SIMPLE,
    custom,
    git_endpoint_fixture,
    git_source,
    other_custom,
    system,
    system_templates_loaded,
)

pytestmark = pytest.mark.django_db
BASE = "/api/v1/templates/"
ADDERS = {"creator": 201, "manager": 201, "developer": 201}  # may add pipelines (ADD_PIPELINE)


def api(world, actor="developer"):
    return Client(HTTP_X_AUTH_TOKEN=world.token(actor))


def send(client, method, url, body=None):
    return getattr(client, method)(
        url, data=json.dumps(body) if body is not None else None, content_type="application/json"
    )


# --------------------------------------------------------------------------- matrix


def test_matrix_list_and_create(world):
    check_matrix(world, "GET", BASE, expect(200, anonymous=401, outsider=200), api=True)
    check_matrix(
        world,
        "POST",
        BASE,
        expect(201, anonymous=401, outsider=201),
        api=True,
        data={"name": "Mine", "definition": SIMPLE},
    )


def test_matrix_system_template_is_read_only(world):
    """M1: everyone sees, copies, follows and generates from system templates; nobody edits or deletes them."""
    url = f"{BASE}{system('maven-kubernetes').pk}/"
    check_matrix(world, "GET", url, expect(200, anonymous=401, outsider=200), api=True)
    check_matrix(world, "PATCH", url, expect(403, anonymous=401, outsider=403), data={"name": "x"}, api=True)
    check_matrix(world, "DELETE", url, expect(403, anonymous=401, outsider=403), api=True)
    check_matrix(world, "POST", url + "copy/", expect(201, anonymous=401, outsider=201), api=True)
    check_matrix(world, "PUT", url + "follow/", expect(204, anonymous=401, outsider=204), api=True)
    check_matrix(world, "DELETE", url + "follow/", expect(204, anonymous=401, outsider=204), api=True)
    assert PipelineTemplate.objects.filter(system=True).count() == 5


def test_matrix_custom_template_owner_only(world):
    """A custom template shared with the project: members see it, only its owner (developer) changes it;
    a template of another project is invisible (404) to everyone here."""
    url, other = f"{BASE}{custom(world).pk}/", f"{BASE}{other_custom(world).pk}/"
    check_matrix(world, "GET", url, expect(200, anonymous=401), api=True, other_url=other)
    check_matrix(
        world,
        "PATCH",
        url,
        expect(403, anonymous=401, developer=200),
        data={"description": "d"},
        api=True,
        other_url=other,
    )
    check_matrix(world, "DELETE", url, expect(403, anonymous=401, developer=204), api=True, other_url=other)
    check_matrix(world, "POST", url + "copy/", expect(201, anonymous=401), api=True, other_url=other + "copy/")
    check_matrix(world, "PUT", url + "follow/", expect(204, anonymous=401), api=True, other_url=other + "follow/")


def test_matrix_generate(world, git_endpoint):
    """M3: needs the right to add pipelines in the project: viewer-like roles 403, not a member 404."""
    body = {"project": world.project.pk, "name": "generated", "sources": [git_source(git_endpoint)]}
    url, other = f"{BASE}{custom(world).pk}/generate/", f"{BASE}{other_custom(world).pk}/generate/"
    check_matrix(world, "POST", url, expect(403, anonymous=401, **ADDERS), data=body, api=True, other_url=other)
    system_url = f"{BASE}{system('python-ci').pk}/generate/"
    check_matrix(world, "POST", system_url, expect(403, anonymous=401, **ADDERS), data=body, api=True)
    assert not Pipeline.objects.exists()


# --------------------------------------------------------------------------- behaviour


def test_list_filters_and_search(world):
    client = api(world)
    mine = custom(world)
    TemplateFollow.objects.create(template=system("blank"), user=world.users["developer"])
    names = lambda response: [t["name"] for t in response.json()["results"]]  # noqa: E731
    everything = client.get(BASE).json()
    assert everything["count"] == 6 and everything["results"][0]["system"] is True
    assert "Team build" not in names(client.get(BASE + "?filter=system"))
    assert names(client.get(BASE + "?filter=custom")) == ["Team build"]
    assert names(client.get(BASE + "?filter=followed")) == ["Blank"]
    assert names(client.get(BASE + "?search=maven")) == ["Maven build → deploy to Kubernetes"]
    item = client.get(f"{BASE}{mine.pk}/").json()
    assert item["owner"] == "developer" and item["project"] == world.project.pk and item["can_change"] is True
    assert item["needs"] == {"kubernetes": False, "host_group": False}
    assert client.get(f"{BASE}{system('docker-image').pk}/").json()["needs"]["kubernetes"] is True
    response = client.get(BASE + "?filter=nope")
    assert response.status_code == 400 and response.json()["error_code"] == "TEMPLATES.4000"


def test_create_patch_delete_custom_template(world):
    client = api(world)
    created = send(
        client, "post", BASE, {"name": "CI", "description": "ours", "project": world.project.pk, "definition": SIMPLE}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["system"] is False and body["owner"] == "developer" and body["followed"] is False
    url = f"{BASE}{body['id']}/"
    patched = send(client, "patch", url, {"name": "CI 2", "project": None})
    assert patched.status_code == 200 and patched.json()["name"] == "CI 2" and patched.json()["project"] is None
    assert api(world, "creator").get(url).status_code == 404  # no longer shared with the project
    assert client.delete(url).status_code == 204
    assert not PipelineTemplate.objects.filter(pk=body["id"]).exists()


def test_definition_errors_carry_paths_and_r8(world):
    client = api(world)
    bad = {
        "name": "bad",
        "definition": {
            "parameters": [
                {"name": "hosts", "type": "host_group"},
                {"name": "t", "secret": True, "default": "abcdefgh"},
            ],
            "stages": [{"name": "S", "tasks": [{"name": "b", "type": "build", "config": {"source": "app"}}]}],
        },
    }
    response = send(client, "post", BASE, bad)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {
        "definition.parameters[0].type",
        "definition.parameters[1].secret",
        "definition.stages[0].tasks[0].config.commands",
    } <= set(errors)
    assert not PipelineTemplate.objects.filter(system=False).exists()


def test_copy_and_follow(world):
    client = api(world, "tester")
    template = system("host-group-deploy")
    copied = send(client, "post", f"{BASE}{template.pk}/copy/", {"name": "Our hosts", "project": world.project.pk})
    assert copied.status_code == 201 and copied.json()["owner"] == "tester" and copied.json()["name"] == "Our hosts"
    assert copied.json()["definition"]["stages"][0]["name"] == "Build"
    assert send(client, "put", f"{BASE}{template.pk}/follow/").status_code == 204
    assert client.get(f"{BASE}{template.pk}/").json()["followed"] is True
    assert client.delete(f"{BASE}{template.pk}/follow/").status_code == 204
    assert not TemplateFollow.objects.exists()


def test_generate_creates_a_pipeline_owned_by_the_caller(world, git_endpoint):
    client = api(world, "manager")
    body = {
        "project": world.project.pk,
        "name": "py",
        "sources": [git_source(git_endpoint)],
        "parameters": {"python": "3.13"},
    }
    response = send(client, "post", f"{BASE}{system('python-ci').pk}/generate/", body)
    assert response.status_code == 201, response.content
    data = response.json()
    pipeline = Pipeline.objects.get(pk=data["pipeline"])
    assert data == {
        "id": pipeline.pk,
        "pipeline": pipeline.pk,
        "project": world.project.pk,
        "name": "py",
        "url": f"/projects/{world.project.pk}/pipelines/{pipeline.pk}/",
    }
    assert pipeline.creator == world.users["manager"]
    assert {p["name"]: p["default"] for p in pipeline.definition["parameters"]}["python"] == "3.13"
    assert [s["name"] for s in pipeline.definition["stages"]] == ["Check", "API test", "Package"]
    again = send(client, "post", f"{BASE}{system('python-ci').pk}/generate/", body)
    assert again.status_code == 400 and "name" in again.json()["errors"]


def test_generate_deploy_template_needs_its_endpoint(world, git_endpoint):
    body = {"project": world.project.pk, "name": "k8s", "sources": [git_source(git_endpoint)]}
    response = send(api(world), "post", f"{BASE}{system('maven-kubernetes').pk}/generate/", body)
    assert response.status_code == 400
    assert "stages[1].tasks[0].config.endpoint" in response.json()["errors"]


def test_create_from_pipeline(world):
    from pipelines import services as pipeline_services

    pipeline = pipeline_services.create_pipeline(
        world.users["creator"],
        world.project,
        {
            "name": "svc",
            "stages": [{"name": "Build", "tasks": [{"name": "b", "type": "build", "config": {"commands": "make"}}]}],
        },
    )
    response = send(api(world, "viewer"), "post", BASE, {"name": "From svc", "pipeline": pipeline.pk})
    assert response.status_code == 201 and response.json()["definition"]["stages"][0]["name"] == "Build"
    for value in (10**20, "x", other := None):
        response = send(api(world, "outsider"), "post", BASE, {"name": "x", "pipeline": value or pipeline.pk})
        assert response.status_code == 400 and "pipeline" in response.json()["errors"], other


# --------------------------------------------------------------------------- bad input: never a 500


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("post", "", []),
        ("post", "", "text"),
        ("post", "", {"name": ["x"]}),
        ("post", "", {"name": "x", "definition": "stages: []"}),
        ("post", "", {"name": "x", "definition": {"stages": [{"tasks": [{"config": []}]}]}}),
        ("post", "", {"name": "x", "project": {"id": 1}}),
        ("post", "", {"name": "x", "owner": "someone"}),
        ("post", "", {"name": "\x00"}),
        ("patch", "{custom}/", {"definition": None}),
        ("patch", "{custom}/", {"project": 10**40}),
        ("patch", "{custom}/", {"pipeline": 1}),
        ("post", "{custom}/copy/", {"name": 5}),
        ("post", "{custom}/copy/", {"project": "x"}),
        ("post", "{system}/generate/", {}),
        ("post", "{system}/generate/", {"project": "1e3", "name": "x"}),
        ("post", "{system}/generate/", {"project": 10**30, "name": "x"}),
        ("post", "{system}/generate/", {"project": "{project}", "name": "x", "sources": [1, "a", None]}),
        ("post", "{system}/generate/", {"project": "{project}", "name": "x", "sources": {"kind": "git"}}),
        ("post", "{system}/generate/", {"project": "{project}", "name": "x", "parameters": {"python": [1]}}),
        ("post", "{system}/generate/", {"project": "{project}", "name": "x", "deploy": {"cluster": 1}}),
        ("post", "{system}/generate/", {"project": "{project}", "name": ["x"]}),
        ("post", "{system}/generate/", {"project": "{project}", "name": "x", "extra": 1}),
        ("post", "{system}/generate/", ["project"]),
    ],
)
def test_bad_input_is_a_4xx_in_the_api_format(world, method, path, body):
    template = custom(world)
    url = BASE + path.format(custom=template.pk, system=system("python-ci").pk)
    if isinstance(body, dict):
        body = {k: (world.project.pk if v == "{project}" else v) for k, v in body.items()}
    response = send(api(world), method, url, body)
    assert 400 <= response.status_code < 500, (response.status_code, response.content)
    data = response.json()
    assert data["error_code"].startswith("TEMPLATES.") and data["error_msg"]


def test_odd_requests_are_not_500(world):
    client = api(world)
    assert client.get(f"{BASE}{10**25}/").status_code == 404
    assert client.get(BASE + "?page=999").status_code == 404
    assert client.get(BASE + "?search=" + "x" * 500).status_code == 400
    assert client.post(BASE, data="name=x", content_type="application/x-www-form-urlencoded").status_code == 415
    assert client.post(BASE, data="{not json", content_type="application/json").status_code == 400
    assert client.put(f"{BASE}{system('blank').pk}/").status_code == 405
