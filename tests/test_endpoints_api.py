"""Service endpoints through the REST API (SPEC E1–E10, API.md "Endpoint types", I3).

Every response of every test goes through ``api``, which fails the test if a body ever carries a
planted secret (E5).
"""

from __future__ import annotations

import json
import uuid

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from guardian.models import UserObjectPermission

from devops_console.core.models import Project
from endpoints import services
from endpoints.models import (
    AuditEntry,
    Credential,
    EndpointUsage,
    ServiceEndpoint,
    ServiceEndpointUserObjectPermission,
)
from endpoints.types import TYPES
from tests.matrix import check_matrix, expect
from tests.servers._util import free_port

pytestmark = pytest.mark.django_db

PRIVATE_KEY = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    .decode()
)
KUBE_TOKEN = "kube-token-Planted-7f3e9a"
KUBECONFIG = yaml.safe_dump(  # two clusters and contexts; the current one exists (E1, E6)
    {
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": n, "cluster": {"server": f"https://{n}.example:6443"}} for n in ("prod", "dev")],
        "users": [{"name": "admin", "user": {"token": KUBE_TOKEN}}],
        "contexts": [{"name": n, "context": {"cluster": n, "user": "admin"}} for n in ("prod", "dev")],
    }
)  # fmt: skip
VALID = {  # E1: valid values of every type, each with a distinct planted secret
    "docker_registry": {"url": "https://registry.example.com", "username": "robot", "password": "docker-Planted-pw1"},
    "kubernetes": {"url": "https://api.k8s.example:6443", "kubeconfig": KUBECONFIG},
    "git": {"url": "https://git.example/group/repo.git", "username": "dev", "password": "git-Planted-pw2"},
    "iam_user": {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "iamPlantedSecretKey/0123456789abcd"},
    "hosted_repo": {
        "url": "https://host.example",
        "username": "t/u",
        "password": "hosted-Planted",
        "repository": "g/r",
    },
    "github_app": {"client_id": "Iv23liAbCdEf", "installation_id": "12345678", "private_key": PRIVATE_KEY},
    "gitlab": {"url": "https://gitlab.com", "username": "dev", "token": "glpat-Planted-tok4"},
    "bitbucket": {"username": "workspace", "token": "bb-Planted-tok5"},
    "codeup": {"username": "clone-user", "token": "codeup-Planted-tok6"},
}
#: what must never appear in a response: each secret (a PEM by one of its body lines)
PLANTED = {v for values in VALID.values() for v in values.values() if "Planted" in v}
PLANTED |= {KUBE_TOKEN, PRIVATE_KEY.splitlines()[5]}


class Api:
    """Calls the API as a world actor and remembers every response body for the E5 check."""

    def __init__(self, world):
        self.world, self.client, self.bodies, self.secrets = world, Client(), [], set(PLANTED)

    def __call__(self, actor, method, url, data=None, raw=None):
        kwargs = {"HTTP_X_AUTH_TOKEN": self.world.token(actor)}
        if data is not None or raw is not None:
            kwargs.update(data=raw if raw is not None else json.dumps(data), content_type="application/json")
        response = getattr(self.client, method.lower())(url, **kwargs)
        self.bodies.append(response.content.decode())
        return response

    def plant(self, *values):
        self.secrets.update(values)

    def assert_no_secret(self):
        leaks = [(secret, body[:200]) for body in self.bodies for secret in self.secrets if secret in body]
        assert not leaks, f"a response carried a secret: {leaks[:3]}"


@pytest.fixture(name="api")
def api_fixture(world):
    caller = Api(world)
    yield caller
    caller.assert_no_secret()


def base(world, project=None):
    return f"/api/v1/projects/{(project or world.project).pk}/endpoints/"


def body_of(type_key, name=None, **extra):
    return {"name": name or f"{type_key}-endpoint", "type": type_key, **VALID[type_key], **extra}


def create(api, actor="developer", type_key="docker_registry", **extra) -> dict:
    response = api(actor, "post", base(api.world), body_of(type_key, **extra))
    assert response.status_code == 201, response.content
    return response.json()


def snapshot():
    """Everything a refused request must leave alone."""
    return (
        list(ServiceEndpoint.objects.order_by("pk").values_list("pk", "name", "scope", "config", "credential_id")),
        list(Credential.objects.order_by("pk").values_list("pk", "name", "identity", "secret", "expires_at")),
        UserObjectPermission.objects.count(),
        ServiceEndpointUserObjectPermission.objects.count(),
        AuditEntry.objects.count(),
    )


