"""pytest plugin: session-scoped fixtures that run REAL servers on 127.0.0.1 ephemeral ports.

Load it with ``pytest_plugins = ["tests.servers.fixtures"]`` (root conftest) or ``-p tests.servers.fixtures``.

* ``test_ca``               -- CertificateAuthority: ``ca_pem``, ``issue(...)``
* ``git_server``            -- GitHttpServer: ``base_url``, ``username``, ``password``, ``ca_pem``, ``root``,
                               ``repo_url(path)``, ``create_repo(path, ...)``; seeded ``org/app.git``
* ``docker_registry``       -- DockerRegistry (htpasswd/bcrypt): ``url``, ``username``, ``password``
* ``docker_registry_token`` -- DockerRegistry (token auth): same, plus ``token_server`` (``realm``, ``issued``)
* ``https_server``          -- HttpsServer: ``url``, ``ca_pem``, ``requests``; 200 on any path
* ``sshd_factory``          -- call it to start a real OpenSSH server (SshServer: ``host``, ``port``, ``user``,
                               ``private_key_pem``, ``home``, ``read(path)``); function-scoped, each one fresh
* ``sshd_server``           -- one SshServer from ``sshd_factory``

Fixtures skip only when a binary is genuinely missing; every process is stopped at session end.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from .ca import CertificateAuthority
from .git_http import GitHttpServer, http_backend_path
from .https import HttpsServer
from .registry import DockerRegistry, bcrypt_htpasswd_line, registry_binary
from .sshd import SshServer, sshd_binary


@pytest.fixture(scope="session")
def test_ca() -> CertificateAuthority:
    """A throwaway CA that issues server certificates for 127.0.0.1 / localhost (``ca_pem``)."""
    return CertificateAuthority()


@pytest.fixture(scope="session")
def git_server(test_ca: CertificateAuthority) -> Iterator[GitHttpServer]:
    """Git smart HTTP over HTTPS with basic auth, backed by ``git http-backend``; push enabled."""
    if not shutil.which("git") or not http_backend_path():
        pytest.skip("git or git-http-backend is not installed (apt-get install git)")
    server = GitHttpServer(test_ca).start()
    try:
        yield server
    finally:
        server.stop()


def _registry(auth: str) -> Iterator[DockerRegistry]:
    if not registry_binary():
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    if auth == "htpasswd" and bcrypt_htpasswd_line("probe", "probe") is None:
        pytest.skip("neither htpasswd (apt-get install apache2-utils) nor the bcrypt package is available")
    registry = DockerRegistry(auth=auth).start()
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def docker_registry() -> Iterator[DockerRegistry]:
    """Debian's docker-registry with bcrypt htpasswd auth, filesystem storage, plain HTTP."""
    yield from _registry("htpasswd")


@pytest.fixture(scope="session")
def docker_registry_token() -> Iterator[DockerRegistry]:
    """Debian's docker-registry with ``auth: token`` and a Python token server (bearer challenge flow)."""
    yield from _registry("token")


@pytest.fixture(scope="session")
def https_server(test_ca: CertificateAuthority) -> Iterator[HttpsServer]:
    """A plain HTTPS server (certificate from ``test_ca``) that answers 200 on any path."""
    server = HttpsServer(test_ca).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sshd_factory() -> Iterator:
    """Start real OpenSSH servers (``/usr/sbin/sshd -D``), each with its own keys and private home; all are
    stopped after the test. Key authentication as the current user (see tests/servers/sshd.py)."""
    if not sshd_binary():
        pytest.skip("sshd is not installed (apt-get install openssh-server)")
    servers: list[SshServer] = []

    def start(**options) -> SshServer:
        server = SshServer(**options).start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def sshd_server(sshd_factory) -> SshServer:
    """One real OpenSSH server on 127.0.0.1 (a fresh one per test)."""
    return sshd_factory()
