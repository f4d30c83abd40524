"""The run state machine (X2, X5–X9, P5–P7). ``advance`` is idempotent and runs under the run's row
lock: it starts what may start, finishes stages (evaluating their gates), and finishes the run.
Workers report a task's result with ``finish_task``, which advances the run in the same transaction.

Every change of a run's state takes the run's row lock first (``select_for_update`` on the run), then
touches its stages and tasks: one lock order, so concurrent finishes, stops and retries never deadlock.
"""

from __future__ import annotations

import logging
import threading

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from devops_console.core.prepared import Prepared, first, save_fields
from pipelines.models import GateTemplate
from pipelines.runs.models import ACTIVE, FINISHED, Run, StageRun, State, TaskRun

logger = logging.getLogger(__name__)
CONTROL_TYPES = {"delay", "manual_review"}
TASK_START_FIELDS = ["state", "started", "worker", "heartbeat", "wait_until"]


def _definition_task(run: Run, task: TaskRun) -> dict:
    stage = run.snapshot["stages"][task.stage.index]
    return stage["tasks"][task.index]


def _start_task(run: Run, task: TaskRun, now) -> None:
    spec = _definition_task(run, task)
    task.started, task.worker, task.heartbeat = now, "", None
    if task.type == "delay":
        task.state = State.WAITING
        task.wait_until = now + timezone.timedelta(seconds=spec["config"]["seconds"])
        save_fields(task, TASK_START_FIELDS)
        from pipelines.runs.tasks import check_timers

        transaction.on_commit(lambda: check_timers.apply_async(countdown=spec["config"]["seconds"]))
        return
    if task.type == "manual_review":
        task.state = State.WAITING
        minutes = spec["config"].get("timeout_minutes")
        task.wait_until = now + timezone.timedelta(minutes=minutes) if minutes else None
        task.approvals = {}
        save_fields(task, [*TASK_START_FIELDS, "approvals"])
        return
    task.state = State.RUNNING
    save_fields(task, TASK_START_FIELDS)
    from pipelines.runs.tasks import execute_task

    transaction.on_commit(lambda: execute_task.delay(task.pk, task.attempt))


def _progress_stage(run: Run, stage: StageRun, now) -> str:
    """Start what may start in ``stage``; return its state afterwards (``stage.loaded_tasks``: its tasks
    as they are now, from ``load_stages``)."""
    tasks = stage.loaded_tasks
    selected = [t for t in tasks if t.selected]
    for task in tasks:
        if not task.selected and task.state == State.PENDING:
            task.state = State.SKIPPED
            save_fields(task, ["state"])
    if stage.state == State.PENDING:
        if not selected:
            stage.state, stage.finished = State.SKIPPED, now
            save_fields(stage, ["state", "finished"])
            return stage.state
        if stage.manual and stage.confirmed_by_id is None:
            stage.state = State.WAITING
            save_fields(stage, ["state"])
            return stage.state
        stage.state, stage.started = State.RUNNING, now
        save_fields(stage, ["state", "started"])
    if stage.state == State.WAITING:
        return stage.state
    if any(t.state == State.FAILED for t in selected):
        return _finish_stage(stage, State.FAILED, now)
    pending = [t for t in selected if t.state == State.PENDING]
    active = [t for t in selected if t.state in ACTIVE]
    if pending and (stage.parallel or not active):
        for task in pending if stage.parallel else pending[:1]:
            _start_task(run, task, now)
        return stage.state
    if active:
        return stage.state
    if any(t.state == State.STOPPED for t in selected):
        return _finish_stage(stage, State.STOPPED, now)
    return _finish_stage(stage, _evaluate_gates(run, stage, selected), now)


def _finish_stage(stage: StageRun, state: str, now) -> str:
    stage.state, stage.finished = state, now
    save_fields(stage, ["state", "finished"])
    return state


