"""Shared value types, errors and the per-call context of the connectors (SPEC E7, E10).

Pure Python: nothing here imports Django.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

STATUS_NORMAL = 0
STATUS_OVERDUE = 1
STATUS_UNAUTHENTICATED = 2
STATUS_UNREACHABLE = 3

REDACTED = "***"
SHORT_SECRET = 6


@dataclass(frozen=True)
class TlsOptions:
    """How to check the server's TLS certificate."""

    ca_bundle: str = ""  # PEM text of extra CA certificates ("" = system default)
    skip_verify: bool = False


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a connection check (E7): status 0 normal, 1 overdue, 2 unauthenticated, 3 unreachable."""

    status: int
    detail: str  # human sentence; never contains a secret value


class ConnectorError(Exception):
    """A failure whose message is safe to show to users (it never contains secrets).

    ``status`` is the E7 status that ``verify()`` records for this failure.
    """

    status: int = STATUS_UNREACHABLE


class AddressNotAllowed(ConnectorError):
    """The URL resolves to a link-local / cloud-metadata address."""

    status = STATUS_UNREACHABLE


class Unreachable(ConnectorError):
    """Connection refused, DNS failure, timeout, TLS failure, unexpected answer."""

    status = STATUS_UNREACHABLE


class AuthenticationFailed(ConnectorError):
    """The service rejected the credentials (or they cannot be used at all)."""

    status = STATUS_UNAUTHENTICATED


class CredentialExpired(ConnectorError):
    """The service says the credential has expired ("overdue")."""

    status = STATUS_OVERDUE


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of every non-empty secret value in ``text`` with ``***``.

    Longer values are replaced first so that a secret containing another one is fully removed.
    Values shorter than ``SHORT_SECRET`` characters are replaced only where they stand alone
    (not inside a longer word), so that a one-letter test password cannot garble every message.
    """
    values = sorted({s for s in secrets if isinstance(s, str) and s}, key=len, reverse=True)
    for value in values:
        if len(value) >= SHORT_SECRET:
            text = text.replace(value, REDACTED)
        else:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", REDACTED, text)
    return text


def secret_variants(value: str) -> list[str]:
    """A secret plus the encodings in which it might leak (URL-quoted, each line of a multi-line value)."""
    from urllib.parse import quote

    if not value:
        return []
    out = [value, quote(value, safe=""), quote(value)]
    if "\n" in value:
        out.extend(line.strip() for line in value.splitlines() if len(line.strip()) >= 8)
    return out


@dataclass
class Context:
    """Everything a provider needs for one call: the endpoint's fields, TLS options and limits."""

    fields: dict
    secrets: dict
    tls: TlsOptions = TlsOptions()
    timeout: float = 10.0
    allow_link_local: bool = False
    _scrub_values: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.fields = {k: ("" if v is None else v) for k, v in (self.fields or {}).items()}
        self.secrets = {k: ("" if v is None else v) for k, v in (self.secrets or {}).items()}
        for value in self.secrets.values():
            self.add_secret(str(value))

    def field(self, name: str, default: str = "") -> str:
        """A plain field as a stripped string; empty or missing gives ``default``."""
        value = str(self.fields.get(name) or "").strip()
        return value or default

    def secret(self, name: str) -> str:
        """A secret field as given (not stripped: whitespace may be part of a password)."""
        return str(self.secrets.get(name) or "")

    def add_secret(self, value: str) -> None:
        """Register a derived secret (token, key material) so that it is scrubbed from messages too."""
        self._scrub_values.extend(secret_variants(value))

    def scrub(self, text: str) -> str:
        """Remove every known secret value from ``text``."""
        return scrub(str(text), self._scrub_values)


@contextmanager
def private_tempdir(prefix: str = "connector-") -> Iterator[str]:
    """A 0700 temporary directory that is always removed afterwards (for 0600 key / CA / askpass files)."""
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        os.chmod(path, 0o700)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_private_file(directory: str, name: str, content: str | bytes, mode: int = 0o600) -> str:
    """Create ``directory/name`` with ``mode`` (0600 by default) before writing ``content``; return its path."""
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    data = content.encode() if isinstance(content, str) else content
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)
    return path
