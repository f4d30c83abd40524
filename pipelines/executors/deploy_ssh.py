"""Deploy to a host group over SSH (P6, R7), with asyncssh.

For each host of the group, in the group's order: log in with the host's credential (kind ``ssh_key``: a
private key; kind ``username_password``: a password), upload the build package (``package``: the newest
package of that name from this run, else from the project) and a script by SFTP into the per-run directory
``~/deploy/<pipeline id>-<run number>/``, run the script, and stream its output into the task log with
``[user@host:port]`` before each line. The first host that fails (login, upload or a non-zero exit) fails the
task; the hosts after it are left untouched and logged as skipped.

The script exports every parameter (R3) plus ``DEPLOY_DIR``, ``DEPLOY_PACKAGE`` and ``DEPLOY_HOST``, then runs
the commands under ``bash -e -o pipefail`` in ``DEPLOY_DIR``. Values travel only inside the script (never on a
command line, so never in the host's process list); it is written 0600 into a 0700 directory and deleted as
soon as bash has opened it. It runs on a pseudo-terminal: stopping the task (X2) or its timeout closes the
session, which hangs up (SIGHUP) every process the commands started, like closing a terminal; ``nohup`` and
daemons survive, as they would there. Output is masked like every task log (R4); passwords and keys are
added to the masked values and never logged.

Host keys are accepted on first sight and their SHA-256 fingerprint is logged. Production should pin them
(a known host key per host) -- until then a man-in-the-middle could collect a password credential (a key
credential is not exposed that way, but the package and commands are).

asyncssh runs on an event loop in a helper thread: Django forbids database work inside an event loop, and
the executor's own thread keeps doing all of it (log writes, stop checks).
"""

from __future__ import annotations

import asyncio
import codecs
import posixpath
import queue
import re
import shlex
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
from django.utils.translation import gettext as _

from pipelines.definition.tasks import DEFAULT_TIMEOUT_MINUTES
from pipelines.executors.base import Outcome, Stopped
from pipelines.executors.deploy import failed, protect
from pipelines.models import HostGroup
from pipelines.runs.models import BuildPackage, State

CONNECT_TIMEOUT = 20
CLOSE_WAIT_SECONDS = 5
READ_BYTES = 64 * 1024
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_LINE = re.compile(r"[^\n]*\n|[^\n]+")
RESERVED = {"DEPLOY_DIR", "DEPLOY_HOST", "DEPLOY_PACKAGE"}


@dataclass
class Login:
    label: str  # user@address:port, as logged
    address: str
    port: int
    user: str
    password: str = field(default="", repr=False)
    key: str = field(default="", repr=False)


@dataclass
class Plan:
    directory: str  # under the login's home
    script: str  # exports and commands; DEPLOY_DIR and DEPLOY_HOST are prepended per host
    script_name: str
    package: Path | None = None


def run(ctx):
    config = ctx.config
    group = HostGroup.objects.filter(project_id=ctx.run.pipeline.project_id, name=config.get("host_group")).first()
    if group is None:
        return failed(_("Host group “%(name)s” does not exist in this project.") % {"name": config.get("host_group")})
    hosts = list(group.hosts.select_related("credential").order_by("pk"))
    if not hosts:
        return failed(_("Host group “%(name)s” has no hosts.") % {"name": group.name})
    logins = []
    for host in hosts:
        login, problem = _login(host)
        if problem:
            return failed(problem)
        logins.append(login)
    package, problem = _fetch_package(ctx)
    if problem:
        return failed(problem)
    plan = Plan(
        directory=f"deploy/{ctx.run.pipeline_id}-{ctx.run.number}",
        script=_script(ctx, package),
        script_name=f".deploy-{ctx.task.pk}-{ctx.task.attempt}.sh",
        package=package,
    )
    minutes = config.get("timeout_minutes") or DEFAULT_TIMEOUT_MINUTES
    with protect(ctx, *(login.password for login in logins), *(login.key for login in logins)):
        return _deploy(ctx, group, logins, plan, time.monotonic() + minutes * 60, minutes)


def _login(host) -> tuple[Login | None, str]:
    credential, label = host.credential, f"{host.ssh_user}@{host.address}:{host.port}"
    login = Login(label, host.address, host.port, host.ssh_user)
    if credential.is_expired:
        return None, _("The credential of host %(host)s expired on %(date)s.") % {
            "host": label, "date": credential.expires_at.isoformat()}  # fmt: skip
    if credential.kind == "ssh_key":
        login.key = credential.secret or ""
    elif credential.kind == "username_password":
        login.password = credential.secret or ""
    else:
        return None, _("Host %(host)s: a credential of kind “%(kind)s” cannot log in over SSH; use a password "
                       "or an SSH private key.") % {"host": label, "kind": credential.kind}  # fmt: skip
    return login, ""