# ---------------------------------------------------------------- E1, E5


@pytest.mark.parametrize("type_key", list(TYPES))
def test_create_every_type(api, world, type_key):
    """E1: one endpoint of every type; E5: secrets come back only as ``<field>_set`` / ``_updated_at``,
    and are encrypted at rest."""
    body = create(api, type_key=type_key)
    etype = TYPES[type_key]
    assert body["type"] == type_key and body["created_by"] == "developer" and body["scope"] == "private"
    assert body["status"] is None and body["credential"] == ServiceEndpoint.objects.get(pk=body["id"]).credential_id
    for spec in etype.plain_fields():
        assert body[spec.name] == (VALID[type_key].get(spec.name) or spec.default), spec.name
    for spec in etype.secret_fields():
        assert spec.name not in body and body[f"{spec.name}_set"] is True and body[f"{spec.name}_updated_at"]
    assert api("viewer", "get", f"{base(world)}{body['id']}/").status_code == 404  # private (E3)
    assert api("developer", "get", f"{base(world)}{body['id']}/").json() == body
    credential = Credential.objects.get(pk=body["credential"])
    secret = VALID[type_key][etype.secret_fields()[0].name]
    assert credential.secret == secret
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM endpoints_credential WHERE id = %s", [credential.pk])
        stored = cursor.fetchone()[0]
    assert secret not in stored and secret.splitlines()[0] not in stored


def test_list_filters_by_type_and_paginates(api, world):
    """API.md: ``?type=`` filter; lists are paginated; an unknown type is a field error."""
    for type_key in ("git", "gitlab", "docker_registry"):
        create(api, "manager", type_key, scope="public")
    listed = api("viewer", "get", base(world) + "?type=git").json()
    assert set(listed) == {"count", "next", "previous", "results"}
    assert [e["type"] for e in listed["results"]] == ["git"] and listed["count"] == 1
    assert api("viewer", "get", base(world) + "?page_size=2").json()["count"] == 3
    response = api("viewer", "get", base(world) + "?type=ftp")
    assert response.status_code == 400 and "type" in response.json()["errors"]


def test_patch_with_empty_secret_keeps_it(api, world, docker_registry):
    """E5: an omitted or empty secret on PATCH keeps the stored one; the connection still verifies."""
    api.plant(docker_registry.password)
    body = create(api, url=docker_registry.url, username=docker_registry.username, password=docker_registry.password)
    url = f"{base(world)}{body['id']}/"
    patched = api("developer", "patch", url, {"name": "renamed", "password": ""})
    assert patched.status_code == 200, patched.content
    assert patched.json()["name"] == "renamed" and patched.json()["password_set"] is True
    assert patched.json()["password_updated_at"] == body["password_updated_at"]
    assert api("developer", "post", url + "verify/").json()["status"] == 0
    assert api("developer", "patch", url, {"skip_tls_verify": True}).json()["password_set"] is True
    assert api("developer", "post", url + "verify/").json()["status"] == 0
    assert not any(docker_registry.password in str(e.detail) for e in AuditEntry.objects.all())


# ---------------------------------------------------------------- E2, E3


@pytest.fixture
def scoped(api, world):
    """A developer's private, public and custom (tester listed) endpoints."""
    return {
        scope: create(
            api, "developer", name=scope, scope=scope, **({"members": ["tester"]} if scope == "custom" else {})
        )
        for scope in ("private", "public", "custom")
    }


def test_visibility_by_scope(api, world, scoped):
    """E2/E3: creator and managers see all; the endpoint's creator sees it; public: every member;
    custom: the listed members; private: nobody else; outsiders never."""
    seen = {"private": ["creator", "manager", "developer"], "custom": ["creator", "manager", "developer", "tester"]}
    for scope, endpoint in scoped.items():
        visible = {actor: 200 for actor in seen.get(scope, [])}
        table = expect(200, anonymous=401, **visible) if scope == "public" else expect(404, anonymous=401, **visible)
        check_matrix(world, "GET", f"{base(world)}{endpoint['id']}/", table, api=True)
    names = {
        actor: sorted(e["name"] for e in api(actor, "get", base(world)).json()["results"])
        for actor in ("creator", "manager", "developer", "tester", "viewer")
    }
    assert names["creator"] == names["manager"] == names["developer"] == ["custom", "private", "public"]
    assert names["tester"] == ["custom", "public"] and names["viewer"] == ["public"]
    assert api("outsider", "get", base(world)).status_code == 404