def _evaluate_gates(run: Run, stage: StageRun, tasks: list[TaskRun]) -> str:
    """P7: every gate item must hold; a gate whose stage ran no matching task fails."""
    gates = run.snapshot["stages"][stage.index].get("gates", [])
    if not gates:
        return State.SUCCEEDED
    templates = {t.pk: t for t in GateTemplate.objects.filter(pk__in=[g["template"] for g in gates])}
    counts = [t.metrics["issue_count"] for t in tasks if t.type == "code_check" and "issue_count" in t.metrics]
    rates = [t.metrics["pass_rate"] for t in tasks if t.type == "api_test" and "pass_rate" in t.metrics]
    results, passed = [], True
    for gate in gates:
        template = templates.get(gate["template"])
        for item in template.items if template else []:
            if item["metric"] == "issue_count":
                value = sum(counts) if counts else None
                ok = value is not None and value <= item["threshold"]
            else:
                value = min(rates) if rates else None
                ok = value is not None and value >= item["threshold"]
            results.append(
                {
                    "gate": template.name,
                    "metric": item["metric"],
                    "threshold": item["threshold"],
                    "value": value,
                    "passed": ok,
                }
            )
            passed = passed and ok
    stage.gate_result = {"items": results, "passed": passed}
    save_fields(stage, ["gate_result"])
    return State.SUCCEEDED if passed else State.FAILED


# Prepared (compiled once): these run for every finished task and every promoted run.
_STAGES = Prepared(lambda run_id: StageRun.objects.filter(run_id=run_id).order_by("index"))
_TASKS_WITH_STAGES = Prepared(
    lambda run_id: (
        TaskRun.objects.select_related("stage").filter(stage__run_id=run_id).order_by("stage__index", "index")
    )
)
_QUEUED = Prepared(  # one index row (run_queue_order), however long the queue
    lambda pipeline_id: Run.objects.filter(pipeline_id=pipeline_id, state=State.QUEUED).values_list("pk").order_by()[:1]
)
_LOCKED_RUN = Prepared(lambda run_id: Run.objects.select_for_update().filter(pk=run_id).order_by())


def load_stages(run: Run) -> list[StageRun]:
    """The run's stages in order, each with ``loaded_tasks`` (its tasks in order). The caller holds the run's
    row lock. One query (the tasks with their stages) when every stage has a task, as almost every run's do
    (one StageRun per stage of the snapshot); a second for the stages when one has none (a manual stage that
    only asks for a confirmation)."""
    stages: list[StageRun] = []
    tasks = _TASKS_WITH_STAGES(run.pk)
    for task in tasks:
        if not stages or stages[-1].pk != task.stage_id:
            stages.append(task.stage)
            task.stage.run, task.stage.loaded_tasks = run, []
        task.stage = stages[-1]
        task.stage.loaded_tasks.append(task)
    if len(stages) == len(run.snapshot["stages"]):
        return stages
    stages = _STAGES(run.pk)
    by_pk = {stage.pk: stage for stage in stages}
    for stage in stages:
        stage.run, stage.loaded_tasks = run, []
    for task in tasks:
        task.stage = by_pk[task.stage_id]
        task.stage.loaded_tasks.append(task)
    return stages


def locked_run(run_id: int) -> Run | None:
    """The run under its row lock (the caller is in a transaction), or None."""
    return first(_LOCKED_RUN(run_id))


@transaction.atomic
def advance(run_id: int) -> str | None:
    """Move the run forward as far as it can go now."""
    run = locked_run(run_id)
    if run is None or run.state not in (State.RUNNING, State.WAITING):
        return getattr(run, "state", None)
    return advance_loaded(run, load_stages(run))