def _fetch_package(ctx) -> tuple[Path | None, str]:
    """The package to upload, copied into the workspace (any storage backend works)."""
    name = ctx.config.get("package")
    if not name:
        return None, ""
    packages = BuildPackage.objects.filter(project_id=ctx.run.pipeline.project_id, name=name)
    package = packages.filter(run=ctx.run).first() or packages.first()  # newest first
    if package is None:
        return None, _("No build package named “%(name)s” in this run or project.") % {"name": name}
    target = ctx.workspace / "package" / Path(package.filename).name
    target.parent.mkdir(parents=True, exist_ok=True)
    with package.file.open("rb") as source, target.open("wb") as copy:
        shutil.copyfileobj(source, copy)
    origin = _("this run") if package.run_id == ctx.run.pk else _("run #%(id)s") % {"id": package.run_id}
    ctx.log.line(f"package {package.name} {package.version} ({target.name}, {package.size} bytes) from {origin}")
    return target, ""


def _script(ctx, package: Path | None) -> str:
    """Parameters as ``export`` lines (R3), then the commands; DEPLOY_DIR and DEPLOY_HOST come first, per host."""
    lines = ['rm -f -- "$0"', "exec </dev/null"]
    for name, value in ctx.values.items():
        if ENV_NAME.match(name) and name not in RESERVED:
            lines.append(f"export {name}={shlex.quote(str(value))}")
    package_path = f'"$DEPLOY_DIR"/{shlex.quote(package.name)}' if package else "''"
    lines += [f"export DEPLOY_PACKAGE={package_path}", 'cd -- "$DEPLOY_DIR"', ctx.config["commands"]]
    return "\n".join(lines) + "\n"


def _deploy(ctx, group, logins: list[Login], plan: Plan, deadline: float, minutes: int) -> Outcome:
    ctx.log.line(f"deploying to host group {group.name}: {len(logins)} host(s), directory ~/{plan.directory}")
    loop = _LoopThread()
    try:
        for index, login in enumerate(logins):
            problem, code = _one_host(ctx, loop, login, plan, deadline, minutes)
            if problem:
                for later in logins[index + 1 :]:
                    ctx.log.line(f"[{later.label}] skipped: an earlier host failed")
                skipped = len(logins) - index - 1
                message = problem + (" " + _("%(n)s later host(s) skipped.") % {"n": skipped} if skipped else "")
                return Outcome(State.FAILED, exit_code=code, metrics={"hosts": index}, message=message)
        return Outcome(State.SUCCEEDED, exit_code=0, metrics={"hosts": len(logins)})
    finally:
        loop.close()


def _one_host(ctx, loop, login: Login, plan: Plan, deadline: float, minutes: int) -> tuple[str, int | None]:
    """Deploy to one host; ``("", 0)`` on success, else ``(why, exit code or None)``. Raises Stopped."""
    events: queue.Queue = queue.Queue()
    out = _HostOutput(ctx.log, f"[{login.label}] ")
    out.line("connecting")
    future = loop.submit(_host_job(login, plan, events))
    while True:
        if ctx.stopped() or time.monotonic() > deadline:
            future.cancel()
            _drain(events, out)
            if ctx.stopped():
                out.line("stopped: the session was closed")
                raise Stopped
            out.line(f"[timeout] the deploy ran longer than {minutes} min; the session was closed")
            return _("Host %(host)s: the deploy ran longer than %(n)s minutes.") % {
                "host": login.label, "n": minutes}, None  # fmt: skip
        try:
            kind, value = events.get(timeout=0.2)
        except queue.Empty:
            ctx.log.flush()  # what is written becomes visible while the commands are silent (X2)
            if future.done() and events.empty():  # the job ended without a word: a bug, not a hang
                return _("Host %(host)s: the SSH session ended unexpectedly.") % {"host": login.label}, None
            continue
        if kind == "out":
            out.data(value)
        elif kind == "log":
            out.line(value)
        elif kind == "error":
            out.line(f"failed: {value}")
            return _("Host %(host)s: %(problem)s") % {"host": login.label, "problem": value}, None
        elif kind == "exit":
            status, signal_name = value
            out.finish()
            if status == 0:
                out.line("done")
                return "", 0
            why = f"killed by signal {signal_name}" if signal_name else f"exited with {status}"
            out.line(f"failed: the commands {why}")
            return _("Host %(host)s: the commands %(why)s.") % {"host": login.label, "why": why}, status


