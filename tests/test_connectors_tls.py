"""TLS options of the HTTP connectors against a REAL HTTPS server (certificate from the test CA): E7."""

from __future__ import annotations

import base64

import pytest

from endpoints import connectors
from endpoints.connectors import TlsOptions
from tests.servers.ca import CertificateAuthority

pytestmark = pytest.mark.slow


def _fields(https_server) -> dict:
    return {"url": https_server.url, "username": "tenant/user"}


def test_untrusted_certificate_is_unreachable_with_tls_reason(https_server):
    """E7: the system CAs do not trust the test CA: status 3 with a TLS reason."""
    result = connectors.verify("hosted_repo", _fields(https_server), {"password": "pw-1234"})
    assert result.status == 3
    assert "TLS certificate verification failed" in result.detail


def test_ca_bundle_is_used(https_server, test_ca):
    """E7: with the CA bundle the request goes through, carrying the basic-auth credentials."""
    before = len(https_server.requests)
    result = connectors.verify(
        "hosted_repo", _fields(https_server), {"password": "pw-1234"}, tls=TlsOptions(ca_bundle=test_ca.ca_pem)
    )
    assert result.status == 0, result.detail
    sent = https_server.requests[before:]
    assert len(sent) == 1
    assert sent[0].headers["Authorization"] == "Basic " + base64.b64encode(b"tenant/user:pw-1234").decode()


def test_ca_bundle_of_another_ca_is_not_enough(https_server):
    """E7: an unrelated CA bundle does not make the server trusted."""
    result = connectors.verify(
        "docker_registry",
        {"url": https_server.url},
        {},
        tls=TlsOptions(ca_bundle=CertificateAuthority("Unrelated").ca_pem),
    )
    assert result.status == 3
    assert "TLS" in result.detail


def test_skip_verify(https_server):
    """E7: skip_verify accepts the untrusted certificate."""
    result = connectors.verify("docker_registry", {"url": https_server.url}, {}, tls=TlsOptions(skip_verify=True))
    assert result.status == 0, result.detail


def test_ca_bundle_must_be_pem(https_server):
    """E7: a CA bundle that is not PEM text is reported, not silently ignored."""
    result = connectors.verify(
        "docker_registry", {"url": https_server.url}, {}, tls=TlsOptions(ca_bundle="definitely not a certificate")
    )
    assert result.status == 3
    assert "PEM" in result.detail


def test_ca_temp_file_is_removed(https_server, test_ca, tmp_path, monkeypatch):
    """E7: the temporary CA file lives only for the duration of the call."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = connectors.verify(
        "docker_registry", {"url": https_server.url}, {}, tls=TlsOptions(ca_bundle=test_ca.ca_pem)
    )
    assert result.status == 0
    assert list(tmp_path.iterdir()) == []