def advance_loaded(run: Run, stages: list[StageRun], now=None) -> str:
    """``advance`` for a run the caller locked (or just created) with its ``stages`` from ``load_stages``."""
    now = now or timezone.now()
    for stage in stages:
        if stage.state in FINISHED:
            if stage.state in (State.FAILED, State.STOPPED):
                return _finish_run(run, stage.state, now, stages)
            continue
        state = _progress_stage(run, stage, now)
        if state in (State.FAILED, State.STOPPED):
            return _finish_run(run, state, now, stages)
        if state in FINISHED:
            continue
        task_states = {task.state for task in stage.loaded_tasks}
        waiting = state == State.WAITING or (State.RUNNING not in task_states and State.WAITING in task_states)
        new_state = State.WAITING if waiting else State.RUNNING
        if run.state != new_state:
            run.state = new_state
            save_fields(run, ["state"])
        return run.state
    return _finish_run(run, State.SUCCEEDED, now, stages)


def _finish_run(run: Run, state: str, now, stages: list[StageRun] | None = None) -> str:
    """``stages``: the run's stages from ``load_stages``, as the caller updated them under the run lock."""
    if stages is None:
        TaskRun.objects.filter(stage__run=run, state=State.PENDING).update(state=State.SKIPPED)
        stages = list(run.stages.all())
    else:  # the tasks are loaded: only a run that stopped early has pending ones left to skip
        pending = [task for stage in stages for task in stage.loaded_tasks if task.state == State.PENDING]
        if pending:
            TaskRun.objects.filter(pk__in=[task.pk for task in pending]).update(state=State.SKIPPED)
        for task in pending:
            task.state = State.SKIPPED
    for stage in [stage for stage in stages if stage.state not in FINISHED]:
        stage.state, stage.finished = (State.SKIPPED if stage.state == State.PENDING else state), now
        save_fields(stage, ["state", "finished"])
    run.state, run.finished = state, now
    save_fields(run, ["state", "finished"])
    run_id, pipeline_id, has_parent = run.pk, run.pipeline_id, run.parent_task_id is not None
    # Read at commit time: ``finish_task`` may hand the slot on in this transaction (``_pass_slot``).
    transaction.on_commit(
        lambda: after_finish_soon(run_id, pipeline_id, has_parent, slot_passed=getattr(run, "slot_passed", False))
    )
    return state


def follow_up(run_id: int, pipeline_id: int, has_parent: bool = True, slot_passed: bool = False) -> None:
    """After a run finished: its slot goes to the next queued run (X3) unless ``finish_task`` passed it on
    already, a parent sub-pipeline task takes its result (X8; ``after_run`` does nothing without a parent)."""
    from pipelines.runs import hooks, start

    if not slot_passed and has_queued(pipeline_id):
        start.dispatch(pipeline_id)
    if has_parent:
        hooks.after_run(run_id)


def has_queued(pipeline_id: int) -> bool:
    """Whether runs of the pipeline wait for a slot: only then is its lock taken to promote one. A run queued
    by a start that saw the finished run still active, but committed after this read, is not missed: a start
    that queues the first waiting run dispatches after its own commit (``start._create_run``)."""
    return bool(_QUEUED(pipeline_id))


def _pass_slot(run: Run) -> None:
    """X3: the slot of a run that just finished goes to the next queued run in the finishing transaction
    (under the pipeline lock, taken after the run's: no other path takes them the other way round). Saves a
    transaction and a read per run while a queue waits. In a savepoint: should promoting fail, the task's
    result still commits and ``follow_up`` dispatches after the commit as before."""
    if not has_queued(run.pipeline_id):
        return  # a run queued meanwhile is seen after the commit (``follow_up``)
    from pipelines.runs.start import promote

    try:
        with transaction.atomic():
            promote(run.pipeline_id)
    except Exception:  # noqa: BLE001 — the fallback after the commit takes over
        logger.warning("passing the slot of run %s failed; dispatching after the commit", run.pk, exc_info=True)
        return
    run.slot_passed = True


_inline_depth = threading.local()
MAX_INLINE_DEPTH = 8