def test_use_is_not_administer(api, world, scoped):
    """E3: a listed custom member may see and use (verify) the endpoint but not edit, delete or
    change its scope; the endpoint's creator may."""
    url = f"{base(world)}{scoped['custom']['id']}/"
    assert api("tester", "post", url + "verify/").status_code == 200
    assert api("tester", "get", url + "permissions/").json() == {"scope": "custom", "members": ["tester"]}
    assert api("tester", "patch", url, {"name": "mine"}).status_code == 403
    assert api("tester", "delete", url).status_code == 403
    assert api("tester", "put", url + "permissions/", {"scope": "public"}).status_code == 403
    assert api("developer", "patch", url, {"name": "custom-2"}).json()["name"] == "custom-2"
    assert ServiceEndpoint.objects.filter(pk=scoped["custom"]["id"]).exists()


def test_admins_set_permissions(api, world, scoped):
    """E2: the project's managers set any endpoint's permissions; E3: scope changes apply at once."""
    url = f"{base(world)}{scoped['private']['id']}/"
    response = api("manager", "put", url + "permissions/", {"scope": "custom", "members": ["viewer", "tester"]})
    assert response.status_code == 200 and response.json() == {"scope": "custom", "members": ["tester", "viewer"]}
    assert api("viewer", "get", url).json()["members"] == ["tester", "viewer"]
    assert api("operator", "get", url).status_code == 404
    assert api("developer", "patch", url, {"scope": "public"}).json()["members"] == []
    assert api("operator", "get", url).status_code == 200
    assert api("manager", "put", url + "permissions/", {"scope": "private"}).json()["members"] == []
    assert api("viewer", "get", url).status_code == 404


# ---------------------------------------------------------------- E6 and bad input

BAD_PEM = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"
E6_CASES = [
    ("docker_registry", {"url": "ftp://registry.example"}, "url", "must be a URL starting with"),
    ("docker_registry", {"username": ""}, "username", "is required"),
    ("git", {"url": "http://git.example/repo.git"}, "url", "https://"),
    ("kubernetes", {"kubeconfig": "current-context: nope\ncontexts: []\n"}, "kubeconfig", "not among the contexts"),
    ("kubernetes", {"kubeconfig": "a: [unclosed"}, "kubeconfig", "not valid YAML"),
    ("hosted_repo", {"username": " tenant/user"}, "username", "must not start or end with spaces"),
    ("hosted_repo", {"username": "tenantuser"}, "username", "tenant name/username"),
    ("github_app", {"private_key": BAD_PEM}, "private_key", "not a valid PEM private key"),
    ("github_app", {"installation_id": "12a"}, "installation_id", "must be a number"),
    ("gitlab", {"url": "https://gitlab.example:8443"}, "url", "443 only"),
    ("gitlab", {"url": "http://gitlab.example:1000"}, "url", "not on port 1000"),
    ("iam_user", {"access_key_id": "short"}, "access_key_id", "16 to 128"),
    ("bitbucket", {"token": "has spaces"}, "token", "must not contain spaces"),
    ("codeup", {"api_url": "ftp://codeup.example"}, "api_url", "URL starting with"),
]


@pytest.mark.parametrize("type_key, change, field, fragment", E6_CASES)
def test_field_errors(api, world, type_key, change, field, fragment):
    """E6: a clear, field-level error in the API.md format, and nothing saved."""
    before = snapshot()
    response = api("developer", "post", base(world), body_of(type_key, **change))
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "ENDPOINTS.4000" and field in body["error_msg"]
    assert list(body["errors"]) == [field] and fragment in " ".join(body["errors"][field])
    assert snapshot() == before


@pytest.fixture
def foreign(world):
    """Credentials a developer may not pick: another project's, a kubeconfig, and the tester's private one."""
    login = {"kind": "username_password", "identity": "u", "secret": "other-pw"}
    return {
        "other": services.create_credential(world.users["other_creator"], world.other_project, {"name": "o", **login}),
        "kube": services.create_credential(
            world.users["developer"], world.project, {"name": "k", "kind": "kubeconfig", "secret": KUBECONFIG}
        ),
        "unshared": services.create_credential(world.users["tester"], world.project, {"name": "t", **login}),
    }


