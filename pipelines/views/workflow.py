"""The workflow editor (SPEC P5 stages, P6 tasks, P7 quality gates, R9 task parameters; seed 002 §1.3 工作流).

Stages are columns, tasks are cards. Every change is a pure edit of the definition (``pipelines.workflow_ops``)
saved whole through ``services.update_pipeline``, which validates it and records a configuration version
with a summary like "added task compile to Build". Viewing needs VIEW on the pipeline, every change (and
every change form) CHANGE: a viewer gets 403, another project's pipeline 404.

With htmx, buttons swap ``#workflow-area`` and forms open in the ``#workflow-drawer`` side panel; without
JavaScript the same URLs answer with whole pages and redirects. This module holds the shared base, the
page and the one-click operations; the forms live in ``workflow_edit``.
"""

from __future__ import annotations

import re

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View

from devops_console.core.parsing import parse_uint
from devops_console.core.permissions import CHANGE, VIEW, can, get_object_for_action
from devops_console.core.views_mixins import ProjectViewMixin
from pipelines import services, workflow_ops
from pipelines.models import GateTemplate, Pipeline
from pipelines.workflow_forms import TASK_FORMS

_PATH = re.compile(r"stages\[(\d+)\](?:\.tasks\[(\d+)\])?(?:\.(.*))?")
METRICS = {"issue_count": "≤", "pass_rate": "≥"}


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


class _PipelineLoader(View):
    """Runs after ``ProjectViewMixin`` has loaded the project: loads ``self.pipeline`` for the needed action."""

    #: a GET that only shows (the editor page) needs VIEW; forms and every POST need CHANGE
    read_only_get = False

    def dispatch(self, request, *args, **kwargs):
        action = VIEW if self.read_only_get and request.method in ("GET", "HEAD") else CHANGE
        queryset = Pipeline.objects.filter(project=self.project)
        self.pipeline = get_object_for_action(queryset, request.user, action, pk=kwargs["pipeline_id"])
        return super().dispatch(request, *args, **kwargs)


