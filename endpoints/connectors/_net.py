"""Network safety helpers: refuse link-local / cloud-metadata targets, build CA bundles."""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

from ._base import AddressNotAllowed, ConnectorError, Unreachable

_LINK_LOCAL_V4 = ipaddress.ip_network("169.254.0.0/16")
_LINK_LOCAL_V6 = ipaddress.ip_network("fe80::/10")
_AWS_METADATA_V6 = ipaddress.ip_address("fd00:ec2::254")

NOT_ALLOWED_MESSAGE = "address not allowed: link-local/metadata"

_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_forbidden_address(address: str) -> bool:
    """True for 169.254.0.0/16, fe80::/10 and fd00:ec2::254 (also as IPv4-mapped IPv6)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None and mapped in _LINK_LOCAL_V4:
            return True
        return ip in _LINK_LOCAL_V6 or ip == _AWS_METADATA_V6
    return ip in _LINK_LOCAL_V4


def split_http_url(url: str) -> tuple[str, str, int]:
    """Return (scheme, host, port) of an http(s) URL or raise ConnectorError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConnectorError("invalid URL") from None
    scheme = (parts.scheme or "").lower()
    if scheme not in _DEFAULT_PORTS:
        raise ConnectorError("URL must start with http:// or https://")
    if not parts.hostname:
        raise ConnectorError("URL has no host name")
    if parts.username is not None or parts.password is not None:
        raise ConnectorError("URL must not contain credentials; use the username and password fields")
    return scheme, parts.hostname, port or _DEFAULT_PORTS[scheme]


def check_url_allowed(url: str, allow_link_local: bool = False) -> None:
    """Resolve the URL's host and refuse link-local / metadata addresses (before any network call).

    Raises AddressNotAllowed for a forbidden address, Unreachable when the name does not resolve,
    ConnectorError for a malformed URL. Loopback and private ranges stay allowed.
    """
    _scheme, host, port = split_http_url(url)
    if allow_link_local:
        return
    if is_forbidden_address(host.strip("[]")):
        raise AddressNotAllowed(NOT_ALLOWED_MESSAGE)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise Unreachable(f"unreachable: host name {host!r} could not be resolved") from None
    except OSError:
        raise Unreachable("unreachable: host name could not be resolved") from None
    for info in infos:
        if is_forbidden_address(str(info[4][0])):
            raise AddressNotAllowed(NOT_ALLOWED_MESSAGE)


def same_origin(url_a: str, url_b: str) -> bool:
    """True when both URLs have the same scheme, host and port."""
    try:
        return split_http_url(url_a) == split_http_url(url_b)
    except ConnectorError:
        return False


def system_ca_pem() -> str:
    """The PEM text of the CA bundle the process would use by default ("" when none is found)."""
    candidates = [
        os.environ.get("REQUESTS_CA_BUNDLE"),
        os.environ.get("SSL_CERT_FILE"),
        "/etc/ssl/certs/ca-certificates.crt",
    ]
    try:
        import certifi

        candidates.append(certifi.where())
    except ImportError:  # pragma: no cover - certifi comes with requests
        pass
    for path in candidates:
        if path and os.path.isfile(path):
            try:
                with open(path, encoding="ascii", errors="ignore") as fh:
                    return fh.read()
            except OSError:
                continue
    return ""


def ca_file_content(extra_pem: str, *, include_system: bool = True) -> str:
    """A CA bundle: the system CAs (unless excluded) followed by the extra PEM certificates."""
    extra = (extra_pem or "").strip()
    if extra and "-----BEGIN CERTIFICATE-----" not in extra:
        raise ConnectorError("the CA bundle is not PEM text (expected -----BEGIN CERTIFICATE-----)")
    base = system_ca_pem() if include_system else ""
    return (base.rstrip() + "\n" + extra + "\n").lstrip()
