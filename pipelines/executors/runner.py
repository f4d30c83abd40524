"""Execute one task attempt on a worker: claim it, build its context, run its executor, report back."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from devops_console.core.logmask import Masker, active_secrets
from devops_console.core.prepared import Prepared, first, save_fields
from pipelines.definition import substitute
from pipelines.executors.base import Outcome, Stopped, TaskContext, executor_for
from pipelines.models import PipelineSecret
from pipelines.runs import engine
from pipelines.runs.logs import LogWriter
from pipelines.runs.models import Run, State, TaskRun
from pipelines.runs.reaper import HEARTBEAT_SECONDS

logger = logging.getLogger(__name__)
STOP_POLL_SECONDS = 1.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def system_values(run: Run) -> dict[str, str]:
    """R2 system parameters with the run's values."""
    commit = run.commit_id or next((s.get("commit_id", "") for s in run.sources.values()), "")
    values = {
        "PROJECT_ID": str(run.pipeline.project_id),
        "PIPELINE_ID": str(run.pipeline_id),
        "PIPELINE_NUMBER": str(run.number),
        "COMMIT_ID": commit,
        "TIMESTAMP": (run.started or timezone.now()).strftime("%Y%m%d%H%M%S"),
    }
    for source in run.snapshot.get("sources", []):
        alias = source.get("alias")
        if not alias or source.get("kind") not in ("repo", "git", "github_app"):
            continue
        resolved = run.sources.get(alias, {})
        values.update(
            {
                f"{alias}_REPOSITORY_NAME": source.get("repository", ""),
                f"{alias}_SOURCE_BRANCH": resolved.get("source_branch", run.branch),
                f"{alias}_TARGET_BRANCH": resolved.get("target_branch", ""),
                f"{alias}_TAG": resolved.get("tag", run.tag),
                f"{alias}_COMMIT_ID": resolved.get("commit_id", commit),
            }
        )
    return values


def parameter_values(run: Run, task_spec: dict) -> tuple[dict[str, str], list[str]]:
    """Every value the task may use; secrets are decrypted here, only for the executing task (R4)."""
    values = system_values(run)
    secrets: dict[str, str] = {}
    if any(param.get("secret") for param in run.snapshot.get("parameters", [])):  # else there are none to read
        secrets = {s.name: s.value for s in PipelineSecret.objects.filter(pipeline_id=run.pipeline_id)}
        secrets.update({s.name: s.value for s in run.secrets.all()})
    for param in run.snapshot.get("parameters", []):
        name = param["name"]
        values[name] = secrets.get(name, "") if param.get("secret") else run.parameters.get(name, param["default"])
    for param in task_spec.get("parameters", []):
        values.setdefault(param["name"], run.parameters.get(param["name"], param.get("default", "")))
    return values, [v for v in secrets.values() if v]


def _substitute(value, values):
    if isinstance(value, str):
        return substitute(value, values)
    if isinstance(value, list):
        return [_substitute(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, values) for k, v in value.items()}
    return value


def _claim(task: TaskRun) -> bool:
    """Take the task for this worker process; the loaded row gets the same values (no re-read)."""
    previous = task.worker, task.heartbeat, task.pid
    # ``pid`` too: from here until the result is stored (or the commands are killed) this process may run
    # commands writing the log; one write instead of one more per command.
    task.worker, task.heartbeat, task.pid = worker_name(), timezone.now(), os.getpid()
    claimed = save_fields(
        task, ["worker", "heartbeat", "pid"], only_if={"attempt": task.attempt, "state": State.RUNNING, "worker": ""}
    )
    if not claimed:
        task.worker, task.heartbeat, task.pid = previous
    return claimed