def after_finish_soon(run_id: int, pipeline_id: int, has_parent: bool, slot_passed: bool = False) -> None:
    """What follows a finished run — its slot goes to the next queued run (X3), a parent sub-pipeline task
    takes its result (X8) — done here, after the commit, saving a broker hop per run. A worker's
    ``runs.finished`` task does it instead when that fails, or when runs that finish at once (preflight
    failures) would otherwise chain too deep."""
    depth = getattr(_inline_depth, "value", 0)
    if depth < MAX_INLINE_DEPTH:
        _inline_depth.value = depth + 1
        try:
            follow_up(run_id, pipeline_id, has_parent, slot_passed)
            return
        except Exception:  # noqa: BLE001 — e.g. a locked database: hand it to a worker
            logger.warning("after run %s inline failed; queued for a worker", run_id, exc_info=True)
        finally:
            _inline_depth.value = depth
    from pipelines.runs.tasks import run_finished

    run_finished.delay(run_id)


@transaction.atomic
def finish_task(
    task_id: int, attempt: int, state: str, *, exit_code=None, metrics=None, message="", run_id: int | None = None
) -> bool:
    """A task's result, and its run advanced in the same transaction (no broker hop, one commit). Ignored
    when the task was stopped, reset or reaped in the meantime. ``run_id``: the task's run, when the caller
    knows it (saves a query)."""
    if run_id is None:
        run_id = TaskRun.objects.filter(pk=task_id).values_list("stage__run_id", flat=True).first()
    run = locked_run(run_id)
    if run is None:
        return False
    stages = load_stages(run)
    task = next((task for stage in stages for task in stage.loaded_tasks if task.pk == task_id), None)
    if task is None or task.attempt != attempt or task.state not in ACTIVE:
        return False
    task.state, task.finished, task.pid = state, timezone.now(), None  # no command runs any more
    task.exit_code, task.message = exit_code, message[:500]
    task.metrics = {**task.metrics, **(metrics or {})}
    save_fields(task, ["state", "finished", "pid", "exit_code", "message", "metrics"])
    if run.state in (State.RUNNING, State.WAITING):
        advance_loaded(run, stages, task.finished)
        if run.state in FINISHED:
            _pass_slot(run)
    return True


def fail_lost_task(task: TaskRun, reason: str) -> bool:
    """X9: a task whose worker vanished is failed, never left running."""
    return finish_task(task.pk, task.attempt, State.FAILED, message=reason)


@transaction.atomic
def stop_run(run: Run) -> bool:
    """X2: stop a queued or running run; running commands are killed by their worker."""
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.state in FINISHED:
        return False
    now = timezone.now()
    TaskRun.objects.filter(stage__run=run, state__in=[State.PENDING]).update(state=State.SKIPPED)
    TaskRun.objects.filter(stage__run=run, state__in=ACTIVE).update(state=State.STOPPED, finished=now)
    run.stages.filter(state__in=[State.PENDING]).update(state=State.SKIPPED, finished=now)
    run.stages.filter(state__in=[State.RUNNING, State.WAITING]).update(state=State.STOPPED, finished=now)
    run.state, run.finished = State.STOPPED, now
    save_fields(run, ["state", "finished"])
    pipeline_id = run.pipeline_id
    from pipelines.runs.tasks import dispatch_runs

    transaction.on_commit(lambda: dispatch_runs.delay(pipeline_id))
    return True


def _reopen(run: Run, tasks) -> None:
    for task in tasks:
        task.state, task.attempt = State.PENDING, task.attempt + 1
        task.started = task.finished = task.exit_code = task.heartbeat = task.wait_until = None
        task.message, task.worker, task.approvals, task.metrics = "", "", {}, {}
        task.save()
    run.state, run.finished, run.error = State.QUEUED, None, ""
    save_fields(run, ["state", "finished", "error"])


