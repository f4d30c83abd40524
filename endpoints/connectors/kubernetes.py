"""Kubernetes endpoints: ``GET {url}/version`` with the kubeconfig's current-context credentials (E7).

Only embedded material is used (``certificate-authority-data``, ``client-certificate-data``,
``client-key-data``, ``token``, ``username``/``password``); file paths and exec/auth-provider
plugins in a user-supplied kubeconfig are refused, since they would read files or run commands
on this server. Client certificate and key are written to 0600 files in a private temporary
directory that is deleted afterwards.
"""

from __future__ import annotations

import base64
import binascii
from contextlib import ExitStack
from dataclasses import dataclass

from ..validation import current_context
from ._base import (
    STATUS_NORMAL,
    AuthenticationFailed,
    ConnectorError,
    Context,
    VerifyResult,
    private_tempdir,
    write_private_file,
)
from ._http import HttpClient, json_or_none, unexpected_status


@dataclass
class KubeTarget:
    """What the current context of a kubeconfig selects."""

    server: str
    ca_pem: str
    insecure: bool
    client_cert_pem: bytes
    client_key_pem: bytes
    token: str
    username: str
    password: str
    namespace: str = ""  # the current context's, if it names one


def _b64(value: object, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=False)
    except (binascii.Error, ValueError):
        raise AuthenticationFailed(f"unauthenticated: {what} in the kubeconfig is not valid base64") from None


def parse_kubeconfig(text: str) -> KubeTarget:
    """Resolve the current context's cluster and user; raise AuthenticationFailed when unusable. The endpoint
    validation reads, checks and resolves the text (``validation.current_context``, E6: one YAML parser,
    without aliases, size-bounded; the current context, its cluster with a server and its user present); what
    this connector supports is checked here (embedded data, no files, no exec)."""
    try:
        _config, context, cluster, user = current_context(text or "")
    except ValueError as exc:
        raise AuthenticationFailed(f"unauthenticated: {exc}") from None
    for key in ("certificate-authority", "client-certificate", "client-key", "tokenFile"):
        if cluster.get(key) or user.get(key):
            raise AuthenticationFailed(f"unauthenticated: the kubeconfig refers to a file ({key}); "
                                       f"embed the data ({key}-data / token) instead")
    if user.get("exec") or user.get("auth-provider"):
        raise AuthenticationFailed("unauthenticated: exec and auth-provider credentials are not supported")
    ca = _b64(cluster["certificate-authority-data"], "certificate-authority-data") \
        if cluster.get("certificate-authority-data") else b""
    cert = _b64(user["client-certificate-data"], "client-certificate-data") \
        if user.get("client-certificate-data") else b""
    key = _b64(user["client-key-data"], "client-key-data") if user.get("client-key-data") else b""
    if bool(cert) != bool(key):
        raise AuthenticationFailed("unauthenticated: the kubeconfig user needs both client-certificate-data "
                                   "and client-key-data")
    return KubeTarget(
        server=str(cluster.get("server") or ""),
        ca_pem=ca.decode("ascii", "ignore"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        client_cert_pem=cert,
        client_key_pem=key,
        token=str(user.get("token") or ""),
        username=str(user.get("username") or ""),
        password=str(user.get("password") or ""),
        namespace=str(context.get("namespace") or ""),
    )


def verify(ctx: Context) -> VerifyResult:
    """200 from ``/version`` is normal; 401/403 unauthenticated."""
    target = parse_kubeconfig(ctx.secret("kubeconfig"))
    for value in (target.token, target.password, target.client_key_pem.decode("ascii", "ignore")):
        ctx.add_secret(value)
    url = (ctx.field("url") or target.server).rstrip("/")
    if not url:
        raise ConnectorError("neither the endpoint nor the kubeconfig gives an API server URL")
    headers = {"Accept": "application/json"}
    auth = None
    if target.token:
        headers["Authorization"] = f"Bearer {target.token}"
    elif target.username or target.password:
        auth = (target.username, target.password)
    with ExitStack() as stack:
        cert = None
        if target.client_cert_pem:
            tmp = stack.enter_context(private_tempdir("connector-kube-"))
            cert = (write_private_file(tmp, "client.crt", target.client_cert_pem),
                    write_private_file(tmp, "client.key", target.client_key_pem))
        http = stack.enter_context(HttpClient(ctx, extra_ca=target.ca_pem, cert=cert,
                                              skip_verify=ctx.tls.skip_verify or target.insecure))
        response = http.get(url + "/version", headers=headers, auth=auth)
    if response.status_code == 200:
        body = json_or_none(response)
        version = body.get("gitVersion") if isinstance(body, dict) else None
        name = f"Kubernetes {version}" if isinstance(version, str) and len(version) < 64 else "Kubernetes API"
        return VerifyResult(STATUS_NORMAL, f"{name} reachable, credentials accepted")
    if response.status_code in (401, 403):
        raise AuthenticationFailed(f"unauthenticated: the API server rejected the credentials "
                                   f"(HTTP {response.status_code})")
    raise unexpected_status(response)
