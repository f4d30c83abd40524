"""Connector safety rules: no link-local / metadata targets, no secrets in messages, no cross-host
redirects with credentials (E7, E10)."""

from __future__ import annotations

import socket
import subprocess

import pytest
import requests
from werkzeug import Response

from endpoints import connectors
from endpoints.connectors import _gitcmd
from endpoints.connectors._net import is_forbidden_address

METADATA = "address not allowed: link-local/metadata"


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if any connector tries to talk to the network or start git."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError("network call attempted")

    monkeypatch.setattr(requests.Session, "request", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(_gitcmd.subprocess, "Popen", refuse)
    return calls


@pytest.mark.parametrize(
    "type_key,fields,secrets",
    [
        ("docker_registry", {"url": "http://169.254.169.254", "username": "u"}, {"password": "p"}),
        ("kubernetes", {"url": "https://169.254.169.254"}, {"kubeconfig": ""}),
        ("git", {"url": "https://169.254.169.254/latest/meta-data.git", "username": "u"}, {"password": "p"}),
        ("hosted_repo", {"url": "https://169.254.169.254", "username": "t/u"}, {"password": "p"}),
        ("hosted_repo", {"url": "https://169.254.169.254", "username": "t/u", "repository": "a/b"}, {"password": "p"}),
        (
            "github_app",
            {"client_id": "c", "installation_id": "1", "api_url": "http://169.254.169.254"},
            {"private_key": ""},
        ),
        ("gitlab", {"url": "http://169.254.169.254", "username": "u"}, {"token": "t"}),
        ("bitbucket", {"username": "w/u", "api_url": "http://169.254.169.254/2.0"}, {"token": "t"}),
        ("codeup", {"username": "u", "api_url": "http://169.254.169.254"}, {"token": "t"}),
        ("iam_user", {"access_key_id": "AK", "url": "http://169.254.169.254"}, {"secret_access_key": "sk"}),
    ],
)
def test_metadata_address_refused_without_network_call(type_key, fields, secrets, no_network):
    """E7: every type refuses 169.254.169.254 before any network call (status 3, fixed detail)."""
    kubeconfig = (
        "apiVersion: v1\ncurrent-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
        "clusters: [{name: k, cluster: {server: 'https://169.254.169.254'}}]\n"
        "users: [{name: u, user: {token: abc}}]\n"
    )
    if type_key == "kubernetes":
        secrets = {"kubeconfig": kubeconfig}
    if type_key == "github_app":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        secrets = {
            "private_key": key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()
        }
    result = connectors.verify(type_key, fields, secrets)
    assert result == connectors.VerifyResult(3, METADATA)
    assert no_network == []


def test_browse_refuses_metadata_address(no_network):
    """E10: browsing raises AddressNotAllowed for a link-local URL, without a network call."""
    with pytest.raises(connectors.AddressNotAllowed, match="link-local/metadata"):
        connectors.list_branches("git", {"url": "https://169.254.169.254/x.git"}, {"password": "p"}, "")
    with pytest.raises(connectors.AddressNotAllowed):
        connectors.list_repositories("gitlab", {"url": "http://169.254.10.10"}, {"token": "t"})
    assert no_network == []


def test_host_names_resolving_to_metadata_are_refused(monkeypatch, no_network):
    """E7: the check is on resolved addresses, so a DNS name pointing at fd00:ec2::254 is refused too."""

    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fd00:ec2::254", port, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    result = connectors.verify("gitlab", {"url": "https://metadata.example.internal"}, {"token": "t"})
    assert result == connectors.VerifyResult(3, METADATA)


@pytest.mark.parametrize(
    "address,forbidden",
    [
        ("169.254.169.254", True),
        ("169.254.0.1", True),
        ("fe80::1", True),
        ("fe80::1%eth0", True),
        ("fd00:ec2::254", True),
        ("::ffff:169.254.169.254", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("10.0.0.1", False),
        ("192.168.1.1", False),
        ("fd00:ec2::253", False),
    ],
)
def test_forbidden_address_ranges(address, forbidden):
    """E7: exactly link-local v4/v6 and the EC2 IPv6 metadata address are forbidden; loopback is allowed."""
    assert is_forbidden_address(address) is forbidden


def test_allow_link_local_lets_the_call_through(monkeypatch):
    """E7: allow_link_local=True skips the refusal (the request is really attempted)."""
    attempted = []

    def fake_request(self, method, url, **kwargs):
        attempted.append(url)
        raise requests.ConnectionError("Connection refused")

    monkeypatch.setattr(requests.Session, "request", fake_request)
    result = connectors.verify("docker_registry", {"url": "http://169.254.169.254"}, {}, allow_link_local=True)
    assert attempted == ["http://169.254.169.254/v2/"]
    assert result == connectors.VerifyResult(3, "unreachable: connection refused")


def test_redirect_to_another_host_is_not_followed(httpserver):
    """E7: credentials never follow a redirect to another host (e.g. the metadata service)."""
    httpserver.expect_request("/api/v4/user").respond_with_response(
        Response(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    )
    result = connectors.verify("gitlab", {"url": httpserver.url_for("/").rstrip("/")}, {"token": "tok-abc"})
    assert result.status == 3
    assert "redirected to another host" in result.detail


def test_same_host_redirect_is_followed(httpserver):
    """E7: a redirect within the same host is followed with the credentials."""
    httpserver.expect_request("/old/api/v4/user").respond_with_response(
        Response(status=301, headers={"Location": "/new/api/v4/user"})
    )
    httpserver.expect_request("/new/api/v4/user", headers={"PRIVATE-TOKEN": "tok-abc"}).respond_with_json(
        {"username": "alice"}
    )
    result = connectors.verify("gitlab", {"url": httpserver.url_for("/old")}, {"token": "tok-abc"})
    assert result == connectors.VerifyResult(0, "authenticated as @alice")


def test_scrub_replaces_every_secret():
    """E5/E7: the scrub helper removes each secret value, longest first."""
    text = "user=alice token=abc123def key=abc123defXYZ"
    assert connectors.scrub(text, ["abc123def", "abc123defXYZ", ""]) == "user=alice token=*** key=***"
    # very short values are scrubbed where they stand alone, not inside other words
    assert connectors.scrub("https://h failed for pw (p)", ["p", "pw"]) == "https://h failed for *** (***)"


def test_unexpected_errors_never_leak_secrets(monkeypatch):
    """E7: an unexpected exception whose text quotes a secret becomes a generic detail."""

    def boom(self, method, url, **kwargs):
        raise RuntimeError("oops with super-secret-token inside")

    monkeypatch.setattr(requests.Session, "request", boom)
    result = connectors.verify("gitlab", {"url": "http://127.0.0.1:9"}, {"token": "super-secret-token"})
    assert result.status == 3
    assert "super-secret-token" not in result.detail
    assert result.detail == "unreachable: unexpected error (RuntimeError)"


def test_non_http_schemes_are_refused(no_network):
    """E7: git is only run for http(s) URLs (no ext::, file:// or ssh transports)."""
    for url in ("ext::sh -c touch% /tmp/pwned", "file:///etc", "ssh://host/repo.git", "-uhelp"):
        result = connectors.verify("git", {"url": url, "username": "u"}, {"password": "p"})
        assert result.status == 3
        assert "http" in result.detail
    assert no_network == []


def test_git_timeout_kills_the_process(monkeypatch):
    """E7: a git run that exceeds the timeout is killed and reported as unreachable."""
    with socket.socket() as listener:  # accepts TCP but never answers TLS
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        port = listener.getsockname()[1]
        result = connectors.verify(
            "git", {"url": f"https://127.0.0.1:{port}/x.git", "username": "u"}, {"password": "p"}, timeout=1
        )
    assert result.status == 3
    assert "timed out" in result.detail
    leftovers = subprocess.run(["pgrep", "-f", f"127.0.0.1:{port}/x.git"], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""
