"""What every executor gets (``TaskContext``) and returns (``Outcome``), and the registry by task type.

Executors live one module per task type (``pipelines.executors.<type>``) and expose ``run(ctx)``.
Returning ``None`` means the task finishes later (a sub-pipeline waits for its child run).
"""

from __future__ import annotations

import codecs
import os
import selectors
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

from pipelines.runs.logs import LogWriter
from pipelines.runs.models import Run, TaskRun

STOP_GRACE_SECONDS = 5
READ_BYTES = 64 * 1024


@dataclass
class Outcome:
    state: str  # "succeeded" | "failed"
    exit_code: int | None = None
    metrics: dict = field(default_factory=dict)
    message: str = ""


class Stopped(Exception):
    """The run was stopped while the task ran."""


@dataclass
class TaskContext:
    run: Run
    task: TaskRun
    spec: dict  # the task as the frozen definition has it
    config: dict  # spec["config"] with ${name} substituted (R3)
    values: dict[str, str]  # every parameter value the task may use, secrets included
    secrets: list[str]  # values to mask
    log: LogWriter
    workspace: Path
    stop_event: threading.Event = field(default_factory=threading.Event)

    @property
    def env(self) -> dict[str, str]:
        """Parameters as environment variables, plus a minimal, predictable base environment."""
        base = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TZ") if k in os.environ}
        return {**base, "HOME": str(self.workspace), **{k: str(v) for k, v in self.values.items()}}

    def stopped(self) -> bool:
        return self.stop_event.is_set()

    def run_command(
        self, argv, *, cwd: Path | None = None, env: dict | None = None, timeout: float = 3600, shell: bool = False
    ) -> int:
        """Run a command in its own process group, streaming its output into the (masked) log.

        Stop (X2) and the timeout kill the whole group: SIGTERM, then SIGKILL after a grace period.
        """
        if shell:
            argv = ["bash", "-e", "-o", "pipefail", "-c", argv]
        process = subprocess.Popen(
            argv,
            cwd=cwd or self.workspace,
            env=env or self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.stopped() or time.monotonic() > deadline:
                    kill_group(process)
                    if self.stopped():
                        raise Stopped
                    self.log.line(f"[timeout] the command ran longer than {int(timeout)} s and was killed")
                    return -signal.SIGKILL
                if selector.select(timeout=0.2):
                    data = os.read(process.stdout.fileno(), READ_BYTES)
                    if not data:
                        break
                    self.log.write(decoder.decode(data))
                else:
                    self.log.write("")  # lets a partial line become visible after FLUSH_SECONDS
            self.log.write(decoder.decode(b"", final=True))
            return process.wait()
        finally:
            selector.close()
            process.stdout.close()
            if process.poll() is None:
                kill_group(process)
            if self.stopped():  # the task will not be finished by its worker: say the commands are gone now
                TaskRun.objects.filter(pk=self.task.pk).update(pid=None)
            # Otherwise finish_task clears ``pid`` with the task's result (one write less per command).


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def executor_for(task_type: str):
    return import_module(f"pipelines.executors.{task_type}")
