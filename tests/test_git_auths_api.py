"""SPEC E9: the seed-compatible Git repository authorization API (seed 004, ``/v1/{project_id}/git/auths``).

Authorizations are the Git-type service endpoints themselves; creating one really verifies it
against a real server (a fake GitLab / Bitbucket API, or the real ``git http-backend`` server).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from datetime import timedelta
from http.server import BaseHTTPRequestHandler

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.utils import timezone

from devops_console.core.models import ApiToken, Project
from endpoints import services
from endpoints.models import Credential, EndpointUsage, ServiceEndpoint
from tests.matrix import check_matrix, expect
from tests.servers._util import ServerThread
from tests.servers.https import HttpsServer

KEYS = {
    "name",
    "repo_type",
    "repo_host",
    "repo_home",
    "repo_user",
    "avartar",
    "token_type",
    "create_time",
    "update_time",
    "status",
    "tag",
}
GITLAB_TOKEN = "glpat-" + secrets.token_urlsafe(16)
BITBUCKET_USER, BITBUCKET_APP_PASSWORD = "tom", "ATBB" + secrets.token_urlsafe(16)
SVCSTG_RE = re.compile(r"SVCSTG\.REPO\.\d{4}")


# --- real servers ---------------------------------------------------------------------------------


def _gitlab_handler(seen: list):
    class Handler(BaseHTTPRequestHandler):
        """GitLab's ``/api/v4/user``: 200 for the right PRIVATE-TOKEN, 401 otherwise."""

        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append((self.path, self.headers.get("PRIVATE-TOKEN")))
            ok = self.path == "/api/v4/user" and self.headers.get("PRIVATE-TOKEN") == GITLAB_TOKEN
            payload = json.dumps({"username": "tom"} if ok else {"message": "401 Unauthorized"}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@pytest.fixture(scope="module")
def gitlab():
    """A self-managed GitLab API over plain HTTP on a high port (allowed by E6 for GitLab)."""
    seen: list = []
    server = ServerThread(_gitlab_handler(seen)).start()
    server.seen = seen
    yield server
    server.stop()


def _bitbucket_responder(request):
    expected = "Basic " + base64.b64encode(f"{BITBUCKET_USER}:{BITBUCKET_APP_PASSWORD}".encode()).decode()
    if request.path == "/2.0/user" and request.headers.get("Authorization") == expected:
        return 200, {"Content-Type": "application/json"}, b'{"username": "tom"}'
    return 401, {"Content-Type": "application/json"}, b'{"error": {"message": "Unauthorized"}}'


@pytest.fixture(scope="module")
def bitbucket(test_ca):
    """A Bitbucket 2.0 API over HTTPS (certificate from the test CA) checking basic auth."""
    server = HttpsServer(test_ca, responder=_bitbucket_responder).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


# --- helpers ----------------------------------------------------------------------------------------


def auths_url(project, suffix="") -> str:
    pid = project.pk if isinstance(project, Project) else project
    return f"/v1/{pid}/git/auths{suffix}"


def call(world, actor, method, url, body=None, *, raw=None, content_type="application/json", headers=None):
    client = Client()
    extra = {} if actor is None else {"HTTP_X_AUTH_TOKEN": world.token(actor)}
    extra.update(headers or {})
    send = getattr(client, method.lower())
    if method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
        data = raw if raw is not None else ("" if body is None else json.dumps(body))
        return send(url, data=data, content_type=content_type, **extra)
    return send(url, **extra)


def check_svcstg(response, status: int, error_id: str | None = None) -> dict:
    """Assert the seed's error format: {"error_code": "SVCSTG.REPO.<id>", "error_msg": "…"}."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and SVCSTG_RE.fullmatch(body["error_code"]), body
    assert isinstance(body["error_msg"], str) and body["error_msg"].strip(), body
    if error_id is not None:
        assert body["error_code"] == f"SVCSTG.REPO.{error_id}", body
    return body


def listed(world, actor, project=None) -> dict:
    response = call(world, actor, "GET", auths_url(project or world.project))
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"authorizations", "count"}
    assert body["count"] == len(body["authorizations"])
    return {a["name"]: a for a in body["authorizations"]}


def endpoint(world, actor, name, type_="git", scope="private", project=None, **fields):
    defaults = {
        "git": {"url": "https://git.example.com/org/app.git", "username": "ci", "password": "pw-" + name},
        "gitlab": {"url": "https://gitlab.example.com", "username": "tom", "token": "glpat-" + name},
        "docker_registry": {"url": "https://registry.example.com", "username": "u", "password": "pw-" + name},
    }
    data = {"name": name, "type": type_, "scope": scope, **defaults.get(type_, {}), **fields}
    return services.create_endpoint(world.user(actor), project or world.project, data)


def counts():
    return ServiceEndpoint.objects.count(), Credential.objects.count()


# --- listing ----------------------------------------------------------------------------------------


def test_list_has_the_seed_shape_and_only_git_types(world, pem):
    """E9: {"authorizations": [...], "count": n}; every seed field (``avartar`` spelt as the seed),
    epoch-millisecond integer times, status 0-2, tag null; a Docker registry endpoint is not listed."""
    gl = endpoint(world, "creator", "gitlab-main", "gitlab", "public")
    endpoint(world, "creator", "registry-main", "docker_registry", "public")
    endpoint(
        world, "creator", "gh-app", "github_app", "public", client_id="Iv23li", installation_id="42", private_key=pem
    )
    before_ms = int(gl.created.timestamp() * 1000)
    auths = listed(world, "developer")
    assert set(auths) == {"gitlab-main", "gh-app"}
    for auth in auths.values():
        assert set(auth) == KEYS
        assert type(auth["create_time"]) is int and type(auth["update_time"]) is int
        assert auth["tag"] is None and auth["avartar"] == ""
    assert auths["gitlab-main"] == {
        "name": "gitlab-main",
        "repo_type": "gitlab",
        "repo_host": "https://gitlab.example.com",
        "repo_home": "https://gitlab.example.com",
        "repo_user": "tom",
        "avartar": "",
        "token_type": "personal",
        "create_time": before_ms,
        "update_time": auths["gitlab-main"]["update_time"],
        "status": 2,  # never verified: not (yet) authenticated
        "tag": None,
    }
    assert auths["gitlab-main"]["update_time"] >= before_ms
    assert abs(auths["gitlab-main"]["create_time"] - timezone.now().timestamp() * 1000) < 60_000
    gh = auths["gh-app"]
    assert (gh["repo_type"], gh["repo_host"], gh["repo_home"], gh["token_type"], gh["repo_user"]) == (
        "github",
        "https://api.github.com",
        "https://github.com",
        "oauth",
        "",
    )


@pytest.mark.parametrize(("stored", "shown"), [(0, 0), (1, 1), (2, 2), (3, 2), (None, 2)])
def test_status_follows_the_endpoint_status(world, stored, shown):
    """E9/E7: status 0 normal, 1 overdue, 2 unauthenticated; unreachable or never verified show 2."""
    ep = endpoint(world, "creator", "status-probe")
    ServiceEndpoint.objects.filter(pk=ep.pk).update(status=stored)
    assert listed(world, "creator")["status-probe"]["status"] == shown


def test_list_is_what_the_caller_may_see(world):
    """E9 + E3: a private endpoint of another member is not listed for a developer but is for the
    manager and creator; public and custom (with the developer) ones are; another project's never."""
    endpoint(world, "tester", "tester-private", scope="private")
    endpoint(world, "tester", "tester-public", scope="public")
    endpoint(world, "tester", "tester-custom", scope="custom", members=["developer"])
    endpoint(world, "other_creator", "elsewhere", project=world.other_project, scope="public")
    assert set(listed(world, "developer")) == {"tester-public", "tester-custom"}
    assert set(listed(world, "operator")) == {"tester-public"}
    assert set(listed(world, "manager")) == {"tester-private", "tester-public", "tester-custom"}
    assert set(listed(world, "creator")) == {"tester-private", "tester-public", "tester-custom"}
    assert set(listed(world, "tester")) == {"tester-private", "tester-public", "tester-custom"}


def test_list_permission_matrix(world):
    """E9: anonymous 401, outsider 404 (never 403 for an invisible project), every member 200."""
    check_matrix(
        world,
        "GET",
        auths_url(world.project),
        expect(200, anonymous=401),
        api=True,
        other_url=auths_url(world.other_project),
    )


# --- creating ---------------------------------------------------------------------------------------


def test_private_token_authorization_is_a_verified_gitlab_endpoint(world, gitlab):
    """E9: POST …/gitlab/personal {name, token, host} creates a GitLab service endpoint, verifies it
    against the GitLab API (status 0) and answers {"authorization": …} without the token."""
    response = call(
        world,
        "developer",
        "POST",
        auths_url(world.project, "/gitlab/personal"),
        {"name": "gitlab-main", "token": GITLAB_TOKEN, "host": gitlab.url},
        content_type="application/json;charset=utf8",
    )  # the seed's documented header
    assert response.status_code == 200, response.content
    assert GITLAB_TOKEN not in response.content.decode()
    auth = response.json()["authorization"]
    assert set(auth) == KEYS
    assert (auth["name"], auth["repo_type"], auth["token_type"], auth["status"]) == (
        "gitlab-main",
        "gitlab",
        "personal",
        0,
    )
    assert (auth["repo_host"], auth["repo_home"], auth["repo_user"]) == (gitlab.url, gitlab.url, "oauth2")
    assert ("/api/v4/user", GITLAB_TOKEN) in gitlab.seen, "the token was never checked against GitLab"

    ep = ServiceEndpoint.objects.get(project=world.project, name="gitlab-main")
    assert (ep.type, ep.scope, ep.created_by, ep.status) == ("gitlab", "private", world.users["developer"], 0)
    assert ep.config["url"] == gitlab.url and ep.config["auth_kind"] == "personal"
    assert ep.credential.secret == GITLAB_TOKEN
    assert "auth_kind" not in services.endpoint_values(ep)[0]  # bookkeeping never reaches a connector
    assert "auth_kind" not in services.plain_fields(ep)
    # the same object through the endpoints API
    api = call(world, "developer", "GET", f"/api/v1/projects/{world.project.pk}/endpoints/")
    assert api.status_code == 200, api.content
    rows = {row["name"]: row for row in api.json()["results"]}
    assert rows["gitlab-main"]["type"] == "gitlab" and rows["gitlab-main"]["id"] == ep.pk
    assert GITLAB_TOKEN not in api.content.decode()
    assert listed(world, "developer")["gitlab-main"] == auth


def test_a_wrong_token_is_kept_but_shows_unauthenticated(world, gitlab):
    """E9/E7: the authorization is saved and verified; GitLab's 401 shows as status 2."""
    response = call(
        world,
        "developer",
        "POST",
        auths_url(world.project, "/GitLab/personal"),
        {"name": "gitlab-bad", "token": "glpat-wrong-token", "host": gitlab.url, "user": "tom"},
    )
    assert response.status_code == 200, response.content
    auth = response.json()["authorization"]
    assert (auth["status"], auth["repo_user"], auth["repo_type"]) == (2, "tom", "gitlab")
    assert "glpat-wrong-token" not in response.content.decode()


def test_password_authorization_on_a_real_git_server(world, git_server):
    """E9: POST …/github/password {name, user, password, host} becomes a generic Git endpoint that
    git ls-remote really authenticates against (status 0); repo_type stays the seed's github."""
    secret = git_server.password
    response = call(
        world,
        "tester",
        "POST",
        auths_url(world.project, "/github/password"),
        {
            "name": "gh-app-repo",
            "user": git_server.username,
            "password": secret,
            "host": git_server.repo_url("org/app.git"),
            "ca_bundle": git_server.ca_pem,
        },
    )
    assert response.status_code == 200, response.content
    assert secret not in response.content.decode()
    auth = response.json()["authorization"]
    assert (auth["repo_type"], auth["token_type"], auth["status"], auth["repo_user"]) == (
        "github",
        "password",
        0,
        git_server.username,
    )
    assert auth["repo_host"] == git_server.base_url and auth["repo_home"] == git_server.repo_url("org/app.git")
    ep = ServiceEndpoint.objects.get(name="gh-app-repo")
    assert (ep.type, ep.credential.kind, ep.credential.secret) == ("git", "username_password", secret)
    assert any(r.user == git_server.username and r.status == 200 for r in git_server.requests)


def test_devcloud_password_authorization_is_a_hosted_repo_endpoint(world, git_server):
    """E9: repo_type devcloud (CodeArts Repo) maps to the hosted-repo endpoint type with its
    tenant/user rule (E6); the server rejects that user, so the authorization shows status 2."""
    body = {
        "name": "codearts-repo",
        "user": "ci-bot",
        "password": "pw-hosted-123",
        "host": git_server.base_url,
        "ca_bundle": git_server.ca_pem,
    }
    before = counts()
    bad = check_svcstg(call(world, "tester", "POST", auths_url(world.project, "/devcloud/password"), body), 400, "0400")
    assert "user" in bad["errors"] and "tenant" in bad["error_msg"]
    assert counts() == before
    body["user"] = "tenant/ci-bot"
    response = call(world, "tester", "POST", auths_url(world.project, "/devcloud/password"), body)
    assert response.status_code == 200, response.content
    auth = response.json()["authorization"]
    assert (auth["repo_type"], auth["token_type"], auth["repo_user"], auth["status"]) == (
        "devcloud",
        "password",
        "tenant/ci-bot",
        2,
    )
    assert ServiceEndpoint.objects.get(name="codearts-repo").type == "hosted_repo"


def test_bitbucket_password_authorization(world, bitbucket):
    """E9: POST …/bitbucket/password (app password) becomes a Bitbucket endpoint verified against the
    Bitbucket 2.0 API over HTTPS with the supplied CA."""
    response = call(
        world,
        "viewer",
        "POST",
        auths_url(world.project, "/bitbucket/password"),
        {
            "name": "bb-team",
            "user": BITBUCKET_USER,
            "password": BITBUCKET_APP_PASSWORD,
            "host": bitbucket.url + "/2.0",
            "ca_bundle": bitbucket.ca_pem,
            "scope": "public",
        },
    )
    assert response.status_code == 200, response.content
    assert BITBUCKET_APP_PASSWORD not in response.content.decode()
    auth = response.json()["authorization"]
    assert (auth["repo_type"], auth["token_type"], auth["status"], auth["repo_host"]) == (
        "bitbucket",
        "password",
        0,
        bitbucket.url,
    )
    ep = ServiceEndpoint.objects.get(name="bb-team")
    assert (ep.type, ep.scope, ep.credential.identity) == ("bitbucket", "public", BITBUCKET_USER)
    assert "bb-team" in listed(world, "developer")  # public: every member sees it


def test_generic_post_infers_the_kind(world, gitlab, git_server):
    """E9 (API.md POST /v1/{project_id}/git/auths): token → personal, username + password → password;
    token_type "token" is an alias of personal."""
    url = auths_url(world.project)
    r1 = call(
        world,
        "developer",
        "POST",
        url,
        {"name": "gl-generic", "repo_type": "gitlab", "repo_host": gitlab.url, "token": GITLAB_TOKEN},
    )
    assert r1.status_code == 200, r1.content
    assert r1.json()["authorization"]["token_type"] == "personal"
    assert r1.json()["authorization"]["status"] == 0
    r2 = call(
        world,
        "developer",
        "POST",
        url,
        {
            "name": "git-generic",
            "repo_type": "git",
            "repo_host": git_server.repo_url("org/app.git"),
            "username": git_server.username,
            "password": git_server.password,
            "ca_bundle": git_server.ca_pem,
        },
    )
    assert r2.status_code == 200, r2.content
    assert (r2.json()["authorization"]["token_type"], r2.json()["authorization"]["status"]) == ("password", 0)
    r3 = call(
        world,
        "developer",
        "POST",
        url,
        {
            "name": "gl-alias",
            "repo_type": "gitlab",
            "token_type": "token",
            "host": gitlab.url,
            "user": "tom",
            "token": GITLAB_TOKEN,
        },
    )
    assert r3.status_code == 200, r3.content
    assert r3.json()["authorization"]["repo_user"] == "tom"
    assert {"gl-generic", "git-generic", "gl-alias"} <= set(listed(world, "developer"))
    assert ServiceEndpoint.objects.get(name="git-generic").type == "git"


def test_oauth_is_refused_clearly_and_saves_nothing(world):
    """E9: no OAuth application is registered, so OAuth authorization (and its redirect URL) answers
    400 SVCSTG.REPO.0401 ("not implemented" in the seed service's codes) and nothing is saved."""
    before = counts()
    body = check_svcstg(
        call(
            world,
            "creator",
            "POST",
            auths_url(world.project, "/github/oauth"),
            {"name": "gh-oauth", "code": "abc", "state": "xyz"},
        ),
        400,
        "0401",
    )
    assert "OAuth" in body["error_msg"] and "personal" in body["error_msg"]
    check_svcstg(call(world, "creator", "GET", auths_url(world.project, "/github/redirect")), 400, "0401")
    check_svcstg(
        call(
            world,
            "creator",
            "POST",
            auths_url(world.project),
            {"name": "gh-oauth", "repo_type": "github", "code": "abc", "state": "xyz"},
        ),
        400,
        "0401",
    )
    assert counts() == before


# --- deleting ---------------------------------------------------------------------------------------


def test_delete_by_name_removes_the_endpoint(world, gitlab):
    """E9: DELETE /v1/{project_id}/git/auths/{name} → 204 with no body; the service endpoint and its
    own credential are gone; a second delete → 404 SVCSTG.REPO.0450."""
    created = call(
        world,
        "developer",
        "POST",
        auths_url(world.project, "/gitlab/personal"),
        {"name": "gitlab-tmp", "token": GITLAB_TOKEN, "host": gitlab.url},
    )
    assert created.status_code == 200
    credential_id = ServiceEndpoint.objects.get(name="gitlab-tmp").credential_id
    response = call(world, "developer", "DELETE", auths_url(world.project, "/gitlab-tmp"))
    assert response.status_code == 204 and response.content == b""
    assert not ServiceEndpoint.objects.filter(name="gitlab-tmp").exists()
    assert not Credential.objects.filter(pk=credential_id).exists()
    check_svcstg(call(world, "developer", "DELETE", auths_url(world.project, "/gitlab-tmp")), 404, "0450")


def test_delete_a_name_that_looks_like_a_seed_path(world):
    """E9: an endpoint named like "github/oauth" (names made elsewhere may hold "/") is deleted too."""
    endpoint(world, "creator", "github/oauth")
    response = call(world, "creator", "DELETE", auths_url(world.project, "/github/oauth"))
    assert response.status_code == 204, response.content
    assert not ServiceEndpoint.objects.filter(name="github/oauth").exists()


def test_delete_rights(world):
    """E9 + E8: a viewer deleting the manager's public endpoint → 403; the manager's private one is
    invisible → 404 (never 403); a non-Git endpoint is not an authorization → 404; the manager can."""
    endpoint(world, "manager", "mgr-public", scope="public")
    endpoint(world, "manager", "mgr-private", scope="private")
    endpoint(world, "manager", "mgr-registry", "docker_registry", scope="public")
    check_svcstg(call(world, "viewer", "DELETE", auths_url(world.project, "/mgr-public")), 403, "0430")
    check_svcstg(call(world, "viewer", "DELETE", auths_url(world.project, "/mgr-private")), 404, "0450")
    check_svcstg(call(world, "manager", "DELETE", auths_url(world.project, "/mgr-registry")), 404, "0450")
    check_svcstg(call(world, "outsider", "DELETE", auths_url(world.project, "/mgr-public")), 404, "0440")
    check_svcstg(call(world, "manager", "DELETE", auths_url(world.other_project, "/mgr-public")), 404, "0440")
    check_svcstg(call(world, None, "DELETE", auths_url(world.project, "/mgr-public")), 401, "0410")
    assert ServiceEndpoint.objects.filter(name__in=["mgr-public", "mgr-private", "mgr-registry"]).count() == 3
    assert call(world, "creator", "DELETE", auths_url(world.project, "/mgr-private")).status_code == 204


def test_delete_refused_while_in_use(world):
    """E9 + E8: an authorization used by a pipeline is not deleted: 400 SVCSTG.REPO.0460 naming the users
    (the seed defines no 409; 400 is its "cannot do that" answer)."""
    ep = endpoint(world, "creator", "used-repo", scope="public")
    EndpointUsage.objects.create(
        endpoint=ep,
        content_type=ContentType.objects.get_for_model(Project),
        object_id=world.project.pk,
        pipeline_id=7,
        label="web-app › Build › checkout",
    )
    body = check_svcstg(call(world, "creator", "DELETE", auths_url(world.project, "/used-repo")), 400, "0460")
    assert "web-app › Build › checkout" in body["error_msg"]
    assert body["usages"][0]["pipeline_id"] == 7
    assert ServiceEndpoint.objects.filter(pk=ep.pk).exists()


# --- authentication and not found -------------------------------------------------------------------


def test_missing_token_is_401_in_the_seed_format(world):
    """E9: no X-Auth-Token → 401 SVCSTG.REPO.0410 (not API.md's format), for reads and writes alike."""
    before = counts()
    for method, suffix, body in [
        ("GET", "", None),
        ("POST", "/gitlab/personal", {"name": "x"}),
        ("POST", "", []),
        ("DELETE", "/anything", None),
    ]:
        response = call(world, None, method, auths_url(world.project, suffix), body)
        found = check_svcstg(response, 401, "0410")
        assert "X-Auth-Token" in found["error_msg"]
        assert response.has_header("WWW-Authenticate")
    assert counts() == before


@pytest.mark.parametrize(
    ("token", "error_id"),
    [
        ("abc", "0413"),
        ("dvc_" + "x" * 300, "0413"),
        ("dvc_not-a-known-token-000000000000", "0410"),
        ("expired", "0411"),
        ("revoked", "0412"),
    ],
)
def test_bad_tokens_are_401(world, token, error_id):
    """E9: malformed, unknown, expired and revoked tokens → 401 with the seed's error body."""
    if token in ("expired", "revoked"):
        issued, token_value = ApiToken.issue(world.users["developer"], token)
        if token == "expired":
            ApiToken.objects.filter(pk=issued.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
        else:
            ApiToken.objects.filter(pk=issued.pk).update(revoked_at=timezone.now())
        token = token_value
    response = Client().get(auths_url(world.project), HTTP_X_AUTH_TOKEN=token)
    check_svcstg(response, 401, error_id)


@pytest.mark.parametrize("pid", ["999999", "abc", "99999999999999999999999999", "-1", "1.0"])
def test_unknown_project_is_404(world, pid):
    """E9: an unknown (or malformed) project id → 404 SVCSTG.REPO.0440."""
    check_svcstg(call(world, "creator", "GET", auths_url(pid)), 404, "0440")
    check_svcstg(
        call(world, "creator", "POST", auths_url(pid, "/gitlab/personal"), {"name": "abcd", "token": "t"}), 404, "0440"
    )


def test_a_project_i_am_not_in_is_404_never_403(world):
    """E9: another project's authorizations answer 404 — reads, creates and deletes."""
    endpoint(world, "other_creator", "theirs", project=world.other_project, scope="public")
    before = counts()
    for method, suffix, body in [
        ("GET", "", None),
        ("POST", "/gitlab/personal", {"name": "mine", "token": "t"}),
        ("POST", "", {"name": "mine", "repo_type": "gitlab", "token": "t"}),
        ("DELETE", "/theirs", None),
    ]:
        check_svcstg(call(world, "creator", method, auths_url(world.other_project, suffix), body), 404, "0440")
    assert counts() == before


def test_other_paths_and_methods_answer_in_the_seed_format(world):
    """E9: unknown /v1 paths → 404 and wrong methods → 405, both as SVCSTG JSON."""
    check_svcstg(call(world, "creator", "GET", f"/v1/{world.project.pk}/git/nothing"), 404, "0440")
    check_svcstg(Client().get("/v1/"), 404, "0440")
    check_svcstg(call(world, "creator", "PUT", auths_url(world.project), {"name": "x"}), 405, "0405")
    check_svcstg(call(world, "creator", "GET", auths_url(world.project, "/some-name")), 405, "0405")
    check_svcstg(call(world, "creator", "GET", auths_url(world.project, "/github/personal")), 405, "0405")
    trailing = call(world, "creator", "GET", auths_url(world.project, "/"))
    assert trailing.status_code == 200 and trailing.json()["count"] == 0


# --- invalid bodies ---------------------------------------------------------------------------------

SECRET = "s3cr3t-" + secrets.token_urlsafe(12)
PERSONAL = "/gitlab/personal"


@pytest.mark.parametrize(
    ("suffix", "body", "raw", "content_type", "field"),
    [
        (PERSONAL, None, "not json", "application/json", None),
        (PERSONAL, None, "[" * 100_000, "application/json", None),
        (PERSONAL, None, b"\xff\xfe\xfa", "application/json", None),
        (PERSONAL, None, "name=abcd&token=x", "application/x-www-form-urlencoded", None),
        (PERSONAL, None, "{}", "text/plain", None),
        (PERSONAL, [{"name": "abcd", "token": SECRET}], None, "application/json", "non_field_errors"),
        (PERSONAL, "just a string", None, "application/json", "non_field_errors"),
        (PERSONAL, None, "null", "application/json", "non_field_errors"),
        (PERSONAL, {}, None, "application/json", "name"),
        (PERSONAL, {"name": 5, "token": SECRET}, None, "application/json", "name"),
        (PERSONAL, {"name": "abcd", "token": [SECRET]}, None, "application/json", "token"),
        (PERSONAL, {"name": "abcd", "token": {"v": SECRET}}, None, "application/json", "token"),
        (PERSONAL, {"name": "abcd", "token": 12345}, None, "application/json", "token"),
        (PERSONAL, {"name": "abcd"}, None, "application/json", "token"),
        (PERSONAL, {"name": "a b c d", "token": SECRET}, None, "application/json", "name"),
        (PERSONAL, {"name": "abc", "token": SECRET}, None, "application/json", "name"),
        (PERSONAL, {"name": "x" * 64, "token": SECRET}, None, "application/json", "name"),
        (PERSONAL, {"name": "abcd", "token": SECRET, "pasword": "x"}, None, "application/json", "non_field_errors"),
        (PERSONAL, {"name": "ab", "pasword": SECRET}, None, "application/json", "token"),  # reported together
        (
            PERSONAL,
            {"name": "abcd", "token": SECRET, "skip_tls_verify": "yes"},
            None,
            "application/json",
            "skip_tls_verify",
        ),
        (PERSONAL, {"name": "abcd", "token": SECRET, "members": "bob"}, None, "application/json", "members"),
        (PERSONAL, {"name": "abcd", "token": SECRET, "scope": "everyone"}, None, "application/json", "scope"),
        (PERSONAL, {"name": "abcd", "token": "has space " + SECRET}, None, "application/json", "token"),
        (
            PERSONAL,
            {"name": "abcd", "token": SECRET, "host": "ftp://gitlab.example.com"},
            None,
            "application/json",
            "host",
        ),
        (
            PERSONAL,
            {"name": "abcd", "token": SECRET, "host": "https://gitlab.example.com:8443"},
            None,
            "application/json",
            "host",
        ),
        (
            "/github/personal",
            {"name": "abcd", "token": SECRET, "host": "http://github.com/org/repo.git"},
            None,
            "application/json",
            "host",
        ),
        (
            "/github/personal",
            {"name": "abcd", "token": SECRET, "host": "https://api.github.com"},
            None,
            "application/json",
            "host",
        ),
        ("/github/personal", {"name": "abcd", "token": SECRET}, None, "application/json", "host"),
        ("/bitbucket/password", {"name": "abcd", "password": SECRET}, None, "application/json", "user"),
        ("", {"name": "abcd", "repo_type": "gitlab"}, None, "application/json", "token_type"),
        (
            "",
            {"name": "abcd", "repo_type": "gitlab", "token": SECRET, "password": SECRET},
            None,
            "application/json",
            "token_type",
        ),
        (
            "",
            {"name": "abcd", "repo_type": "gitlab", "token_type": "personal", "password": SECRET},
            None,
            "application/json",
            "password",
        ),
        ("", {"name": "abcd", "repo_type": 7, "token": SECRET}, None, "application/json", "repo_type"),
        (
            "",
            {"name": "abcd", "repo_type": "gitlab", "token_type": "magic", "token": SECRET},
            None,
            "application/json",
            "token_type",
        ),
        (
            "",
            {
                "name": "abcd",
                "repo_type": "gitlab",
                "token": SECRET,
                "host": "https://a.example",
                "repo_host": "https://b.example",
            },
            None,
            "application/json",
            "host",
        ),
    ],
)
def test_invalid_bodies_are_400_and_save_nothing(world, suffix, body, raw, content_type, field):
    """E9: any malformed body → 400 SVCSTG.REPO.0400 with a clear message (never a 500), naming the
    field when there is one, never quoting a secret, and nothing saved."""
    before = counts()
    response = call(
        world, "developer", "POST", auths_url(world.project, suffix), body, raw=raw, content_type=content_type
    )
    found = check_svcstg(response, 400, "0400")
    if field is not None:
        assert field in found["errors"], found
        if field != "non_field_errors":
            assert field in found["error_msg"]
    assert SECRET not in response.content.decode()
    assert counts() == before


@pytest.mark.parametrize(
    ("suffix", "body"),
    [
        ("/svn/personal", {"name": "abcd", "token": SECRET}),
        ("/devcloud/personal", {"name": "abcd", "token": SECRET}),
        ("/codeup/password", {"name": "abcd", "user": "u", "password": SECRET}),
        ("", {"name": "abcd", "repo_type": "perforce", "token": SECRET}),
    ],
)
def test_unsupported_repository_types_are_0401(world, suffix, body):
    """E9: a repository type (or type and kind) this console cannot authorize → 400 SVCSTG.REPO.0401."""
    before = counts()
    check_svcstg(call(world, "developer", "POST", auths_url(world.project, suffix), body), 400, "0401")
    assert counts() == before


@pytest.mark.parametrize("name", ["taken-name", "TAKEN-NAME"])
def test_duplicate_name_is_0403(world, name):
    """E9: a name already used by any endpoint of the project → 400 SVCSTG.REPO.0403, nothing saved."""
    endpoint(world, "manager", "taken-name", "docker_registry")
    before = counts()
    body = check_svcstg(
        call(world, "developer", "POST", auths_url(world.project, PERSONAL), {"name": name, "token": SECRET}),
        400,
        "0403",
    )
    assert name in body["error_msg"]
    assert counts() == before


def test_schema_lists_the_v1_paths(client, world):
    """I3: the OpenAPI schema still builds and documents the seed-compatible paths."""
    client.force_login(world.users["creator"])
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/v1/{project_id}/git/auths" in schema.content