class WorkflowBase(ProjectViewMixin, _PipelineLoader):
    nav_section = "pipelines"

    # ---- definition access
    @property
    def definition(self) -> dict:
        return self.pipeline.definition

    def stage_index(self) -> int:
        index = self.kwargs["stage"]
        if index >= len(self.definition.get("stages") or []):
            raise Http404
        return index

    def task_index(self) -> int:
        index = self.kwargs["task"]
        if index >= len((self.definition["stages"][self.stage_index()].get("tasks")) or []):
            raise Http404
        return index

    def editor_url(self) -> str:
        return reverse("pipeline-workflow", args=[self.project.pk, self.pipeline.pk])

    # ---- saving
    def stale(self) -> bool:
        """The form was shown for an older version: indexes may point elsewhere now."""
        posted = self.request.POST.get("version", "")
        version = parse_uint(posted)
        return version is not None and version != self.pipeline.version

    def stale_message(self) -> str:
        return _(
            "This pipeline was changed meanwhile (it is now at version %(n)s), so your change was not applied. "
            "The workflow below is the current one."
        ) % {"n": self.pipeline.version}

    def save(self, definition: dict, summary: str) -> None:
        """Validate and store the whole definition with a new version; raises ValidationError."""
        before = self.pipeline.version
        self.pipeline = services.update_pipeline(
            self.request.user, self.pipeline, definition, partial=True, summary=summary
        )
        self.unchanged = self.pipeline.version == before

    def describe(self, path: str, message: str) -> str:
        """An error outside the form at hand, prefixed with where it is (unless the message says so)."""
        match = _PATH.fullmatch(path)
        stages = self.definition.get("stages") or []
        if not match or int(match.group(1)) >= len(stages):
            return message
        stage = stages[int(match.group(1))]
        where = _("Stage “%(name)s”") % {"name": stage.get("name")}
        tasks = stage.get("tasks") or []
        if match.group(2) is not None and int(match.group(2)) < len(tasks):
            task = tasks[int(match.group(2))].get("name")
            if message.startswith(_("Stage “%(stage)s”, task “%(task)s”") % {"stage": stage.get("name"), "task": task}):
                return message
            where += " › " + _("task “%(name)s”") % {"name": task}
        return message if message.startswith(where) else f"{where}: {message}"

    def error_messages(self, exc: ValidationError) -> list[str]:
        if not hasattr(exc, "error_dict"):
            return list(exc.messages)
        return [self.describe(path, m) for path, msgs in exc.message_dict.items() for m in msgs]

    # ---- responses
    def done(self, message: str):
        if getattr(self, "unchanged", False):
            messages.info(self.request, _("No changes to save."))
        else:
            messages.success(self.request, message)
        return self.area_response() if is_htmx(self.request) else redirect(self.editor_url())

    def refused(self, problems: list[str]):
        for problem in problems:
            messages.error(self.request, problem)
        return self.area_response() if is_htmx(self.request) else redirect(self.editor_url())

    def area_response(self):
        """htmx: the fresh workflow area and the drawer emptied, both out of band (the forms swap nothing)."""
        context = {**self.board_context(), "oob": True}
        html = render_to_string("pipelines/workflow_area.html", context, request=self.request)
        html += '<div id="workflow-drawer" class="wf-drawer" data-testid="drawer" hx-swap-oob="true"></div>'
        return HttpResponse(html)

    def render_editor(self, drawer: str | None = None, **context):
        """The editor page with ``drawer`` open; htmx asked for the drawer only."""
        context = {**self.board_context(), **context, "drawer": drawer}
        if drawer and is_htmx(self.request):
            return TemplateResponse(self.request, drawer, context)
        return TemplateResponse(self.request, "pipelines/workflow.html", context)

    # ---- what the board shows
    def board_context(self) -> dict:
        definition = self.pipeline.definition
        user = self.request.user
        ids = {g.get("template") for s in definition.get("stages") or [] for g in s.get("gates") or []}
        templates = {t.pk: t for t in GateTemplate.objects.filter(pk__in=[i for i in ids if isinstance(i, int)])}
        pipelines = dict(Pipeline.objects.filter(project=self.project).values_list("pk", "name"))
        stages = []
        for index, stage in enumerate(definition.get("stages") or []):
            tasks = [
                {
                    "index": t,
                    "task": task,
                    "form": TASK_FORMS.get(task.get("type")),
                    "summary": summary(task, pipelines),
                }
                for t, task in enumerate(stage.get("tasks") or [])
            ]
            gates = [gate_view(g.get("template"), templates) for g in stage.get("gates") or []]
            stages.append({"index": index, "stage": stage, "tasks": tasks, "gates": gates, "last": False})
        if stages:
            stages[-1]["last"] = True
        return {
            "project": self.project,
            "nav_section": self.nav_section,
            "pipeline": self.pipeline,
            "definition": definition,
            "stages": stages,
            "can_edit": can(user, self.pipeline, CHANGE),
            "editor_url": self.editor_url(),
            "htmx": is_htmx(self.request),
            "last_version": self.pipeline.versions.select_related("author").first(),
        }


def gate_view(template_id, templates: dict) -> dict:
    template = templates.get(template_id)
    if template is None:
        return {"id": template_id, "name": _("Gate template #%(id)s (missing)") % {"id": template_id}, "items": []}
    return {"id": template.pk, "name": template.name, "items": gate_items(template), "system": not template.project_id}


def gate_items(template) -> list[str]:
    labels = {"issue_count": _("Code-check issues"), "pass_rate": _("API-test pass rate")}
    out = []
    for entry in template.items or []:
        metric = entry.get("metric")
        suffix = " %" if metric == "pass_rate" else ""
        out.append(f"{labels.get(metric, metric)} {METRICS.get(metric, '?')} {entry.get('threshold')}{suffix}")
    return out


