"""Connectors against Debian's REAL docker-registry (htpasswd/bcrypt and token auth): E7."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from endpoints import connectors
from endpoints.connectors.docker_registry import parse_challenge
from tests.servers._util import free_port

pytestmark = pytest.mark.slow


def test_right_password_is_normal(docker_registry):
    """E7: GET /v2/ with basic auth accepted by the real registry gives status 0."""
    fields = {"url": docker_registry.url, "username": docker_registry.username}
    result = connectors.verify("docker_registry", fields, {"password": docker_registry.password})
    assert result.status == 0, result.detail
    assert "registry/2.0" in result.detail


def test_wrong_password_is_unauthenticated(docker_registry):
    """E7: the registry's 401 for a wrong password gives status 2; the detail never quotes it."""
    fields = {"url": docker_registry.url, "username": docker_registry.username}
    result = connectors.verify("docker_registry", fields, {"password": "wrong-registry-pw"})
    assert result.status == 2
    assert "wrong-registry-pw" not in result.detail


def test_no_credentials_is_unauthenticated(docker_registry):
    """E7: an auth-protected registry without credentials is unauthenticated, not normal."""
    assert connectors.verify("docker_registry", {"url": docker_registry.url}, {}).status == 2


def test_trailing_v2_in_url_is_accepted(docker_registry):
    """E7: an address given as .../v2/ still checks /v2/ (not /v2/v2/)."""
    fields = {"url": docker_registry.url + "/v2/", "username": docker_registry.username}
    assert connectors.verify("docker_registry", fields, {"password": docker_registry.password}).status == 0


def test_registry_down_is_unreachable():
    """E7: nothing listening gives status 3 with a short reason."""
    result = connectors.verify(
        "docker_registry", {"url": f"http://127.0.0.1:{free_port()}", "username": "u"}, {"password": "p"}, timeout=3
    )
    assert result.status == 3
    assert result.detail == "unreachable: connection refused"


def test_token_registry_challenges_with_bearer(docker_registry_token):
    """E7: the real registry configured with ``auth: token`` answers 401 with a Bearer challenge."""
    response = requests.get(docker_registry_token.url + "/v2/", timeout=5)
    scheme, params = parse_challenge(response.headers["WWW-Authenticate"])
    assert response.status_code == 401
    assert scheme == "bearer"
    assert params["realm"] == docker_registry_token.token_server.realm
    assert params["service"] == "test-registry"


def test_bearer_flow_right_password(docker_registry_token):
    """E7: 401 Bearer challenge -> realm with basic auth -> token -> /v2/ with Bearer -> status 0."""
    before = len(docker_registry_token.token_server.issued)
    fields = {"url": docker_registry_token.url, "username": docker_registry_token.username}
    result = connectors.verify("docker_registry", fields, {"password": docker_registry_token.password})
    assert result.status == 0, result.detail
    assert "token accepted" in result.detail
    issued = docker_registry_token.token_server.issued[before:]
    assert [c["sub"] for c in issued] == [docker_registry_token.username]
    assert issued[0]["aud"] == "test-registry"


def test_bearer_flow_wrong_password(docker_registry_token):
    """E7: the token service refuses a wrong password: status 2, nothing issued, no secret in detail."""
    before = len(docker_registry_token.token_server.issued)
    fields = {"url": docker_registry_token.url, "username": docker_registry_token.username}
    result = connectors.verify("docker_registry", fields, {"password": "bad-token-pw"})
    assert result.status == 2
    assert "bad-token-pw" not in result.detail
    assert len(docker_registry_token.token_server.issued) == before


def test_real_registry_rejects_forged_tokens(docker_registry_token):
    """E7: the token stand-in is trusted for real: a token signed by another key is refused (401),
    while one from the token server is accepted (200)."""
    server = docker_registry_token.token_server
    good = server.issue(docker_registry_token.username, "test-registry", "")
    now = int(time.time())
    forged = jwt.encode(
        {
            "iss": "test-token-issuer",
            "sub": "x",
            "aud": "test-registry",
            "exp": now + 60,
            "nbf": now - 10,
            "iat": now,
            "jti": "f",
            "access": [],
        },
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
    )
    url = docker_registry_token.url + "/v2/"
    assert requests.get(url, headers={"Authorization": f"Bearer {good}"}, timeout=5).status_code == 200
    assert requests.get(url, headers={"Authorization": f"Bearer {forged}"}, timeout=5).status_code == 401


def test_parse_challenge():
    """E7: WWW-Authenticate parameters are parsed, quoted or not."""
    scheme, params = parse_challenge('Bearer realm="https://auth.example/token",service="reg",scope=repo:x:pull')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.example/token", "service": "reg", "scope": "repo:x:pull"}
