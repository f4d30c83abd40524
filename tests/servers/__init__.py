"""Real local servers for tests (Git smart HTTP, Docker registry, HTTPS, test CA).

Everything listens on 127.0.0.1 ephemeral ports; see ``tests.servers.fixtures`` for the pytest fixtures.
"""

from .ca import CertificateAuthority, IssuedCert
from .git_http import GitHttpServer
from .https import HttpsServer, RecordedRequest
from .registry import DockerRegistry, TokenServer

__all__ = ["CertificateAuthority", "DockerRegistry", "GitHttpServer", "HttpsServer", "IssuedCert",
           "RecordedRequest", "TokenServer"]
