"""A real Git smart-HTTP server over HTTPS for tests.

Each request passes HTTP basic auth and then runs the real ``git http-backend`` CGI as a
subprocess (GIT_PROJECT_ROOT, GIT_HTTP_EXPORT_ALL, REMOTE_USER, ...). Fetch, ls-remote and push
(``http.receivepack=true``) all work against the bare repositories under ``root``.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote

from ._util import ServerThread, server_ssl_context
from .ca import CertificateAuthority

GIT = shutil.which("git") or "git"


def git_env(home: str) -> dict[str, str]:
    """An isolated environment for running git in tests (no user/system config)."""
    return {
        "PATH": os.environ.get("PATH", os.defpath), "HOME": home, "XDG_CONFIG_HOME": home,
        "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.test",
        "GIT_COMMITTER_NAME": "Test Committer", "GIT_COMMITTER_EMAIL": "committer@example.test",
    }


def http_backend_path() -> str | None:
    """Where ``git http-backend`` lives, or None when git (or the backend) is missing."""
    if not shutil.which("git"):
        return None
    try:
        exec_path = subprocess.run([GIT, "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    path = os.path.join(exec_path, "git-http-backend")
    return path if os.access(path, os.X_OK) else None


@dataclass
class GitRequest:
    """One request the server answered."""

    method: str
    path: str
    user: str | None
    status: int


@dataclass
class GitHttpServer:
    """HTTPS + basic auth + ``git http-backend``.

    Exposes ``base_url``, ``username``, ``password``, ``ca_pem``, ``root`` (bare repositories),
    ``repo_url(path)``, ``create_repo(...)``, ``requests`` (recorded) and ``delay`` (seconds each
    request waits before it is answered; tests may set it to keep git running longer).
    """

    ca: CertificateAuthority
    username: str = "ci-bot"
    password: str = field(default_factory=lambda: "pw-" + secrets.token_urlsafe(12))
    delay: float = 0.0
    requests: list[GitRequest] = field(default_factory=list)

    def start(self) -> GitHttpServer:
        """Create the repository root, issue a certificate, serve, seed ``org/app.git``."""
        self._tmp = tempfile.mkdtemp(prefix="test-git-http-")
        self.root = os.path.join(self._tmp, "repos")
        self._home = os.path.join(self._tmp, "home")
        os.makedirs(self.root)
        os.makedirs(self._home)
        cert_path, key_path = self.ca.issue().write(self._tmp, "server")
        self._lock = threading.Lock()
        self._thread = ServerThread(_make_handler(self), ssl_context=server_ssl_context(cert_path, key_path)).start()
        self.base_url = self._thread.url
        self.port = self._thread.port
        self.ca_pem = self.ca.ca_pem
        self.create_repo("org/app.git", seed=True)
        return self

    def stop(self) -> None:
        """Stop serving and delete every repository."""
        self._thread.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def repo_url(self, path: str = "org/app.git") -> str:
        """The HTTPS clone URL of a repository under ``root``."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def repo_path(self, path: str = "org/app.git") -> str:
        """The filesystem path of a bare repository under ``root``."""
        return os.path.join(self.root, path.lstrip("/"))

    def git(self, *args: str, cwd: str | None = None) -> str:
        """Run git with an isolated environment; return stdout."""
        result = subprocess.run([GIT, *args], cwd=cwd, env=git_env(self._home), capture_output=True, text=True,
                                timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def create_repo(self, path: str, *, seed: bool = False, branches: tuple[str, ...] = (),
                    tags: tuple[str, ...] = ()) -> str:
        """Create a bare repository (push enabled) and return its clone URL.

        ``seed=True`` makes the standard fixture content: two commits on ``main``, a third on
        ``release/1.0`` and the annotated tag ``v1.0.0`` on it. ``branches`` / ``tags`` add
        more refs pointing at ``main`` (a first commit is made when needed).
        """
        bare = self.repo_path(path)
        os.makedirs(os.path.dirname(bare), exist_ok=True)
        self.git("init", "-q", "--bare", "--initial-branch=main", bare)
        self.git("-C", bare, "config", "http.receivepack", "true")
        if seed or branches or tags:
            work = tempfile.mkdtemp(prefix="work-", dir=self._tmp)
            try:
                self.git("init", "-q", "--initial-branch=main", work)
                self._commit(work, "README.md", "# app\n", "Initial commit")
                if seed:
                    self._commit(work, "app.py", "print('hello')\n", "Add app")
                    self.git("checkout", "-q", "-b", "release/1.0", cwd=work)
                    self._commit(work, "VERSION", "1.0.0\n", "Release 1.0")
                    self.git("tag", "-a", "v1.0.0", "-m", "Version 1.0.0", cwd=work)
                    self.git("checkout", "-q", "main", cwd=work)
                for branch in branches:
                    self.git("branch", branch, "main", cwd=work)
                for tag in tags:
                    self.git("tag", tag, "main", cwd=work)
                self.git("push", "-q", bare, "--all", cwd=work)
                self.git("push", "-q", bare, "--tags", cwd=work)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        return self.repo_url(path)

    def _commit(self, work: str, name: str, content: str, message: str) -> None:
        with open(os.path.join(work, name), "w") as fh:
            fh.write(content)
        self.git("add", name, cwd=work)
        self.git("commit", "-q", "-m", message, cwd=work)

    def check_auth(self, header: str | None) -> str | None:
        """The username when the Basic credentials match, else None."""
        if not header or not header.lower().startswith("basic "):
            return None
        try:
            user, _sep, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        ok = hmac.compare_digest(user, self.username) & hmac.compare_digest(password, self.password)
        return user if ok else None

    def record(self, request: GitRequest) -> None:
        """Remember a request (thread-safe)."""
        with self._lock:
            self.requests.append(request)


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _parse_cgi(output: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    head, sep, body = output.partition(b"\r\n\r\n")
    if not sep:
        head, _sep, body = output.partition(b"\n\n")
    status, headers = 200, []
    for line in head.decode("latin-1").splitlines():
        name, _colon, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            headers.append((name.strip(), value.strip()))
    return status, headers, body


def _make_handler(server: GitHttpServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # silence
            pass

        def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes, user: str | None) -> None:
            server.record(GitRequest(self.command, self.path, user, status))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self) -> None:
            if server.delay:
                time.sleep(server.delay)
            body = _read_body(self)
            user = server.check_auth(self.headers.get("Authorization"))
            if user is None:
                self._reply(401, [("WWW-Authenticate", 'Basic realm="git"'), ("Content-Type", "text/plain")],
                            b"Authentication required\n", None)
                return
            path, _sep, query = self.path.partition("?")
            env = git_env(server._home)
            env.update({
                "GIT_PROJECT_ROOT": server.root, "GIT_HTTP_EXPORT_ALL": "1", "REMOTE_USER": user,
                "REMOTE_ADDR": self.client_address[0], "REQUEST_METHOD": self.command, "QUERY_STRING": query,
                "PATH_INFO": unquote(path), "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)), "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
            })
            for header, variable in (("Content-Encoding", "HTTP_CONTENT_ENCODING"),
                                     ("Git-Protocol", "HTTP_GIT_PROTOCOL")):
                if self.headers.get(header):
                    env[variable] = self.headers[header]
            result = subprocess.run([GIT, "http-backend"], input=body, env=env, capture_output=True, timeout=120)
            status, headers, payload = _parse_cgi(result.stdout)
            self._reply(status, headers, payload, user)

        do_GET = do_POST = _handle

    return Handler