def summary(task: dict, pipelines: dict) -> str:
    """One line under a task card's name."""
    config = task.get("config") or {}
    kind = task.get("type")
    if kind == "build":
        first = (config.get("commands") or "").strip().splitlines()
        package = f" → {config['package']}" if config.get("package") else ""
        return (first[0] if first else "") + package
    if kind == "code_check":
        return config.get("preset") or ""
    if kind == "api_test":
        if config.get("mode") == "http":
            n = len(config.get("checks") or [])
            return ngettext("%(n)s HTTP check", "%(n)s HTTP checks", n) % {"n": n}
        return _("JUnit: %(path)s") % {"path": config.get("junit_path") or ""}
    if kind == "deploy":
        if config.get("target") == "kubernetes":
            return _("Kubernetes · %(ns)s") % {"ns": config.get("namespace") or "default"}
        return _("Host group · %(name)s") % {"name": config.get("host_group") or ""}
    if kind == "sub_pipeline":
        return pipelines.get(config.get("pipeline"), f"#{config.get('pipeline')}")
    if kind == "delay":
        seconds = config.get("seconds") or 0
        return (
            _("Wait %(m)s min %(s)s s") % {"m": seconds // 60, "s": seconds % 60}
            if seconds >= 60
            else (_("Wait %(s)s s") % {"s": seconds})
        )
    if kind == "manual_review":
        mode = _("all of") if config.get("mode") == "all" else _("any of")
        return f"{mode} {', '.join(config.get('reviewers') or [])}"
    return ""


class WorkflowView(WorkflowBase):
    """The editor page (GET, VIEW). ``?drawer=close`` from htmx answers an empty drawer."""

    read_only_get = True

    def get(self, request, *args, **kwargs):
        if is_htmx(request) and request.GET.get("drawer") == "close":
            return HttpResponse("")
        return self.render_editor()


# --------------------------------------------------------------------------- one-click operations


class StageOpView(WorkflowBase):
    """POST copy / delete / left / right of a stage."""

    def post(self, request, *args, **kwargs):
        if self.stale():
            return self.refused([self.stale_message()])
        index, op = self.stage_index(), self.kwargs["op"]
        name = self.definition["stages"][index].get("name")
        actions = {
            "copy": (lambda d: workflow_ops.copy_stage(d, index), _("copied stage %(stage)s")),
            "delete": (lambda d: workflow_ops.delete_stage(d, index), _("deleted stage %(stage)s")),
            "left": (lambda d: workflow_ops.move_stage(d, index, -1), _("moved stage %(stage)s left")),
            "right": (lambda d: workflow_ops.move_stage(d, index, 1), _("moved stage %(stage)s right")),
        }
        if op not in actions:
            raise Http404
        edit, text = actions[op]
        return self.apply(edit, text % {"stage": name})

    def apply(self, edit, text: str):
        try:
            self.save(edit(self.definition), text)
        except workflow_ops.WorkflowError as exc:
            return self.refused([str(exc)])
        except ValidationError as exc:
            return self.refused(self.error_messages(exc))
        return self.done(_("Saved: %(summary)s.") % {"summary": text})


class TaskOpView(StageOpView):
    """POST copy / delete / up / down of a task; moving is refused inside a parallel stage (P6)."""

    def post(self, request, *args, **kwargs):
        if self.stale():
            return self.refused([self.stale_message()])
        s, t, op = self.stage_index(), self.task_index(), self.kwargs["op"]
        stage = self.definition["stages"][s]
        names = {"task": stage["tasks"][t].get("name"), "stage": stage.get("name")}
        actions = {
            "copy": (lambda d: workflow_ops.copy_task(d, s, t), _("copied task %(task)s in %(stage)s")),
            "delete": (lambda d: workflow_ops.delete_task(d, s, t), _("deleted task %(task)s from %(stage)s")),
            "up": (lambda d: workflow_ops.move_task(d, s, t, -1), _("moved task %(task)s up in %(stage)s")),
            "down": (lambda d: workflow_ops.move_task(d, s, t, 1), _("moved task %(task)s down in %(stage)s")),
        }
        if op not in actions:
            raise Http404
        edit, text = actions[op]
        return self.apply(edit, text % names)


class PromoteParameterView(StageOpView):
    """R9: make a task parameter a pipeline parameter (still referenced as ``${name}``)."""

    def post(self, request, *args, **kwargs):
        if self.stale():
            return self.refused([self.stale_message()])
        s, t = self.stage_index(), self.task_index()
        name = request.POST.get("name", "")
        task = self.definition["stages"][s]["tasks"][t].get("name")
        text = _("promoted parameter %(name)s of task %(task)s to a pipeline parameter") % {"name": name, "task": task}
        return self.apply(lambda d: workflow_ops.promote_task_parameter(d, s, t, name), text)
