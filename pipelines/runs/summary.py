"""The "last run" of pipelines for list pages and the API (P1), in a constant number of queries."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, Subquery

from pipelines.runs.models import Run, StageRun

HEAVY_RUN_FIELDS = ("snapshot", "parameters", "sources", "selected_tasks", "trigger_detail", "error")


def with_last_run_id(queryset):
    """Annotate each pipeline with the id of its newest run."""
    newest = Run.objects.filter(pipeline=OuterRef("pk")).order_by("-number").values("pk")[:1]
    return queryset.annotate(last_run_id=Subquery(newest))


def last_run_by(queryset, user):
    """Pipelines whose last run ``user`` started (needs ``with_last_run_id``)."""
    return queryset.filter(Exists(Run.objects.filter(pk=OuterRef("last_run_id"), triggered_by=user)))


def attach_last_runs(pipelines) -> None:
    """Set ``pipeline.last_run`` on every pipeline given, in two queries whatever their number."""
    pipelines = list(pipelines)
    ids = [p.last_run_id for p in pipelines if getattr(p, "last_run_id", None)]
    by_id = {}
    if ids:
        stages = Prefetch("stages", queryset=StageRun.objects.order_by("index").only("run_id", "name", "state"))
        runs = (
            Run.objects.filter(pk__in=ids)
            .defer(*HEAVY_RUN_FIELDS)  # the list shows none of them; decoding them costs more than the query
            .select_related("triggered_by")
            .prefetch_related(stages)
        )
        by_id = {run.pk: run for run in runs}
    for pipeline in pipelines:
        run = by_id.get(getattr(pipeline, "last_run_id", None))
        if run is not None:
            run.pipeline = pipeline  # already loaded: no second fetch (and decode) of its definition
        pipeline.last_run = run


def run_summary(run: Run | None) -> dict | None:
    if run is None:
        return None
    return {
        "number": run.number,
        "state": run.state,
        "trigger": run.trigger,
        "triggered_by": run.triggered_by.username if run.triggered_by else None,
        "branch": run.branch,
        "tag": run.tag,
        "commit_id": run.commit_id,
        "commit_message": run.commit_message,
        "started": run.started.isoformat() if run.started else None,
        "finished": run.finished.isoformat() if run.finished else None,
        "duration_seconds": run.duration.total_seconds() if run.duration else None,
        "stages": [{"name": stage.name, "state": stage.state} for stage in run.stages.all()],
    }