BAD_VALUES = {  # field of a valid docker_registry body → values that must be refused on that field
    "type": ["ftp", ["git"], None],
    "name": [42, "x" * 5000, "  "],
    "scope": ["secret", {"a": 1}],
    "skip_tls_verify": ["yes", 1],
    "ca_bundle": [5, "not a pem", "-----BEGIN CERTIFICATE-----" + "A" * 300_000],
    "expires_at": ["tomorrow", "2024-02-30", 20240101],
    "url": [{"a": 1}, "https://" + "a" * 5000 + ".example", None, "ftp://registry.example"],
    "password": [["x"], "p" * 5000],
    "username": [True, "u" * 300],
    "colour": ["blue"],
    "credential": ["abc", 1.5, True, [1], 10**30, "other", "kube", "unshared"],
}
BAD_MEMBERS = [("custom", "tester"), ("custom", ["outsider"]), ("custom", [1]), ("public", ["tester"]),
               ("custom", ["u"] * 5000)]  # fmt: skip
BAD_CREATE = [({field: value}, field) for field, values in BAD_VALUES.items() for value in values] + [
    ({"scope": scope, "members": members}, "members") for scope, members in BAD_MEMBERS
]


@pytest.mark.parametrize("change, field", BAD_CREATE)
def test_bad_create_is_400_and_saves_nothing(api, world, foreign, change, field):
    """Wrong types, unknown type and fields, huge strings, foreign or wrong-kind credentials,
    non-members in a custom scope: 400 with a field error, nothing saved, never a 500."""
    if isinstance(change.get("credential"), str) and change["credential"] in foreign:
        change = {"credential": foreign[change["credential"]].pk}
    data = body_of("docker_registry", **change)
    if "credential" in change:
        data = {k: v for k, v in data.items() if k not in ("username", "password")}
    before = snapshot()
    response = api("developer", "post", base(world), data)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert snapshot() == before


@pytest.mark.parametrize("raw", ["[]", '"text"', "5", "null", "[{}]", "{not json"])
def test_non_object_json_is_400(api, world, raw):
    """Bad input: a body that is not a JSON object → 400 in the API.md format, nothing saved."""
    endpoint = create(api)
    before = snapshot()
    for method, url in (
        ("post", base(world)),
        ("patch", f"{base(world)}{endpoint['id']}/"),
        ("put", f"{base(world)}{endpoint['id']}/permissions/"),
    ):
        response = api("developer", method, url, raw=raw)
        assert response.status_code == 400 and response.json()["error_code"] == "ENDPOINTS.4000", (method, raw)
    assert snapshot() == before


BAD_PATCH = [
    ({"type": "git"}, "type"), ({"name": ""}, "name"), ({"name": "taken"}, "name"), ({"url": 5}, "url"),
    ({"scope": "custom", "members": ["outsider"]}, "members"), ({"scope": "custom", "members": 5}, "members"),
    ({"credential": "x"}, "credential"), ({"skip_tls_verify": 1}, "skip_tls_verify"), ({"colour": 1}, "colour"),
    ({"password": "two\nlines"}, "password"),
]  # fmt: skip


@pytest.mark.parametrize("change, field", BAD_PATCH)
def test_bad_patch_changes_nothing(api, world, change, field):
    """E6 on PATCH: field errors, nothing changed."""
    create(api, name="taken")
    url = f"{base(world)}{create(api)['id']}/"
    before = snapshot()
    response = api("developer", "patch", url, change)
    assert response.status_code == 400 and field in response.json()["errors"], response.content
    assert snapshot() == before


BAD_PERMISSIONS = [
    ({"scope": "x"}, "scope"), ({}, "scope"), ({"scope": "custom", "members": ["outsider"]}, "members"),
    ({"scope": "custom", "members": {"tester": 1}}, "members"), ({"scope": "public", "extra": 1}, "extra"),
]  # fmt: skip


