"""Debian's real ``docker-registry`` (distribution 2.x) for tests, with htpasswd or token auth.

* ``DockerRegistry(auth="htpasswd")``: bcrypt htpasswd file (``htpasswd -B`` from apache2-utils, or
  the ``bcrypt`` Python package), filesystem storage in a temporary directory, plain HTTP.
* ``DockerRegistry(auth="token")``: ``auth: token:`` (realm/service/issuer/rootcertbundle) plus a
  tiny Python token server that checks basic auth and issues an RS256 registry JWT whose ``x5c``
  header carries the signing certificate listed in ``rootcertbundle``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ._util import ServerThread, free_port, wait_for_port

REGISTRY_BINARY = os.environ.get("TEST_DOCKER_REGISTRY_BINARY", "/usr/bin/docker-registry")
TOKEN_SERVICE = "test-registry"
TOKEN_ISSUER = "test-token-issuer"


def registry_binary() -> str | None:
    """The docker-registry binary, or None when it is not installed."""
    if os.access(REGISTRY_BINARY, os.X_OK):
        return REGISTRY_BINARY
    return shutil.which("docker-registry")


def bcrypt_htpasswd_line(username: str, password: str) -> str | None:
    """``user:$2y$…`` via ``htpasswd -B`` or the bcrypt package; None when neither is available."""
    if shutil.which("htpasswd"):
        result = subprocess.run(["htpasswd", "-niB", username], input=password + "\n", capture_output=True,
                                text=True, timeout=30)
        if result.returncode == 0 and result.stdout.strip():
            return result.stdout.strip()
    try:
        import bcrypt
    except ImportError:
        return None
    return f"{username}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()}"


def _signing_material() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test registry token signer")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


@dataclass
class TokenServer:
    """``GET /token?service=…&scope=…`` with basic auth -> ``{"token": <RS256 JWT>}``; 401 otherwise."""

    username: str
    password: str
    issued: list[dict] = field(default_factory=list)

    def start(self) -> TokenServer:
        """Generate the signing key/certificate and serve on 127.0.0.1:<ephemeral> (plain HTTP)."""
        self.key, self.cert = _signing_material()
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()
        self._thread = ServerThread(_token_handler(self)).start()
        self.url = self._thread.url
        self.realm = f"{self.url}/token"
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._thread.stop()

    def issue(self, subject: str, service: str, scope: str) -> str:
        """A registry token for ``subject`` granting the actions asked for in ``scope``."""
        access = []
        for item in scope.split():
            parts = item.split(":")
            if len(parts) >= 3:
                access.append({"type": parts[0], "name": ":".join(parts[1:-1]), "actions": parts[-1].split(",")})
        now = int(time.time())
        claims = {"iss": TOKEN_ISSUER, "sub": subject, "aud": service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": secrets.token_hex(16), "access": access}
        x5c = [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()]
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"x5c": x5c, "typ": "JWT"})
        self.issued.append(claims)
        return token


def _token_handler(server: TokenServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # silence
            pass

        def _send(self, status: int, body: dict, extra: dict[str, str] | None = None) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/token":
                self._send(404, {"errors": [{"code": "NOT_FOUND"}]})
                return
            header = self.headers.get("Authorization") or ""
            user = password = ""
            if header.lower().startswith("basic "):
                try:
                    user, _sep, password = base64.b64decode(header[6:]).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    pass
            if not (hmac.compare_digest(user, server.username) & hmac.compare_digest(password, server.password)):
                self._send(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                           {"WWW-Authenticate": 'Basic realm="token"'})
                return
            query = parse_qs(parts.query)
            token = server.issue(user, query.get("service", [""])[0], " ".join(query.get("scope", [])))
            self._send(200, {"token": token, "access_token": token, "expires_in": 300})

    return Handler


@dataclass
class DockerRegistry:
    """A running ``docker-registry serve``; exposes ``url``, ``username``, ``password``, ``storage``.

    With ``auth="token"`` it also exposes ``token_server`` (realm, issued claims).
    """

    auth: str = "htpasswd"
    username: str = "registry-user"
    password: str = field(default_factory=lambda: "rg-" + secrets.token_urlsafe(12))

    def start(self) -> DockerRegistry:
        """Write the config, start the binary on an ephemeral port, wait until it listens (<5 s)."""
        binary = registry_binary()
        if not binary:
            raise FileNotFoundError("docker-registry is not installed")
        self._tmp = tempfile.mkdtemp(prefix="test-registry-")
        self.storage = os.path.join(self._tmp, "storage")
        os.makedirs(self.storage)
        self.token_server = None
        if self.auth == "htpasswd":
            line = bcrypt_htpasswd_line(self.username, self.password)
            if not line:
                raise FileNotFoundError("neither htpasswd (apache2-utils) nor the bcrypt package is available")
            htpasswd = os.path.join(self._tmp, "htpasswd")
            with open(htpasswd, "w") as fh:
                fh.write(line + "\n")
            auth_yaml = f"  htpasswd:\n    realm: test-registry\n    path: {htpasswd}\n"
        elif self.auth == "token":
            self.token_server = TokenServer(self.username, self.password).start()
            bundle = os.path.join(self._tmp, "token-signer.pem")
            with open(bundle, "w") as fh:
                fh.write(self.token_server.cert_pem)
            auth_yaml = (f"  token:\n    realm: {self.token_server.realm}\n    service: {TOKEN_SERVICE}\n"
                         f"    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {bundle}\n")
        else:
            raise ValueError(f"unknown auth {self.auth!r}")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = os.path.join(self._tmp, "config.yml")
        with open(config, "w") as fh:
            fh.write(
                "version: 0.1\n"
                "log:\n  level: error\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {self.storage}\n  delete:\n    enabled: true\n"
                f"http:\n  addr: 127.0.0.1:{self.port}\n  secret: {secrets.token_hex(16)}\n"
                f"auth:\n{auth_yaml}"
            )
        self._log = open(os.path.join(self._tmp, "registry.log"), "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([binary, "serve", config], stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_for_port(self.port, timeout=5.0, proc=self.process)
        except (RuntimeError, TimeoutError) as exc:
            log = self.log_text()
            self.stop()
            raise RuntimeError(f"docker-registry did not start: {exc}\n{log[-2000:]}") from None
        return self

    def log_text(self) -> str:
        """What the registry printed so far."""
        try:
            with open(os.path.join(self._tmp, "registry.log"), encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminate the registry (and the token server) and delete its storage."""
        process = getattr(self, "process", None)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if getattr(self, "_log", None):
            self._log.close()
        if self.token_server is not None:
            self.token_server.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)
