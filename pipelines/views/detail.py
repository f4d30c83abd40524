"""The pipeline page: header with actions, a read-only workflow, parameters (and, later, run history)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from devops_console.core.permissions import VIEW
from endpoints.models import ServiceEndpoint
from pipelines.definition import system_parameters
from pipelines.forms import PARAMETER_TYPE_LABELS
from pipelines.views.base import PipelineViewMixin

TASK_LOOK = {
    "build": ("bi-hammer", _("build")),
    "code_check": ("bi-shield-check", _("code check")),
    "api_test": ("bi-activity", _("API test")),
    "deploy": ("bi-rocket-takeoff", _("deploy")),
    "sub_pipeline": ("bi-diagram-2", _("sub-pipeline")),
    "delay": ("bi-hourglass-split", _("delay")),
    "manual_review": ("bi-person-check", _("manual review")),
}


def workflow_stages(definition: dict) -> list[dict]:
    """Stages for the read-only workflow view, each task with its icon and type label."""
    stages = []
    for stage in definition.get("stages", []):
        tasks = []
        for task in stage.get("tasks", []):
            icon, label = TASK_LOOK.get(task.get("type"), ("bi-gear", task.get("type", "")))
            tasks.append({**task, "icon": icon, "label": label})
        stages.append({**stage, "tasks": tasks})
    return stages


def source_rows(definition: dict, project, user) -> list[dict]:
    """Sources with the names of the endpoints ``user`` may see (one query for all of them)."""
    sources = [s for s in definition.get("sources", []) if isinstance(s, dict)]
    ids = {s.get("endpoint") for s in sources if isinstance(s.get("endpoint"), int)}
    visible = ServiceEndpoint.objects.restrict(user, VIEW).filter(project=project, pk__in=ids)
    names = dict(visible.values_list("pk", "name")) if ids else {}
    return [{**s, "endpoint_name": names.get(s.get("endpoint"), "")} for s in sources]


class PipelineDetailView(PipelineViewMixin, TemplateView):
    template_name = "pipelines/detail.html"
    http_method_names = ["get"]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        definition = self.pipeline.definition
        context.update(
            sources=source_rows(definition, self.project, self.request.user),
            stages=workflow_stages(definition),
            parameters=definition.get("parameters", []),
            system_parameters=system_parameters(definition),
            versions=self.pipeline.versions.select_related("author")[:5],
            type_labels=PARAMETER_TYPE_LABELS,
        )
        return context
