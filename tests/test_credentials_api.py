"""Credentials through the REST API (SPEC E4, E5, E8; API.md credentials resources).

Every response goes through ``api`` (tests/test_endpoints_api.py), which fails the test if a body
ever carries a planted secret (E5).
"""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType

from devops_console.core.models import Project
from endpoints import services
from endpoints.models import Credential, EndpointUsage, ServiceEndpoint
from tests.matrix import check_matrix, expect
from tests.test_endpoints_api import KUBECONFIG, api_fixture, base, snapshot  # noqa: F401 - the api fixture

pytestmark = pytest.mark.django_db

SECRET = "cred-Planted-secret-1"
FIELDS = {
    "id",
    "name",
    "kind",
    "identity",
    "shared",
    "owner",
    "expires_at",
    "secret_set",
    "secret_updated_at",
    "last_verified_at",
    "last_used_at",
    "created",
    "updated",
    "usage",
}


def cbase(world, project=None):
    return f"/api/v1/projects/{(project or world.project).pk}/credentials/"


def make(api, actor="developer", **extra) -> dict:
    data = {"name": "robot", "kind": "username_password", "identity": "robot", "secret": SECRET, **extra}
    api.plant(data["secret"])
    response = api(actor, "post", cbase(api.world), data)
    assert response.status_code == 201, response.content
    return response.json()


def endpoint_with(api, actor, credential_id, name, url="https://registry.example.com", **extra) -> dict:
    data = {"name": name, "type": "docker_registry", "url": url, "credential": credential_id, **extra}
    response = api(actor, "post", base(api.world), data)
    assert response.status_code == 201, response.content
    return response.json()


def test_create_and_read(api, world):
    """E4/E5: a credential answers with its metadata and ``secret_set``, never the secret."""
    body = make(api, expires_at="2099-12-31", shared=True)
    assert set(body) == FIELDS
    assert body["owner"] == "developer" and body["kind"] == "username_password" and body["identity"] == "robot"
    assert body["secret_set"] is True and body["secret_updated_at"] and body["expires_at"] == "2099-12-31"
    assert body["usage"] == {"endpoints": [], "pipelines": [], "hidden_endpoints": 0}
    assert api("viewer", "get", f"{cbase(world)}{body['id']}/").json() == body
    assert Credential.objects.get(pk=body["id"]).secret == SECRET


def test_list_shows_mine_shared_and_all_for_admins(api, world):
    """E4: members see their own and shared credentials; the project's creator and managers see all."""
    make(api, "developer", name="dev-private")
    make(api, "tester", name="tester-shared", shared=True)
    make(api, "tester", name="tester-kube", kind="kubeconfig", identity="", secret=KUBECONFIG)

    def names(actor, query=""):
        return [c["name"] for c in api(actor, "get", cbase(world) + query).json()["results"]]

    assert names("developer") == ["dev-private", "tester-shared"]
    assert names("viewer") == ["tester-shared"]
    assert names("manager") == ["dev-private", "tester-kube", "tester-shared"]
    assert names("manager", "?kind=kubeconfig") == ["tester-kube"]
    assert api("manager", "get", cbase(world) + "?kind=x").status_code == 400


@pytest.mark.slow
def test_replacing_a_shared_secret_repairs_every_endpoint(api, world, docker_registry):
    """E4: one credential shared by two endpoints; replacing its secret on the credential makes both
    verify 0 against the real registry at once."""
    api.plant(docker_registry.password)
    credential = make(api, "developer", identity=docker_registry.username, secret="stale-Planted-pw", shared=True)
    first = endpoint_with(api, "developer", credential["id"], "first", docker_registry.url)
    second = endpoint_with(api, "tester", credential["id"], "second", docker_registry.url, scope="public")

    def statuses():
        return [
            api(actor, "post", f"{base(world)}{e['id']}/verify/").json()["status"]
            for actor, e in (("developer", first), ("tester", second))
        ]

    assert statuses() == [2, 2]
    response = api("developer", "patch", f"{cbase(world)}{credential['id']}/", {"secret": docker_registry.password})
    assert response.status_code == 200, response.content
    assert response.json()["secret_updated_at"] > credential["secret_updated_at"]
    assert statuses() == [0, 0]
    assert api("developer", "get", f"{cbase(world)}{credential['id']}/").json()["last_verified_at"]
    kept = api("developer", "patch", f"{cbase(world)}{credential['id']}/", {"secret": "", "name": "registry"})
    assert kept.json()["secret_updated_at"] == response.json()["secret_updated_at"]  # E5: empty keeps
    assert statuses() == [0, 0]


