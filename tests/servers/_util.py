"""Small helpers shared by the test servers: ports, waiting, threaded HTTP(S) servers."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from http.server import ThreadingHTTPServer


def free_port() -> int:
    """An ephemeral TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 5.0, proc=None) -> None:
    """Poll until something accepts connections on ``host:port``; fail fast if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server process exited early with code {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")


class QuietThreadingHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that does not print tracebacks of aborted connections (e.g. TLS refusals)."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # noqa: D102 - silence
        pass


class ServerThread:
    """Run a ThreadingHTTPServer (optionally wrapped in TLS) in a daemon thread on 127.0.0.1."""

    def __init__(self, handler_class, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.httpd = QuietThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        if ssl_context is not None:
            # The handshake happens on first read, in the request's own thread, so a client that
            # connects without speaking TLS cannot block the accept loop.
            self.httpd.socket = ssl_context.wrap_socket(self.httpd.socket, server_side=True,
                                                        do_handshake_on_connect=False)
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if ssl_context is not None else "http"
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name=f"test-server-{self.port}")

    def start(self) -> ServerThread:
        """Start serving; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


def server_ssl_context(cert_path: str, key_path: str, client_ca_path: str | None = None) -> ssl.SSLContext:
    """A server-side TLS context; with ``client_ca_path`` clients must present a certificate from that CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    if client_ca_path:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca_path)
    return context
