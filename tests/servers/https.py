"""A small real HTTPS server (certificate from the test CA) that answers every path.

Optionally requires a client certificate from the test CA (mutual TLS), and lets a test plug in
its own ``responder`` to answer like a particular API.
"""

from __future__ import annotations

import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from ._util import ServerThread, server_ssl_context
from .ca import CertificateAuthority


@dataclass
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_cert_subject: str = ""


Responder = Callable[[RecordedRequest], tuple[int, dict[str, str], bytes]]


def default_responder(_request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
    """200 ``ok`` for anything."""
    return 200, {"Content-Type": "text/plain"}, b"ok\n"


@dataclass
class HttpsServer:
    """Real HTTPS on 127.0.0.1:<ephemeral>; ``url``, ``ca_pem``, ``requests`` (recorded), ``responder``."""

    ca: CertificateAuthority
    require_client_cert: bool = False
    responder: Responder = default_responder
    requests: list[RecordedRequest] = field(default_factory=list)

    def start(self) -> HttpsServer:
        """Issue a server certificate, bind, serve in a thread."""
        self._tmp = tempfile.TemporaryDirectory(prefix="test-https-")
        cert_path, key_path = self.ca.issue().write(self._tmp.name, "server")
        client_ca = self.ca.write_ca(self._tmp.name) if self.require_client_cert else None
        context = server_ssl_context(cert_path, key_path, client_ca)
        self._lock = threading.Lock()
        self._thread = ServerThread(_make_handler(self), ssl_context=context).start()
        self.url = self._thread.url
        self.port = self._thread.port
        self.ca_pem = self.ca.ca_pem
        return self

    def stop(self) -> None:
        """Stop the server and remove its key material."""
        self._thread.stop()
        self._tmp.cleanup()

    def record(self, request: RecordedRequest) -> None:
        """Remember a request (thread-safe)."""
        with self._lock:
            self.requests.append(request)


def _subject(sock) -> str:
    try:
        cert = sock.getpeercert() if isinstance(sock, ssl.SSLSocket) else None
    except (ValueError, OSError):
        return ""
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return ""


def _make_handler(server: HttpsServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # silence
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = RecordedRequest(self.command, self.path, dict(self.headers.items()), body,
                                      _subject(self.connection))
            server.record(request)
            status, headers, payload = server.responder(request)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

    return Handler
