"""X8: start a run of another pipeline of the same project with mapped parameters; take its result.

The task does not hold a worker while the child runs: it finishes when the child run does
(``pipelines.runs.hooks.after_run``).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from pipelines.executors.base import Outcome
from pipelines.models import Pipeline
from pipelines.runs.models import State, Trigger


def run(ctx):
    from django.core.exceptions import ValidationError

    from pipelines.runs.start import start_run

    child = Pipeline.objects.filter(pk=ctx.config["pipeline"], project_id=ctx.run.pipeline.project_id).first()
    if child is None:
        return Outcome(State.FAILED, message=_("The sub-pipeline no longer exists in this project."))
    # The child runs as the parent's starter, and only if that user may execute it (A6).
    starter = ctx.run.triggered_by or ctx.run.pipeline.creator
    if not Pipeline.objects.restrict(starter, "execute").filter(pk=child.pk).exists():
        return Outcome(
            State.FAILED, message=_("%(user)s may not run %(name)s.") % {"user": starter.username, "name": child.name}
        )
    try:
        child_run = start_run(
            starter,
            child,
            parameters=ctx.config.get("parameters") or None,
            trigger=Trigger.SUB_PIPELINE,
            parent_task=ctx.task,
            trigger_detail={"parent_run": ctx.run.pk, "parent_pipeline": ctx.run.pipeline_id},
        )
    except ValidationError as exc:
        return Outcome(State.FAILED, message="; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))
    ctx.log.line(f"started {child.name} #{child_run.number}")
    return None