def test_usage_lists_endpoints_and_pipelines(api, world):
    """E4/E8: ``usage`` names the endpoints the caller may see and the pipelines they reach."""
    credential = make(api, "manager", shared=True)
    public = endpoint_with(api, "developer", credential["id"], "public-one", scope="public")
    endpoint_with(api, "developer", credential["id"], "private-one")
    EndpointUsage.objects.create(
        endpoint_id=public["id"],
        content_type=ContentType.objects.get_for_model(Project),
        object_id=world.project.pk,
        label="web-app › Build › compile",
    )
    url = f"{cbase(world)}{credential['id']}/"
    usage = api("manager", "get", url).json()["usage"]
    assert [e["name"] for e in usage["endpoints"]] == ["private-one", "public-one"]
    assert usage["pipelines"] == ["web-app › Build › compile"] and usage["hidden_endpoints"] == 0
    seen_by_viewer = api("viewer", "get", url).json()["usage"]
    assert [e["name"] for e in seen_by_viewer["endpoints"]] == ["public-one"]
    assert seen_by_viewer["hidden_endpoints"] == 1


def test_delete_used_credential_is_refused(api, world):
    """E8 for credentials: deleting one that endpoints use → 409 with the list; allowed afterwards."""
    credential = make(api, "developer", shared=True)
    endpoint = endpoint_with(api, "developer", credential["id"], "reg")
    url = f"{cbase(world)}{credential['id']}/"
    response = api("developer", "delete", url)
    assert response.status_code == 409
    body = response.json()
    assert body["error_code"] == "ENDPOINTS.4090" and body["usages"] == [
        {"label": "reg", "endpoint_id": endpoint["id"]}
    ]
    assert api("developer", "delete", f"{base(world)}{endpoint['id']}/").status_code == 204
    assert Credential.objects.filter(pk=credential["id"]).exists()  # shared: stays after its endpoint
    assert api("developer", "delete", url).status_code == 204
    assert not Credential.objects.filter(pk=credential["id"]).exists()


def test_endpoint_cannot_change_someone_elses_credential(api, world):
    """E4: an endpoint on a shared credential cannot replace that credential's secret or identity;
    only its owner or a project manager may (on the credential)."""
    credential = make(api, "manager", shared=True)
    endpoint = endpoint_with(api, "developer", credential["id"], "reg")
    before = snapshot()
    response = api("developer", "patch", f"{base(world)}{endpoint['id']}/", {"password": "new-Planted-pw"})
    assert response.status_code == 400 and "password" in response.json()["errors"]
    assert api("developer", "patch", f"{base(world)}{endpoint['id']}/", {"username": "x"}).status_code == 400
    assert snapshot() == before
    assert api("manager", "patch", f"{base(world)}{endpoint['id']}/", {"username": "x"}).json()["username"] == "x"


BAD_CREATE = [
    ({"kind": "password"}, "kind"),
    ({"kind": ["username_password"]}, "kind"),
    ({"kind": None}, "kind"),
    ({"secret": ""}, "secret"),
    ({"secret": ["x"]}, "secret"),
    ({"secret": "p" * 5000}, "secret"),
    ({"secret": "two\nlines"}, "secret"),
    ({"kind": "kubeconfig", "secret": "a: [x"}, "secret"),
    (
        {"kind": "github_app_key", "secret": "-----BEGIN RSA PRIVATE KEY-----\nAA\n-----END RSA PRIVATE KEY-----"},
        "secret",
    ),
    ({"identity": " robot"}, "identity"),
    ({"identity": ["robot"]}, "identity"),
    ({"identity": "i" * 300}, "identity"),
    ({"shared": "yes"}, "shared"),
    ({"expires_at": "2024-02-30"}, "expires_at"),
    ({"expires_at": 5}, "expires_at"),
    ({"name": ""}, "name"),
    ({"name": 5}, "name"),
    ({"name": "n" * 5000}, "name"),
    ({"name": "TAKEN"}, "name"),
    ({"colour": "blue"}, "colour"),
    ({"owner": "creator"}, "owner"),
]