@pytest.mark.parametrize("data, field", BAD_PERMISSIONS)
def test_bad_permissions_change_nothing(api, world, data, field):
    """E3: a bad scope or members list (not project members) is a field error."""
    url = f"{base(world)}{create(api)['id']}/permissions/"
    before = snapshot()
    response = api("manager", "put", url, data)
    assert response.status_code == 400 and field in response.json()["errors"], response.content
    assert snapshot() == before


# ---------------------------------------------------------------- E7 verify against real servers


def verify(api, world, **values) -> dict:
    endpoint = create(api, **values)
    response = api("developer", "post", f"{base(world)}{endpoint['id']}/verify/")
    assert response.status_code == 200, response.content
    result = response.json()
    stored = api("developer", "get", f"{base(world)}{endpoint['id']}/").json()
    assert (stored["status"], stored["status_text"], stored["checked_at"]) == (
        result["status"],
        result["status_text"],
        result["checked_at"],
    )
    return result


@pytest.mark.slow
def test_verify_git(api, world, git_server):
    """E7: git ls-remote against the real Git server: right password 0, wrong 2, unreachable 3."""
    api.plant(git_server.password, "wrong-Planted-pw")
    git = {
        "type_key": "git",
        "url": git_server.repo_url(),
        "username": git_server.username,
        "ca_bundle": git_server.ca_pem,
    }
    ok = verify(api, world, name="ok", password=git_server.password, **git)
    assert ok["status"] == 0 and ok["status_text"] == "Normal" and ok["detail"]
    assert verify(api, world, name="bad", password="wrong-Planted-pw", **git)["status"] == 2
    git["url"] = f"https://127.0.0.1:{free_port()}/org/app.git"
    assert verify(api, world, name="gone", password=git_server.password, **git)["status"] == 3


@pytest.mark.slow
def test_verify_registry_and_expired(api, world, docker_registry):
    """E7: registry /v2/ with auth: 0 / 2 / 3; an expired credential is 1 (overdue)."""
    api.plant(docker_registry.password, "wrong-Planted-pw")
    reg = {"url": docker_registry.url, "username": docker_registry.username}
    assert verify(api, world, name="ok", password=docker_registry.password, **reg)["status"] == 0
    assert verify(api, world, name="bad", password="wrong-Planted-pw", **reg)["status"] == 2
    gone = dict(reg, url=f"http://127.0.0.1:{free_port()}")
    assert verify(api, world, name="gone", password=docker_registry.password, **gone)["status"] == 3
    expired = verify(api, world, name="old", password=docker_registry.password, expires_at="2020-01-01", **reg)
    assert expired["status"] == 1 and expired["status_text"] == "Overdue" and "2020-01-01" in expired["detail"]


# ---------------------------------------------------------------- E8 usage and delete


def test_delete_in_use_is_refused_with_the_list(api, world):
    """E8: deleting a used endpoint → 409 with the usage list; allowed once the usage is gone."""
    endpoint = create(api)
    url = f"{base(world)}{endpoint['id']}/"
    usage = EndpointUsage.objects.create(
        endpoint_id=endpoint["id"],
        content_type=ContentType.objects.get_for_model(Project),
        object_id=world.project.pk,
        pipeline_id=7,
        label="web-app › Build › compile",
        url="/p/7/",
    )
    listed = api("developer", "get", url + "usage/").json()
    assert listed["results"] == [{"label": "web-app › Build › compile", "url": "/p/7/", "pipeline_id": 7}]
    response = api("developer", "delete", url)
    assert response.status_code == 409
    body = response.json()
    assert body["error_code"] == "ENDPOINTS.4090" and body["error_msg"]
    assert [u["label"] for u in body["usages"]] == ["web-app › Build › compile"]
    assert ServiceEndpoint.objects.filter(pk=endpoint["id"]).exists()
    usage.delete()
    assert api("developer", "delete", url).status_code == 204
    assert api("developer", "get", url).status_code == 404
    assert not Credential.objects.filter(pk=endpoint["credential"]).exists()  # inline credential goes with it


# ---------------------------------------------------------------- E10 browsing


def refs(git_server, path, kind):
    out = git_server.git("-C", git_server.repo_path(path), "for-each-ref", "--format=%(refname:short)", f"refs/{kind}/")
    return sorted(out.split())