def _drain(events: queue.Queue, out) -> None:
    """After a cancel: log what the job still sent until it has closed the connection."""
    give_up = time.monotonic() + CLOSE_WAIT_SECONDS
    while time.monotonic() < give_up:
        try:
            kind, value = events.get(timeout=0.1)
        except queue.Empty:
            continue
        if kind == "closed":
            break
        if kind == "out":
            out.data(value)
    out.finish()


async def _host_job(login: Login, plan: Plan, events: queue.Queue) -> None:
    """Runs on the event loop: connect, upload, run; report through ``events``; always end with "closed"."""
    try:
        async with asyncssh.connect(**_connect_options(login)) as conn:
            key = conn.get_server_host_key()
            if key is not None:
                events.put(("log", f"host key {key.get_algorithm()} {key.get_fingerprint('sha256')} "
                                   "accepted (not pinned)"))  # fmt: skip
            async with conn.start_sftp_client() as sftp:
                home = await sftp.realpath(".")
                directory = posixpath.join(home, plan.directory)
                await sftp.makedirs(directory, attrs=asyncssh.SFTPAttrs(permissions=0o700), exist_ok=True)
                if plan.package is not None:
                    await sftp.put(str(plan.package), posixpath.join(directory, plan.package.name))
                    events.put(("log", f"uploaded {plan.package.name} to {directory}/"))
                script = posixpath.join(directory, plan.script_name)
                head = f"export DEPLOY_DIR={shlex.quote(directory)} DEPLOY_HOST={shlex.quote(login.address)}\n"
                attrs = asyncssh.SFTPAttrs(permissions=0o600)
                async with sftp.open(script, "w", attrs) as handle:
                    await handle.write(head + plan.script)
            events.put(("log", f"running the commands in {directory}"))
            process = await conn.create_process(
                f"bash -e -o pipefail {shlex.quote(script)}",
                encoding=None,
                term_type="dumb",  # a pseudo-terminal: closing the session hangs up the commands
                term_modes={asyncssh.PTY_ECHO: 0, asyncssh.PTY_OPOST: 0},
            )
            while data := await process.stdout.read(READ_BYTES):
                events.put(("out", data))
            await process.wait()
            signal_name = process.exit_signal[0] if process.exit_signal else ""
            events.put(("exit", (process.exit_status, signal_name)))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 — reported as the host's failure
        events.put(("error", _describe(exc)))
    finally:
        events.put(("closed", None))


def _connect_options(login: Login) -> dict:
    """Only this host's credential: no agent, no ~/.ssh keys or config, no known_hosts check (logged instead)."""
    options = {
        "host": login.address,
        "port": login.port,
        "username": login.user,
        "known_hosts": None,
        "config": None,
        "agent_path": None,
        "agent_forwarding": False,
        "gss_host": None,
        "connect_timeout": CONNECT_TIMEOUT,
        "keepalive_interval": 30,
    }
    if login.key:
        options.update(client_keys=[asyncssh.import_private_key(login.key)], preferred_auth="publickey")
    else:
        options.update(client_keys=None, password=login.password, preferred_auth="keyboard-interactive,password")
    return options


def _describe(exc: Exception) -> str:
    if isinstance(exc, asyncssh.PermissionDenied):
        return "authentication failed (the host refused the credential)"
    if isinstance(exc, asyncssh.KeyImportError):
        return "the private key of the credential cannot be read"
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return "timed out connecting"
    if isinstance(exc, asyncssh.SFTPError):
        return f"file transfer failed: {exc.reason}"
    if isinstance(exc, asyncssh.Error):
        return f"SSH error: {exc.reason}"
    if isinstance(exc, OSError):
        return f"cannot connect: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


class _HostOutput:
    """Writes a host's output into the task log with its prefix at the start of every line."""

    def __init__(self, log, prefix: str):
        self.log, self.prefix, self.at_start = log, prefix, True
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def text(self, text: str) -> None:
        pieces = []
        for piece in _LINE.findall(text):
            pieces.append(self.prefix + piece if self.at_start else piece)
            self.at_start = piece.endswith("\n")
        self.log.write("".join(pieces))

    def data(self, data: bytes) -> None:
        self.text(self.decoder.decode(data))

    def finish(self) -> None:
        self.text(self.decoder.decode(b"", final=True))
        if not self.at_start:
            self.text("\n")

    def line(self, message: str) -> None:
        self.finish()
        self.text(message + "\n")


class _LoopThread:
    """An asyncio event loop running in a daemon thread for the duration of one task."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="deploy-ssh", daemon=True)
        self.thread.start()

    def submit(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=CLOSE_WAIT_SECONDS)
        if not self.thread.is_alive():
            self.loop.close()
