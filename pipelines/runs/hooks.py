"""What happens after a run finishes: a parent sub-pipeline task takes the child's result (X8)."""

from __future__ import annotations

from pipelines.runs import engine
from pipelines.runs.models import Run, State


def after_run(run_id: int) -> None:
    run = Run.objects.select_related("parent_task").filter(pk=run_id).first()
    if run is None or run.parent_task is None:
        return
    parent = run.parent_task
    state = State.SUCCEEDED if run.state == State.SUCCEEDED else State.FAILED
    engine.finish_task(parent.pk, parent.attempt, state,
                       message=f"{run.pipeline.name} #{run.number}: {run.get_state_display()}")