@transaction.atomic
def retry_run(run: Run) -> bool:
    """X5: same run, same snapshot, from the failed (or stopped) task on."""
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.state not in (State.FAILED, State.STOPPED):
        return False
    stages = list(run.stages.order_by("index"))
    first = next((s for s in stages if s.state in (State.FAILED, State.STOPPED)), None)
    if first is None:
        return False
    reopen = []
    for stage in stages[first.index :]:
        stage.state, stage.finished, stage.gate_result = State.PENDING, None, {}
        if stage.index != first.index:
            stage.confirmed_by = None
        stage.save()
        reopen += [t for t in stage.tasks.all() if t.selected and t.state != State.SUCCEEDED]
    _reopen(run, reopen)
    pipeline_id = run.pipeline_id
    from pipelines.runs.tasks import dispatch_runs

    transaction.on_commit(lambda: dispatch_runs.delay(pipeline_id))
    return True


@transaction.atomic
def rerun_task(run: Run, task: TaskRun) -> bool:
    """X5: run one task of a finished run again (its stage re-evaluated, later stages untouched)."""
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.state not in FINISHED or task.type in CONTROL_TYPES:
        return False
    stage = task.stage
    stage.state, stage.finished, stage.gate_result = State.RUNNING, None, {}
    stage.save()
    task.selected = True
    _reopen(run, [task])
    pipeline_id = run.pipeline_id
    from pipelines.runs.tasks import dispatch_runs

    transaction.on_commit(lambda: dispatch_runs.delay(pipeline_id))
    return True


@transaction.atomic
def confirm_stage(run: Run, stage: StageRun, user) -> bool:
    """X6: a user with execute permission starts a manual stage."""
    stage = StageRun.objects.select_for_update().get(pk=stage.pk)
    if stage.state != State.WAITING or not stage.manual:
        return False
    stage.confirmed_by, stage.state, stage.started = user, State.RUNNING, timezone.now()
    stage.save()
    Run.objects.filter(pk=run.pk, state=State.WAITING).update(state=State.RUNNING)
    run_id = run.pk
    from pipelines.runs.tasks import advance_run

    transaction.on_commit(lambda: advance_run.delay(run_id))
    return True


def review(run: Run, task: TaskRun, user, approve: bool) -> str:
    """X7: named reviewers approve or reject; any-one or all; a rejection fails the run."""
    with transaction.atomic():
        task = TaskRun.objects.select_for_update().select_related("stage").get(pk=task.pk)
        if task.type != "manual_review" or task.state != State.WAITING:
            return "not_waiting"
        config = _definition_task(run, task)["config"]
        if user.username not in config["reviewers"]:
            return "not_reviewer"
        if config.get("forbid_starter") and run.triggered_by_id == user.pk:
            return "starter_forbidden"
        task.approvals = {**task.approvals, user.username: "approved" if approve else "rejected"}
        save_fields(task, ["approvals"])
        attempt = task.attempt
    if not approve:
        message = _("Rejected by %(user)s.") % {"user": user.username}
        finish_task(task.pk, attempt, State.FAILED, message=message, run_id=run.pk)
        return "rejected"
    approved = {name for name, verdict in task.approvals.items() if verdict == "approved"}
    if config["mode"] == "any" or approved >= set(config["reviewers"]):
        finish_task(task.pk, attempt, State.SUCCEEDED, message=_("Approved."), run_id=run.pk)
        return "approved"
    return "recorded"


def fire_timers(now=None) -> int:
    """Finish delay tasks whose time has come and fail reviews that timed out (X7)."""
    now = now or timezone.now()
    fired = 0
    for task in TaskRun.objects.filter(state=State.WAITING, wait_until__lte=now):
        if task.type == "delay":
            fired += finish_task(task.pk, task.attempt, State.SUCCEEDED, message=_("Waited."))
        elif task.type == "manual_review":
            fired += finish_task(task.pk, task.attempt, State.FAILED, message=_("The review timed out."))
    return fired