class _Watch:
    """One thread per worker process watches the task it executes (a pool process runs one at a time): every
    second it notices a stop (X2), every few seconds it proves the worker alive (X9). One long-lived thread,
    not one per task: starting and joining a thread cost about as much as a trivial task's own SQL."""

    def __init__(self):
        self.current: tuple[TaskContext, float] | None = None
        self.lock = threading.Lock()
        self.pid: int | None = None  # the process that started the thread (a forked child has none)

    def watch(self, ctx: TaskContext | None) -> None:
        with self.lock:
            self.current = (ctx, time.monotonic()) if ctx is not None else None
            if ctx is not None and self.pid != os.getpid():
                self.pid = os.getpid()
                threading.Thread(target=self._loop, name="task-watch", daemon=True).start()

    def _loop(self) -> None:
        from django.db import connection

        beating, last_beat = None, 0.0
        while True:
            time.sleep(STOP_POLL_SECONDS)
            with self.lock:
                current = self.current
            if current is None:
                connection.close()  # idle: hold no connection between tasks
                continue
            ctx, started = current
            if beating is not ctx:
                beating, last_beat = ctx, started  # the claim set the first heartbeat
            try:
                state = TaskRun.objects.filter(pk=ctx.task.pk).values_list("state", "attempt").order_by().first()
                if state != (State.RUNNING, ctx.task.attempt):
                    ctx.stop_event.set()
                elif time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                    last_beat = time.monotonic()
                    TaskRun.objects.filter(pk=ctx.task.pk, attempt=ctx.task.attempt, state=State.RUNNING).update(
                        heartbeat=timezone.now()
                    )
            except Exception:  # noqa: BLE001 — a failed beat must not kill the task; the reaper decides
                logger.warning("heartbeat failed for task %s", ctx.task.pk)
                connection.close()  # a fresh connection next time (the database may have restarted)


_watch = _Watch()


# Prepared (compiled once): read for every task a worker executes. Not the pipeline's definition: the run's
# snapshot is what executes.
_TASK = Prepared(
    lambda task_id: (
        TaskRun.objects.select_related("stage__run__pipeline")
        .defer("stage__run__pipeline__definition")
        .filter(pk=task_id)
        .order_by()
    )
)


def _remove(workspace: Path) -> None:
    """Remove the task's workspace: usually its empty ``src`` and itself (two system calls), else the tree."""
    try:
        (workspace / "src").rmdir()
        workspace.rmdir()
    except OSError:  # not empty, or no ``src``
        shutil.rmtree(workspace, ignore_errors=True)


def execute(task_id: int, attempt: int) -> str | None:
    task = first(_TASK(task_id))
    if task is None or task.attempt != attempt or task.state != State.RUNNING:
        return None  # stopped, reset or finished meanwhile: nothing to do
    if not _claim(task):
        # Claimed before by a worker that died (a redelivered message): never run side effects twice.
        engine.fail_lost_task(task, _("The worker running this task was lost."))
        return State.FAILED
    run = task.stage.run
    spec = run.snapshot["stages"][task.stage.index]["tasks"][task.index]
    values, secrets = parameter_values(run, spec)
    # One level under the root: nothing to create above it, nothing left behind after it.
    workspace = Path(settings.RUN_WORKSPACE_ROOT) / f"run-{run.pk}-task-{task.pk}-{attempt}"
    workspace.mkdir(parents=True, exist_ok=True)
    log = LogWriter(task, secrets)
    ctx = TaskContext(
        run=run,
        task=task,
        spec=spec,
        config=_substitute(spec["config"], values),
        values=values,
        secrets=secrets,
        log=log,
        workspace=workspace,
    )
    _watch.watch(ctx)
    try:
        with active_secrets(secrets):
            outcome = _run_executor(ctx)
    finally:
        _watch.watch(None)
        log.close()
        _remove(workspace)
    if outcome is None:  # it finishes later, without this process (a sub-pipeline waits for its child run)
        TaskRun.objects.filter(pk=task.pk, attempt=attempt).update(pid=None)
        return None
    finished = engine.finish_task(
        task.pk,
        attempt,
        outcome.state,
        exit_code=outcome.exit_code,
        metrics=outcome.metrics,
        message=Masker(secrets).mask(outcome.message),
        run_id=run.pk,
    )
    if not finished:  # stopped, reset or reaped meanwhile: the log is complete all the same
        TaskRun.objects.filter(pk=task.pk, attempt=attempt).update(pid=None)
    return outcome.state


def _run_executor(ctx: TaskContext) -> Outcome | None:
    try:
        return executor_for(ctx.task.type).run(ctx)
    except Stopped:
        ctx.log.line("[stopped]")
        return Outcome(State.STOPPED, message=_("Stopped."))
    except Exception as exc:  # noqa: BLE001 — any executor error fails the task with a masked reason
        logger.exception("task %s failed", ctx.task.pk)
        ctx.log.line(f"[error] {type(exc).__name__}: {exc}")
        return Outcome(State.FAILED, message=f"{type(exc).__name__}: {exc}"[:500])