@pytest.mark.slow
def test_browse_git_repository(api, world, git_server):
    """E10: repositories, branches and tags of the real Git server's repository through the endpoint."""
    api.plant(git_server.password)
    path = f"team/{uuid.uuid4().hex[:8]}.git"
    git_server.create_repo(path, branches=("feature/x",), tags=("v2.0",))
    endpoint = create(
        api,
        type_key="git",
        url=git_server.repo_url(path),
        username=git_server.username,
        password=git_server.password,
        ca_bundle=git_server.ca_pem,
    )
    url = f"{base(world)}{endpoint['id']}/"
    repos = api("developer", "get", url + "repositories/").json()["results"]
    assert repos == [{"name": path[5:-4], "full_name": path[:-4], "clone_url": git_server.repo_url(path)}]
    branches = api("developer", "get", url + f"branches/?repository={path[:-4]}").json()["results"]
    assert branches == refs(git_server, path, "heads") and "feature/x" in branches
    assert api("developer", "get", url + f"tags/?repository={path[:-4]}").json()["results"] == ["v2.0"]


@pytest.mark.slow
def test_browse_errors(api, world, git_server):
    """E10: a repository the endpoint does not serve or wrong credentials → 400 ENDPOINTS.4001 with a
    safe message; a type without repositories → 400 ENDPOINTS.4002."""
    api.plant("wrong-Planted-pw")
    endpoint = create(
        api,
        type_key="git",
        url=git_server.repo_url(),
        username=git_server.username,
        password="wrong-Planted-pw",
        ca_bundle=git_server.ca_pem,
    )
    url = f"{base(world)}{endpoint['id']}/"
    other = api("developer", "get", url + "branches/?repository=someone/else")
    assert other.status_code == 400 and other.json()["error_code"] == "ENDPOINTS.4001"
    denied = api("developer", "get", url + "tags/")
    assert denied.status_code == 400 and denied.json()["status"] == 2
    docker = create(api, name="reg")
    response = api("developer", "get", f"{base(world)}{docker['id']}/repositories/")
    assert response.status_code == 400 and response.json()["error_code"] == "ENDPOINTS.4002"


# ---------------------------------------------------------------- the permission matrix


@pytest.fixture
def git_pair(world, git_server):
    """A public Git endpoint of the developer in the project, and one in the other project."""
    values = {
        "type": "git",
        "url": git_server.repo_url(),
        "username": git_server.username,
        "password": git_server.password,
        "ca_bundle": git_server.ca_pem,
    }
    mine = services.create_endpoint(world.users["developer"], world.project, {"name": "g", "scope": "public", **values})
    other = services.create_endpoint(world.users["other_creator"], world.other_project, {"name": "g", **values})
    return f"{base(world)}{mine.pk}/", f"{base(world, world.other_project)}{other.pk}/"


def test_matrix_list_and_create(world):
    """E2: every member lists and creates endpoints; outsiders and other projects answer 404."""
    url, other = base(world), base(world, world.other_project)
    check_matrix(world, "GET", url, expect(200, anonymous=401), api=True, other_url=other)
    data = body_of("docker_registry")
    check_matrix(world, "POST", url, expect(201, anonymous=401), data=data, api=True, other_url=other)


@pytest.mark.slow
def test_matrix_object_urls(world, git_pair):
    """E2/E3/E7/E8/E10: use-level URLs for every member of a public endpoint; administer-level URLs
    for the project's creator and managers and the endpoint's creator; 404 for other projects."""
    url, other = git_pair
    admins = {"creator": 200, "manager": 200, "developer": 200}
    for method, suffix, table, data in [
        ("GET", "", expect(200, anonymous=401), None),
        ("POST", "verify/", expect(200, anonymous=401), None),
        ("GET", "usage/", expect(200, anonymous=401), None),
        ("GET", "permissions/", expect(200, anonymous=401), None),
        ("GET", "repositories/", expect(200, anonymous=401), None),
        ("GET", "branches/", expect(200, anonymous=401), None),
        ("GET", "tags/?repository=org/app", expect(200, anonymous=401), None),
        ("PATCH", "", expect(403, anonymous=401, **admins), {"name": "renamed"}),
        ("PUT", "permissions/", expect(403, anonymous=401, **admins), {"scope": "private"}),
        ("DELETE", "", expect(403, anonymous=401, creator=204, manager=204, developer=204), None),
    ]:
        check_matrix(world, method, url + suffix, table, data=data, api=True, other_url=other + suffix)
