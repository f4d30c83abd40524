"""Actions on a run (X5–X7), shared by the run pages and the runs API: stop, retry, fresh run, rerun,
confirm, approve and reject. The caller checked the pipeline permission; refusals raise ``ActionRefused``."""

from __future__ import annotations

from django.utils.translation import gettext as _

from pipelines.runs import engine
from pipelines.runs.forms import REPO_KINDS
from pipelines.runs.models import Run, RunSecret
from pipelines.runs.start import start_run


class ActionRefused(Exception):
    """An action the run's state or the user's role does not allow: ``status`` is 403 or 409."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def reviewers_of(run: Run, task) -> list[str]:
    try:
        spec = run.snapshot["stages"][task.stage.index]["tasks"][task.index]
    except (KeyError, IndexError):
        return []
    return list(spec.get("config", {}).get("reviewers", [])) if task.type == "manual_review" else []


def fresh_run_kwargs(run: Run, definition: dict) -> dict:
    """X5 "fresh run": the latest configuration with the run's branch or tag and runtime values, keeping
    only values the configuration still accepts (auto-increment values are taken anew, R6)."""
    params = {p["name"]: p for p in definition.get("parameters", []) if p.get("runtime")}
    values = {}
    secrets = {s.name: s.value for s in RunSecret.objects.filter(run=run)}
    for name, value in {**run.parameters, **secrets}.items():
        param = params.get(name)
        if param is None or param["type"] == "auto_increment":
            continue
        if (name in secrets) != bool(param.get("secret")):
            continue  # a secret value never becomes a plain one (R4), nor the other way round
        if param["type"] == "enum" and value not in param["choices"]:
            continue
        values[name] = value
    has_repo = any(s.get("kind") in REPO_KINDS for s in definition.get("sources", []))
    return {"branch": run.branch or None, "tag": (run.tag or None) if has_repo else None, "parameters": values}


def perform(user, run: Run, action: str, *, stage=None, task=None):
    """Do ``action`` on ``run``; the caller checked the pipeline permission. Returns a message, or the new
    run for ``fresh``. Raises ``ActionRefused`` (403 / 409) or ``ValidationError`` (fresh run input)."""
    n = run.number
    if action == "stop":
        if not engine.stop_run(run):
            raise ActionRefused(409, _("Run #%(n)s has already finished.") % {"n": n})
        return _("Run #%(n)s stopped.") % {"n": n}
    if action == "retry":
        if not engine.retry_run(run):
            raise ActionRefused(409, _("Only a failed or stopped run can be retried from the failure."))
        return _("Run #%(n)s is retrying from the failed task.") % {"n": n}
    if action == "fresh":
        kwargs = fresh_run_kwargs(run, run.pipeline.definition)
        return start_run(user, run.pipeline, **kwargs)
    if action == "rerun":
        if task.type in engine.CONTROL_TYPES:
            raise ActionRefused(409, _("Delay and manual-review tasks cannot be run on their own."))
        if not engine.rerun_task(run, task):
            raise ActionRefused(409, _("A task can be run again once the run has finished."))
        return _("Task %(task)s runs again.") % {"task": task.name}
    if action == "confirm":
        if not engine.confirm_stage(run, stage, user):
            raise ActionRefused(409, _("Stage %(stage)s is not waiting for confirmation.") % {"stage": stage.name})
        return _("Stage %(stage)s confirmed.") % {"stage": stage.name}
    if action in ("approve", "reject"):
        return _review(user, run, task, action == "approve")
    raise ValueError(action)


def _review(user, run: Run, task, approve: bool) -> str:
    outcome = engine.review(run, task, user, approve)
    if outcome == "not_reviewer":
        names = ", ".join(reviewers_of(run, task)) or "—"
        raise ActionRefused(
            403, _("Only the named reviewers (%(names)s) can approve or reject this review.") % {"names": names}
        )
    if outcome == "starter_forbidden":
        raise ActionRefused(403, _("The user who started the run may not review it."))
    if outcome == "not_waiting":
        raise ActionRefused(409, _("Task %(task)s is not waiting for a review.") % {"task": task.name})
    return {
        "approved": _("Approved: the run continues."),
        "rejected": _("Rejected: the run fails."),
        "recorded": _("Your approval is recorded; the other reviewers must approve too."),
    }[outcome]
