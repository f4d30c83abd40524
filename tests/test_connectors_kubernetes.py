"""Kubernetes connector (E7): GET {url}/version with the kubeconfig's current-context credentials.

No real Kubernetes API server can run here. Client certificates are checked by a REAL mutual-TLS
server from tests.servers (it requires a certificate issued by the test CA); bearer-token and basic
credentials are checked by a pytest-httpserver STAND-IN.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import tempfile

import pytest
import yaml
from werkzeug import Request, Response

from endpoints import connectors
from endpoints.connectors.kubernetes import parse_kubeconfig
from tests.servers.https import HttpsServer, RecordedRequest

VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.2"}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def kubeconfig(server: str, user: dict, *, ca_pem: str = "", extra_contexts: bool = False) -> str:
    cluster = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = _b64(ca_pem)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "prod",
        "clusters": [{"name": "prod-cluster", "cluster": cluster}],
        "users": [{"name": "prod-user", "user": user}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod-cluster", "user": "prod-user"}}],
    }
    if extra_contexts:
        config["clusters"].insert(0, {"name": "dev-cluster", "cluster": {"server": "https://dev.invalid"}})
        config["users"].insert(0, {"name": "dev-user", "user": {"token": "dev-token-should-not-be-used"}})
        config["contexts"].insert(0, {"name": "dev", "context": {"cluster": "dev-cluster", "user": "dev-user"}})
    return yaml.safe_dump(config)


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    directory = tmp_path / "connector-tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


@pytest.fixture
def mtls_api(test_ca, tmp_path, monkeypatch):
    """A real HTTPS server requiring a client certificate from the test CA; answers /version.

    While answering, it records which files the connector has in its private temp directory
    (``private_tmp``, made the process's tempdir once the server itself is up).
    """
    files_during_request: list[dict] = []
    private_tmp = tmp_path / "connector-tmp"

    def respond(request: RecordedRequest):
        files_during_request.append(
            {p.name: stat.S_IMODE(p.stat().st_mode) for p in private_tmp.rglob("*") if p.is_file()}
        )
        if request.path != "/version":
            return 404, {}, b"{}"
        return 200, {"Content-Type": "application/json"}, json.dumps(VERSION).encode()

    server = HttpsServer(test_ca, require_client_cert=True, responder=respond).start()
    server.files_during_request = files_during_request
    server.private_tmp = private_tmp
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_client_certificate_over_real_mtls(mtls_api, test_ca):
    """E7: client-certificate-data/client-key-data authenticate over real mutual TLS; the cluster CA
    comes from certificate-authority-data; key files are 0600 during the call and deleted after."""
    client = test_ca.issue("kube-admin", client=True)
    config = kubeconfig(
        mtls_api.url,
        {"client-certificate-data": _b64(client.cert_pem), "client-key-data": _b64(client.key_pem)},
        ca_pem=test_ca.ca_pem,
    )
    result = connectors.verify("kubernetes", {"url": mtls_api.url}, {"kubeconfig": config})
    assert result == connectors.VerifyResult(0, "Kubernetes v1.30.2 reachable, credentials accepted")
    assert mtls_api.requests[-1].client_cert_subject == "kube-admin"
    during = mtls_api.files_during_request[-1]
    assert during.get("client.key") == 0o600 and during.get("client.crt") == 0o600
    assert list(mtls_api.private_tmp.iterdir()) == [], "certificate material was left behind"


@pytest.mark.slow
def test_missing_client_certificate_is_refused_by_mtls(mtls_api, test_ca):
    """E7: the same server refuses a kubeconfig without a client certificate (TLS failure, status 3)."""
    config = kubeconfig(mtls_api.url, {"token": "some-token-123"}, ca_pem=test_ca.ca_pem)
    result = connectors.verify("kubernetes", {"url": mtls_api.url}, {"kubeconfig": config})
    assert result.status == 3
    assert "TLS" in result.detail
    assert "some-token-123" not in result.detail


@pytest.mark.slow
def test_cluster_ca_is_required_for_trust(mtls_api, test_ca):
    """E7: without certificate-authority-data the API server's certificate is not trusted."""
    client = test_ca.issue("kube-admin", client=True)
    config = kubeconfig(
        mtls_api.url, {"client-certificate-data": _b64(client.cert_pem), "client-key-data": _b64(client.key_pem)}
    )
    result = connectors.verify("kubernetes", {"url": mtls_api.url}, {"kubeconfig": config})
    assert result.status == 3
    assert "TLS certificate verification failed" in result.detail


@pytest.fixture
def kube_standin(httpserver):
    """pytest-httpserver stand-in for /version: accepts one bearer token and one basic login."""

    def version(request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        basic = "Basic " + base64.b64encode(b"admin:kube-pass-1").decode()
        if auth in ("Bearer good-sa-token", basic):
            return Response(json.dumps(VERSION), content_type="application/json")
        return Response(
            json.dumps({"kind": "Status", "code": 401, "message": "Unauthorized"}),
            status=401,
            content_type="application/json",
        )

    httpserver.expect_request("/version").respond_with_handler(version)
    return httpserver.url_for("/").rstrip("/")


def test_bearer_token(kube_standin):
    """E7: user.token is sent as a Bearer token; a wrong one gives status 2."""
    good = kubeconfig(kube_standin, {"token": "good-sa-token"})
    bad = kubeconfig(kube_standin, {"token": "bad-sa-token"})
    assert connectors.verify("kubernetes", {"url": kube_standin}, {"kubeconfig": good}).status == 0
    result = connectors.verify("kubernetes", {"url": kube_standin}, {"kubeconfig": bad})
    assert result.status == 2 and "bad-sa-token" not in result.detail


def test_basic_credentials(kube_standin):
    """E7: user.username/password are sent as basic auth."""
    good = kubeconfig(kube_standin, {"username": "admin", "password": "kube-pass-1"})
    bad = kubeconfig(kube_standin, {"username": "admin", "password": "kube-pass-2"})
    assert connectors.verify("kubernetes", {"url": kube_standin}, {"kubeconfig": good}).status == 0
    assert connectors.verify("kubernetes", {"url": kube_standin}, {"kubeconfig": bad}).status == 2


def test_current_context_selects_user_and_server(kube_standin):
    """E7: with several contexts, the current context's user is used; an empty url field falls
    back to the current cluster's server."""
    config = kubeconfig(kube_standin, {"token": "good-sa-token"}, extra_contexts=True)
    assert connectors.verify("kubernetes", {"url": ""}, {"kubeconfig": config}).status == 0


def test_stand_in_client_cert_files_are_cleaned_up(kube_standin, test_ca, private_tmp):
    """E7: cert/key temp files are removed even when the server rejects the call."""
    client = test_ca.issue("kube-admin", client=True)
    config = kubeconfig(
        kube_standin, {"client-certificate-data": _b64(client.cert_pem), "client-key-data": _b64(client.key_pem)}
    )
    result = connectors.verify("kubernetes", {"url": kube_standin}, {"kubeconfig": config})
    assert result.status == 2  # plain HTTP carries no client certificate, so the stand-in says 401
    assert os.listdir(private_tmp) == []


@pytest.mark.parametrize(
    "text,reason",
    [
        ("::: not yaml :::\n  - [", "not valid YAML"),
        ("apiVersion: v1\nclusters: []\n", "no current-context"),
        ("current-context: x\ncontexts: []\n", "current context 'x' is not among the contexts"),
    ],
)
def test_unusable_kubeconfig_is_unauthenticated(text, reason):
    """E7: a kubeconfig that does not parse or lacks its current context gives status 2 with a reason."""
    result = connectors.verify("kubernetes", {"url": "https://127.0.0.1:1"}, {"kubeconfig": text})
    assert result.status == 2
    assert reason in result.detail


@pytest.mark.parametrize(
    "user,reason",
    [
        ({"exec": {"command": "aws", "args": ["eks", "get-token"]}}, "exec"),
        ({"client-key": "/etc/ssl/private/key.pem", "client-certificate": "/etc/ssl/c.pem"}, "refers to a file"),
        ({"tokenFile": "/var/run/secrets/token"}, "refers to a file"),
    ],
)
def test_plugins_and_file_paths_are_refused(user, reason):
    """E7: a user-supplied kubeconfig may not run commands or read server files."""
    result = connectors.verify(
        "kubernetes", {"url": "https://127.0.0.1:1"}, {"kubeconfig": kubeconfig("https://127.0.0.1:1", user)}
    )
    assert result.status == 2
    assert reason in result.detail


def test_parse_kubeconfig_reads_embedded_data(test_ca):
    """E7: embedded base64 data is decoded."""
    target = parse_kubeconfig(kubeconfig("https://k:6443", {"token": "t0k"}, ca_pem=test_ca.ca_pem))
    assert target.server == "https://k:6443"
    assert target.ca_pem == test_ca.ca_pem
    assert target.token == "t0k"


def test_parse_kubeconfig_gives_the_current_contexts_namespace():
    """A Kubernetes deploy without a namespace of its own uses the one of the kubeconfig's current context."""
    config = yaml.safe_load(kubeconfig("https://k:6443", {"token": "t0k"}, extra_contexts=True))
    config["contexts"][0]["context"]["namespace"] = "dev-ns"  # not the current context
    config["contexts"][1]["context"]["namespace"] = "shop"
    assert parse_kubeconfig(yaml.safe_dump(config)).namespace == "shop"
    assert parse_kubeconfig(kubeconfig("https://k:6443", {"token": "t0k"})).namespace == ""
