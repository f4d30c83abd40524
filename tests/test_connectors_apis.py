"""Hosted-API connectors against pytest-httpserver STAND-INS (E7 verify, E10 browse).

No real GitHub, GitLab, Bitbucket or Codeup can run here, so each stand-in answers like the real API
and checks what a real one would check (JWT signature and claims, token headers, basic auth).
"""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug import Request, Response

from endpoints import connectors

# --------------------------------------------------------------------------------------- GitHub App

CLIENT_ID = "Iv23liTestClient"
INSTALLATION = "4242"
INSTALLATION_TOKEN = "ghs_installationTokenValue123"


def _rsa_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def github(httpserver, app_key):
    """GitHub stand-in: the access-token endpoint verifies the app JWT like GitHub does."""
    seen: list[dict] = []

    def access_tokens(request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or request.headers.get("Accept") != "application/vnd.github+json":
            return Response(json.dumps({"message": "bad request"}), status=400)
        try:
            claims = jwt.decode(
                auth[7:], app_key.public_key(), algorithms=["RS256"], options={"require": ["iat", "exp", "iss"]}
            )
        except jwt.PyJWTError as exc:
            seen.append({"error": type(exc).__name__})
            return Response(json.dumps({"message": "A JSON web token could not be decoded"}), status=401)
        now = time.time()
        if claims["iss"] != CLIENT_ID or claims["exp"] - claims["iat"] > 600 or claims["iat"] > now:
            seen.append({"error": "claims", **claims})
            return Response(json.dumps({"message": "bad claims"}), status=401)
        seen.append(claims)
        return Response(
            json.dumps({"token": INSTALLATION_TOKEN, "expires_at": "2030-01-01T00:00:00Z"}),
            status=201,
            content_type="application/json",
        )

    httpserver.expect_request(f"/app/installations/{INSTALLATION}/access_tokens", method="POST").respond_with_handler(
        access_tokens
    )
    httpserver.expect_request("/app/installations/999/access_tokens", method="POST").respond_with_json(
        {"message": "Not Found"}, status=404
    )
    return seen


def _github_fields(httpserver, installation: str = INSTALLATION) -> dict:
    return {"client_id": CLIENT_ID, "installation_id": installation, "api_url": httpserver.url_for("/").rstrip("/")}


def test_github_app_jwt_is_verified_by_stand_in(httpserver, github, app_key):
    """E7: a correctly signed RS256 JWT (iss = client ID, iat now-60, exp now+540) gets a token: status 0."""
    result = connectors.verify("github_app", _github_fields(httpserver), {"private_key": _rsa_pem(app_key)})
    assert result.status == 0, result.detail
    assert "installation access token issued" in result.detail
    assert INSTALLATION_TOKEN not in result.detail
    claims = github[-1]
    assert claims["iss"] == CLIENT_ID
    assert claims["exp"] - claims["iat"] == 600
    assert abs(claims["iat"] - (time.time() - 60)) < 10


def test_github_app_wrong_key_is_unauthenticated(httpserver, github):
    """E7: a JWT signed with another key fails the stand-in's signature check: 401 -> status 2."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    result = connectors.verify("github_app", _github_fields(httpserver), {"private_key": _rsa_pem(other)})
    assert result.status == 2
    assert github[-1] == {"error": "InvalidSignatureError"}


def test_github_app_unknown_installation(httpserver, github, app_key):
    """E7: 404 from the access-token endpoint is status 2 "installation not found"."""
    result = connectors.verify("github_app", _github_fields(httpserver, "999"), {"private_key": _rsa_pem(app_key)})
    assert result == connectors.VerifyResult(2, "unauthenticated: installation not found")


def test_github_app_invalid_pem(httpserver, github):
    """E7: an unusable private key is status 2 and the key text is not echoed."""
    result = connectors.verify("github_app", _github_fields(httpserver), {"private_key": "-----BEGIN junk-----"})
    assert result.status == 2
    assert "private key" in result.detail and "junk" not in result.detail


def test_github_app_browse_with_pagination(httpserver, github, app_key):
    """E10: repositories (Link rel=next pagination), branches and tags with the installation token."""
    token = {"Authorization": f"Bearer {INSTALLATION_TOKEN}"}
    page2 = httpserver.url_for("/installation/repositories") + "?per_page=100&page=2"
    httpserver.expect_request(
        "/installation/repositories", headers=token, query_string="per_page=100"
    ).respond_with_json(
        {
            "total_count": 2,
            "repositories": [{"name": "app", "full_name": "org/app", "clone_url": "https://github.com/org/app.git"}],
        },
        headers={"Link": f'<{page2}>; rel="next", <{page2}>; rel="last"'},
    )
    httpserver.expect_request(
        "/installation/repositories", headers=token, query_string="per_page=100&page=2"
    ).respond_with_json(
        {
            "total_count": 2,
            "repositories": [{"name": "lib", "full_name": "org/lib", "clone_url": "https://github.com/org/lib.git"}],
        }
    )
    httpserver.expect_request("/repos/org/app/branches", headers=token).respond_with_json(
        [{"name": "main"}, {"name": "release/1.0"}]
    )
    httpserver.expect_request("/repos/org/app/tags", headers=token).respond_with_json([{"name": "v1.0.0"}])
    fields, secrets = _github_fields(httpserver), {"private_key": _rsa_pem(app_key)}
    assert connectors.list_repositories("github_app", fields, secrets) == [
        {"name": "app", "full_name": "org/app", "clone_url": "https://github.com/org/app.git"},
        {"name": "lib", "full_name": "org/lib", "clone_url": "https://github.com/org/lib.git"},
    ]
    assert connectors.list_branches("github_app", fields, secrets, "org/app") == ["main", "release/1.0"]
    assert connectors.list_tags("github_app", fields, secrets, "org/app") == ["v1.0.0"]
    with pytest.raises(connectors.ConnectorError, match="owner/name"):
        connectors.list_branches("github_app", fields, secrets, "../../etc")


def test_github_pagination_is_capped(httpserver, github, app_key):
    """E10: pagination stops at 1000 items even if the server keeps offering a next page."""
    calls = []

    def endless(request: Request) -> Response:
        page = int(request.args.get("page", "1"))
        calls.append(page)
        nxt = httpserver.url_for("/repos/org/big/branches") + f"?per_page=100&page={page + 1}"
        return Response(
            json.dumps([{"name": f"b{page}-{i}"} for i in range(100)]),
            content_type="application/json",
            headers={"Link": f'<{nxt}>; rel="next"'},
        )

    httpserver.expect_request("/repos/org/big/branches").respond_with_handler(endless)
    names = connectors.list_branches(
        "github_app", _github_fields(httpserver), {"private_key": _rsa_pem(app_key)}, "org/big"
    )
    assert len(names) == 1000
    assert calls == list(range(1, 11))


# --------------------------------------------------------------------------------------------- GitLab

GITLAB_TOKEN = "glpat-goodTokenValue"


@pytest.fixture
def gitlab(httpserver):
    """GitLab stand-in: /api/v4/user checks PRIVATE-TOKEN; one token is expired."""

    def user(request: Request) -> Response:
        token = request.headers.get("PRIVATE-TOKEN")
        if token == GITLAB_TOKEN:
            return Response(json.dumps({"id": 1, "username": "alice"}), content_type="application/json")
        if token == "glpat-expired":
            body = {"error": "invalid_token", "error_description": "Token has expired."}
        else:
            body = {"message": "401 Unauthorized"}
        return Response(json.dumps(body), status=401, content_type="application/json")

    httpserver.expect_request("/api/v4/user").respond_with_handler(user)
    return {"url": httpserver.url_for("/").rstrip("/"), "username": "alice"}


def test_gitlab_token_header_checked(gitlab):
    """E7: the PRIVATE-TOKEN header is sent: right token 0, wrong 2, expired 1 (overdue)."""
    assert connectors.verify("gitlab", gitlab, {"token": GITLAB_TOKEN}) == connectors.VerifyResult(
        0, "authenticated as @alice"
    )
    wrong = connectors.verify("gitlab", gitlab, {"token": "glpat-wrongwrong"})
    assert wrong.status == 2 and "glpat-wrongwrong" not in wrong.detail
    assert connectors.verify("gitlab", gitlab, {"token": "glpat-expired"}).status == 1


def test_gitlab_browse(httpserver):
    """E10: projects (X-Next-Page pagination), branches and tags with URL-encoded project paths."""
    header = {"PRIVATE-TOKEN": GITLAB_TOKEN}
    raw_uris: list[str] = []
    httpserver.expect_request(
        "/api/v4/projects", headers=header, query_string={"membership": "true", "simple": "true", "per_page": "100"}
    ).respond_with_json(
        [{"name": "App", "path_with_namespace": "group/app", "http_url_to_repo": "https://gl.example/group/app.git"}],
        headers={"X-Next-Page": "2"},
    )
    httpserver.expect_request(
        "/api/v4/projects",
        headers=header,
        query_string={"membership": "true", "simple": "true", "per_page": "100", "page": "2"},
    ).respond_with_json(
        [
            {
                "name": "Lib",
                "path_with_namespace": "group/sub/lib",
                "http_url_to_repo": "https://gl.example/group/sub/lib.git",
            }
        ],
        headers={"X-Next-Page": ""},
    )

    def branches(request: Request) -> Response:
        raw_uris.append(request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI", ""))
        return Response(json.dumps([{"name": "main"}, {"name": "dev"}]), content_type="application/json")

    httpserver.expect_request(
        "/api/v4/projects/group/sub/lib/repository/branches", headers=header
    ).respond_with_handler(branches)
    httpserver.expect_request("/api/v4/projects/group/sub/lib/repository/tags", headers=header).respond_with_json(
        [{"name": "v3"}]
    )
    fields, secrets = {"url": httpserver.url_for("/").rstrip("/")}, {"token": GITLAB_TOKEN}
    assert connectors.list_repositories("gitlab", fields, secrets) == [
        {"name": "App", "full_name": "group/app", "clone_url": "https://gl.example/group/app.git"},
        {"name": "Lib", "full_name": "group/sub/lib", "clone_url": "https://gl.example/group/sub/lib.git"},
    ]
    assert connectors.list_branches("gitlab", fields, secrets, "group/sub/lib") == ["main", "dev"]
    assert raw_uris and raw_uris[0].startswith("/api/v4/projects/group%2Fsub%2Flib/repository/branches")
    assert connectors.list_tags("gitlab", fields, secrets, "group/sub/lib") == ["v3"]


def test_gitlab_browse_unauthenticated(httpserver, gitlab):
    """E10: a 401 while browsing raises a ConnectorError with status 2."""
    httpserver.expect_request("/api/v4/projects").respond_with_json({"message": "401 Unauthorized"}, status=401)
    with pytest.raises(connectors.ConnectorError) as info:
        connectors.list_repositories("gitlab", gitlab, {"token": "bad"})
    assert info.value.status == 2


# ------------------------------------------------------------------------------------------ Bitbucket


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_bitbucket_verify(httpserver):
    """E7: GET /user with basic auth username:token (the username part of workspace/username)."""
    httpserver.expect_request("/2.0/user", headers=_basic("alice", "app-pw-123")).respond_with_json(
        {"username": "alice", "display_name": "Alice"}
    )
    httpserver.expect_request("/2.0/user").respond_with_json({"type": "error"}, status=401)
    fields = {"username": "team-ws/alice", "api_url": httpserver.url_for("/2.0")}
    assert connectors.verify("bitbucket", fields, {"token": "app-pw-123"}) == connectors.VerifyResult(
        0, "authenticated as alice"
    )
    assert connectors.verify("bitbucket", fields, {"token": "wrong-pw-456"}).status == 2


def test_bitbucket_browse_follows_next(httpserver):
    """E10: repositories of the workspace (following "next"), branches and tags."""
    auth = _basic("alice", "app-pw-123")
    nxt = httpserver.url_for("/2.0/repositories/team-ws") + "?pagelen=100&page=2"
    httpserver.expect_request("/2.0/repositories/team-ws", headers=auth, query_string="pagelen=100").respond_with_json(
        {
            "values": [
                {
                    "name": "app",
                    "full_name": "team-ws/app",
                    "links": {
                        "clone": [
                            {"name": "https", "href": "https://alice@bitbucket.org/team-ws/app.git"},
                            {"name": "ssh", "href": "git@bitbucket.org:team-ws/app.git"},
                        ]
                    },
                }
            ],
            "next": nxt,
        }
    )
    httpserver.expect_request(
        "/2.0/repositories/team-ws", headers=auth, query_string="pagelen=100&page=2"
    ).respond_with_json({"values": [{"name": "lib", "full_name": "team-ws/lib", "links": {}}]})
    httpserver.expect_request("/2.0/repositories/team-ws/app/refs/branches", headers=auth).respond_with_json(
        {"values": [{"name": "main"}, {"name": "hotfix"}]}
    )
    httpserver.expect_request("/2.0/repositories/team-ws/app/refs/tags", headers=auth).respond_with_json(
        {"values": [{"name": "1.0"}]}
    )
    fields, secrets = {"username": "team-ws/alice", "api_url": httpserver.url_for("/2.0")}, {"token": "app-pw-123"}
    assert connectors.list_repositories("bitbucket", fields, secrets) == [
        {"name": "app", "full_name": "team-ws/app", "clone_url": "https://alice@bitbucket.org/team-ws/app.git"},
        {"name": "lib", "full_name": "team-ws/lib", "clone_url": ""},
    ]
    assert connectors.list_branches("bitbucket", fields, secrets, "team-ws/app") == ["main", "hotfix"]
    assert connectors.list_tags("bitbucket", fields, secrets, "team-ws/app") == ["1.0"]


def test_bitbucket_next_link_to_other_host_is_refused(httpserver):
    """E10: a "next" link pointing at another host is not followed with the credentials."""
    httpserver.expect_request("/2.0/repositories/ws/app/refs/tags").respond_with_json(
        {"values": [{"name": "a"}], "next": "https://evil.example/steal"}
    )
    with pytest.raises(connectors.ConnectorError, match="another host"):
        connectors.list_tags(
            "bitbucket", {"username": "ws/u", "api_url": httpserver.url_for("/2.0")}, {"token": "tok-123"}, "ws/app"
        )


# --------------------------------------------------------------------------------------------- Codeup


def test_codeup_verify(httpserver):
    """E7: GET /oapi/v1/platform/user with the x-yunxiao-token header."""
    httpserver.expect_request("/oapi/v1/platform/user", headers={"x-yunxiao-token": "pt-good-token"}).respond_with_json(
        {"id": "u1", "username": "bob", "name": "Bob"}
    )
    httpserver.expect_request("/oapi/v1/platform/user").respond_with_json(
        {"errorCode": "Unauthorized", "errorMessage": "invalid token"}, status=401
    )
    fields = {"username": "bob", "api_url": httpserver.url_for("/").rstrip("/")}
    assert connectors.verify("codeup", fields, {"token": "pt-good-token"}) == connectors.VerifyResult(
        0, "authenticated as bob"
    )
    assert connectors.verify("codeup", fields, {"token": "pt-bad-token"}).status == 2


def test_codeup_repositories(httpserver):
    """E10: repositories of the organization via the OpenAPI (paged with x-next-page)."""
    header = {"x-yunxiao-token": "pt-good-token"}
    base = "/oapi/v1/codeup/organizations/org-1/repositories"
    httpserver.expect_request(base, headers=header, query_string={"page": "1", "perPage": "100"}).respond_with_json(
        [{"name": "app", "pathWithNamespace": "org-1/app", "webUrl": "https://codeup.aliyun.com/org-1/app"}],
        headers={"x-next-page": "2"},
    )
    httpserver.expect_request(base, headers=header, query_string={"page": "2", "perPage": "100"}).respond_with_json(
        [{"name": "lib", "pathWithNamespace": "org-1/lib", "webUrl": "https://codeup.aliyun.com/org-1/lib"}],
        headers={"x-next-page": ""},
    )
    fields = {"username": "bob", "api_url": httpserver.url_for("/").rstrip("/"), "organization_id": "org-1"}
    assert connectors.list_repositories("codeup", fields, {"token": "pt-good-token"}) == [
        {"name": "app", "full_name": "org-1/app", "clone_url": "https://codeup.aliyun.com/org-1/app.git"},
        {"name": "lib", "full_name": "org-1/lib", "clone_url": "https://codeup.aliyun.com/org-1/lib.git"},
    ]
    with pytest.raises(connectors.ConnectorError, match="organization ID"):
        connectors.list_repositories("codeup", dict(fields, organization_id=""), {"token": "pt-good-token"})


def test_non_browsable_types_say_so():
    """E10: Docker, Kubernetes and IAM endpoints are not code sources."""
    for type_key in ("docker_registry", "kubernetes", "iam_user"):
        with pytest.raises(connectors.ConnectorError, match="cannot be browsed"):
            connectors.list_repositories(type_key, {}, {})