@pytest.mark.parametrize("change, field", BAD_CREATE)
def test_bad_create_is_400_and_saves_nothing(api, world, change, field):
    """Wrong types, unknown kind and fields, invalid secrets for the kind, huge strings: 400 with a
    field error in the API.md format, nothing saved."""
    make(api, name="taken")
    data = {"name": "new", "kind": "username_password", "identity": "robot", "secret": "pw-Planted-9", **change}
    before = snapshot()
    response = api("developer", "post", cbase(world), data)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error_code"] == "ENDPOINTS.4000" and field in body["errors"]
    assert snapshot() == before


BAD_PATCH = [
    ({"kind": "kubeconfig"}, "kind"),
    ({"secret": "two\nlines"}, "secret"),
    ({"secret": 5}, "secret"),
    ({"identity": ["x"]}, "identity"),
    ({"identity": "x\ny"}, "identity"),
    ({"shared": 1}, "shared"),
    ({"expires_at": "soon"}, "expires_at"),
    ({"name": "TAKEN"}, "name"),
    ({"id": 5}, "id"),
]


@pytest.mark.parametrize("change, field", BAD_PATCH)
def test_bad_patch_changes_nothing(api, world, change, field):
    make(api, name="taken")
    url = f"{cbase(world)}{make(api, name='mine')['id']}/"
    before = snapshot()
    response = api("developer", "patch", url, change)
    assert response.status_code == 400 and field in response.json()["errors"], response.content
    assert snapshot() == before


@pytest.mark.parametrize("raw", ["[]", "null", '"x"', "{oops"])
def test_non_object_json_is_400(api, world, raw):
    url = f"{cbase(world)}{make(api)['id']}/"
    before = snapshot()
    assert api("developer", "post", cbase(world), raw=raw).status_code == 400
    assert api("developer", "patch", url, raw=raw).status_code == 400
    assert snapshot() == before


def test_matrix(world):
    """E4 rights: members create; a shared credential is seen by every member and changed or deleted
    by its owner and the project's creator and managers; a private one is seen only by them;
    another project's credential answers 404."""
    data = {"name": "c", "kind": "username_password", "identity": "u", "secret": "pw-Planted-9"}
    shared = services.create_credential(world.users["developer"], world.project, {**data, "shared": True})
    private = services.create_credential(world.users["tester"], world.project, {**data, "name": "t"})
    other = services.create_credential(world.users["other_creator"], world.other_project, data)
    url, other_url = cbase(world), cbase(world, world.other_project)
    check_matrix(world, "GET", url, expect(200, anonymous=401), api=True, other_url=other_url)
    check_matrix(
        world, "POST", url, expect(201, anonymous=401), data={**data, "name": "n"}, api=True, other_url=other_url
    )
    owners = {"creator": 200, "manager": 200, "developer": 200}
    detail, other_detail = f"{url}{shared.pk}/", f"{other_url}{other.pk}/"
    for method, table, body in [
        ("GET", expect(200, anonymous=401), None),
        ("PATCH", expect(403, anonymous=401, **owners), {"name": "renamed"}),
        ("DELETE", expect(403, anonymous=401, **{actor: 204 for actor in owners}), None),
    ]:
        check_matrix(world, method, detail, table, data=body, api=True, other_url=other_detail)
    seen = {"creator": 200, "manager": 200, "tester": 200}
    check_matrix(world, "GET", f"{url}{private.pk}/", expect(404, anonymous=401, **seen), api=True)
    check_matrix(
        world, "PATCH", f"{url}{private.pk}/", expect(404, anonymous=401, **seen), data={"shared": True}, api=True
    )
    assert ServiceEndpoint.objects.count() == 0 and Credential.objects.filter(pk=shared.pk).exists()
