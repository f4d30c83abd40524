"""The "last run" of pipelines for list pages and the API (P1), in a constant number of queries."""

from __future__ import annotations

from typing import NamedTuple

from django.db.models import Exists, OuterRef, Subquery

from pipelines.runs.models import Run, StageRun, State

HEAVY_RUN_FIELDS = ("snapshot", "parameters", "sources", "selected_tasks", "trigger_detail", "error")


def with_last_run_id(queryset):
    """Annotate each pipeline with the id of its newest run."""
    newest = Run.objects.filter(pipeline=OuterRef("pk")).order_by("-number").values("pk")[:1]
    return queryset.annotate(last_run_id=Subquery(newest))


def last_run_by(queryset, user):
    """Pipelines whose last run ``user`` started (needs ``with_last_run_id``)."""
    return queryset.filter(Exists(Run.objects.filter(pk=OuterRef("last_run_id"), triggered_by=user)))


class StageBadge(NamedTuple):
    """One stage of a run as list pages show it (name and X9 state)."""

    name: str
    state: str

    @property
    def state_label(self) -> str:
        return State(self.state).label if self.state in State.values else self.state


def attach_stage_badges(runs) -> None:
    """Set ``run.stage_badges`` (in stage order) on every run given, in one query whatever their number.

    Plain tuples rather than ``prefetch_related("stages")``: a prefetch keeps a queryset per run whose
    stage rows point back at the run, a reference cycle per row that only the garbage collector frees;
    on a 50-row page that garbage made the full collections that dominate the slowest requests."""
    runs = list(runs)
    badges: dict[int, list[StageBadge]] = {run.pk: [] for run in runs}
    if badges:
        rows = StageRun.objects.filter(run_id__in=list(badges)).order_by("run_id", "index")
        for run_id, name, state in rows.values_list("run_id", "name", "state"):
            badges[run_id].append(StageBadge(name, state))
    for run in runs:
        run.stage_badges = badges[run.pk]


def prepare_run_columns(runs, project_ids: dict[int, int]) -> None:
    """What ``runs/_run_columns.html`` needs besides ``stage_badges``: ``detail_url`` (one reverse() for all
    rows) and ``duration_text``. ``project_ids``: pipeline id → project id for the runs given."""
    from devops_console.core.urlformat import url_formatter
    from pipelines.runs.api_serializers import format_duration

    link = url_formatter("run-detail", 3)
    for run in runs:
        run.detail_url = link(project_ids[run.pipeline_id], run.pipeline_id, run.number)
        run.duration_text = format_duration(run.started, run.finished)


def attach_last_runs(pipelines) -> None:
    """Set ``pipeline.last_run`` (with its ``stage_badges``) on every pipeline given, in two queries
    whatever their number. The run does not point back at the pipeline (no reference cycle)."""
    pipelines = list(pipelines)
    ids = [p.last_run_id for p in pipelines if getattr(p, "last_run_id", None)]
    by_id = {}
    if ids:
        runs = (
            Run.objects.filter(pk__in=ids)
            .defer(*HEAVY_RUN_FIELDS)  # the list shows none of them; decoding them costs more than the query
            .select_related("triggered_by")
        )
        by_id = {run.pk: run for run in runs}
        attach_stage_badges(by_id.values())
    for pipeline in pipelines:
        pipeline.last_run = by_id.get(getattr(pipeline, "last_run_id", None))


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
        "stages": [{"name": stage.name, "state": stage.state} for stage in run.stage_badges],
    }
