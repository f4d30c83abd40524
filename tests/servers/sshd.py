"""A real OpenSSH server (Debian's ``/usr/sbin/sshd``) on 127.0.0.1:<free port> for tests.

Each instance has its own temporary directory with an ed25519 host key, an ``authorized_keys`` file
holding a freshly generated client key (``private_key_pem``) and a private home directory: the SFTP
subsystem starts there (``internal-sftp -d``) and sessions get ``HOME`` pointing at it (``SetEnv``), so
nothing a test deploys lands in the real home of the login user. Logins are as the current user
(root on the test machines: ``PermitRootLogin yes``), by public key only.

Password authentication is off: with ``UsePAM no`` sshd checks the user's password in /etc/shadow, which a
test cannot know without changing it. To test passwords, create a throwaway user with a known password
(``useradd`` + ``chpasswd``) and start the server with ``password_auth=True``.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ._util import free_port, wait_for_port

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = "/run/sshd"  # sshd started by root refuses to run without it


def sshd_binary() -> str | None:
    return SSHD if os.access(SSHD, os.X_OK) else shutil.which("sshd")


def _ed25519_pair() -> tuple[str, str]:
    """(OpenSSH private key PEM, ``ssh-ed25519 AAAA…`` public line) of a new key."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, public.decode()


def _write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@dataclass
class SshServer:
    """``host``, ``port``, ``user``, ``private_key_pem`` (an authorized client key), ``home`` (where the
    user's files land), ``host_key_public``; ``read(path)`` / ``exists(path)`` look at files under ``home``."""

    password_auth: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    user: str = field(default_factory=getpass.getuser)
    private_key_pem: str = ""
    public_key: str = ""
    host_key_public: str = ""
    root: Path | None = None
    process: subprocess.Popen | None = None

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def log_path(self) -> Path:
        return self.root / "sshd.log"

    def start(self) -> SshServer:
        binary = sshd_binary()
        if binary is None:
            raise RuntimeError("sshd is not installed (apt-get install openssh-server)")
        if os.geteuid() == 0 and not os.path.isdir(PRIVSEP_DIR):
            os.makedirs(PRIVSEP_DIR, mode=0o755, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="test-sshd-"))
        self.home.mkdir(mode=0o700)
        host_private, self.host_key_public = _ed25519_pair()
        self.private_key_pem, self.public_key = _ed25519_pair()
        host_key = _write(self.root / "ssh_host_ed25519_key", host_private)
        authorized = _write(self.root / "authorized_keys", self.public_key + "\n")
        self.port = free_port()
        config = _write(
            self.root / "sshd_config",
            "\n".join(
                [
                    "ListenAddress 127.0.0.1",
                    f"Port {self.port}",
                    f"HostKey {host_key}",
                    f"PidFile {self.root / 'sshd.pid'}",
                    f"AuthorizedKeysFile {authorized}",
                    "PermitRootLogin yes",
                    f"AllowUsers {self.user}",
                    "PubkeyAuthentication yes",
                    f"PasswordAuthentication {'yes' if self.password_auth else 'no'}",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "UseDNS no",
                    "PrintMotd no",
                    "PermitUserEnvironment no",
                    "X11Forwarding no",
                    "AllowTcpForwarding no",
                    "LogLevel INFO",
                    f"SetEnv HOME={self.home}",
                    f"Subsystem sftp internal-sftp -d {self.home}",
                    "",
                ]
            ),
        )
        log = self.log_path.open("wb")
        try:
            self.process = subprocess.Popen(
                [binary, "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # stop() ends the per-connection children too
            )
        finally:
            log.close()
        try:
            wait_for_port(self.port, proc=self.process)
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"sshd did not start: {exc}") from exc
        return self

    def read(self, path: str) -> str:
        """Text of a file under the user's (private) home, e.g. ``deploy/12-1/out.txt``."""
        return (self.home / path).read_text()

    def exists(self, path: str = "") -> bool:
        return (self.home / path).exists()

    def files(self, path: str = "") -> list[str]:
        """Paths of every file under ``home/path``, relative to ``home``, sorted."""
        base = self.home / path
        return sorted(str(p.relative_to(self.home)) for p in base.rglob("*") if p.is_file()) if base.exists() else []

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(timeout=5)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
