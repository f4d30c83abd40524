"""Workflow editor forms, shown in the side drawer: stage (P5), task by type (P6, R9), stage gates and an
inline gate template (P7). Validator errors land on the fields; nothing is saved and the input is kept."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from devops_console.core.models import Membership
from endpoints.services import usable_endpoints
from pipelines import services, workflow_ops
from pipelines.models import GateTemplate, HostGroup, Pipeline
from pipelines.views.workflow import WorkflowBase, gate_items
from pipelines.workflow_forms import TASK_FORMS, Choices, GateForm, GateTemplateForm, StageForm


class StageFormView(WorkflowBase):
    """Add a stage (no ``stage`` in the URL) or edit one: name, always run, manual start, serial/parallel."""

    drawer = "pipelines/workflow_drawer_stage.html"

    def adding(self) -> bool:
        return "stage" not in self.kwargs

    def get(self, request, *args, **kwargs):
        initial = {"parallel": "serial", "manual": "auto"}
        if not self.adding():
            initial = StageForm.initial_from(self.definition["stages"][self.stage_index()])
        return self.show(StageForm(initial=initial))

    def show(self, form):
        index = None if self.adding() else self.stage_index()
        return self.render_editor(self.drawer, form=form, stage_index=index, action=self.request.path)

    def post(self, request, *args, **kwargs):
        if self.stale():
            return self.refused([self.stale_message()])
        form = StageForm(request.POST)
        if not form.is_valid():
            return self.show(form)
        stage = form.to_stage()
        if self.adding():
            index = len(self.definition.get("stages") or [])
            new = workflow_ops.add_stage(self.definition, stage)
            text = _("added stage %(name)s") % {"name": stage["name"]}
        else:
            index = self.stage_index()
            old = self.definition["stages"][index].get("name")
            new = workflow_ops.edit_stage(self.definition, index, stage)
            text = _("edited stage %(name)s") % {"name": stage["name"]}
            if old != stage["name"]:
                text = _("renamed stage %(old)s to %(name)s") % {"old": old, "name": stage["name"]}
        try:
            self.save(new, text)
        except ValidationError as exc:
            form.apply_definition_errors(exc.message_dict, f"stages[{index}]", self.describe)
            return self.show(form)
        return self.done(_("Saved: %(summary)s.") % {"summary": text})


class TaskTypeView(WorkflowBase):
    """Add task, step 1: pick the type."""

    def get(self, request, *args, **kwargs):
        index = self.stage_index()
        return self.render_editor(
            "pipelines/workflow_drawer_types.html",
            stage_index=index,
            stage=self.definition["stages"][index],
            task_types=list(TASK_FORMS.values()),
        )


class TaskFormView(WorkflowBase):
    """Add task, step 2 (``kind`` in the URL), or edit a task: the type's own form."""

    drawer = "pipelines/workflow_drawer_task.html"

    def adding(self) -> bool:
        return "task" not in self.kwargs

    def form_class(self):
        if self.adding():
            kind = self.kwargs["kind"]
        else:
            kind = self.definition["stages"][self.stage_index()]["tasks"][self.task_index()].get("type")
        if kind not in TASK_FORMS:
            raise Http404
        return TASK_FORMS[kind]

    def existing(self) -> dict | None:
        return None if self.adding() else self.definition["stages"][self.stage_index()]["tasks"][self.task_index()]

    def choices(self) -> Choices:
        definition, project = self.definition, self.project
        host_params = [f"${{{p['name']}}}" for p in definition.get("parameters") or [] if p.get("type") == "host_group"]
        return Choices(
            sources=[s["alias"] for s in definition.get("sources") or [] if s.get("alias")],
            members=list(
                Membership.objects.filter(project=project)
                .order_by("user__username")
                .values_list("user__username", flat=True)
            ),
            host_groups=[*HostGroup.objects.filter(project=project).values_list("name", flat=True), *host_params],
            endpoints=[(e.pk, e.name) for e in usable_endpoints(self.request.user, project, ["kubernetes"])],
            pipelines=list(
                Pipeline.objects.filter(project=project).exclude(pk=self.pipeline.pk).values_list("pk", "name")
            ),
        )

    def get(self, request, *args, **kwargs):
        cls = self.form_class()
        existing = self.existing()
        initial = cls.initial_from(existing) if existing else cls.initial_from({"config": self.defaults(cls)})
        return self.show(cls(initial=initial, choices=self.choices()))

    @staticmethod
    def defaults(cls) -> dict:
        return {
            "build": {"version": "${PIPELINE_NUMBER}"},
            "code_check": {"preset": "ruff"},
            "api_test": {"mode": "http"},
            "deploy": {"target": "host_group"},
            "manual_review": {"mode": "any"},
        }.get(cls.type_key, {})

    def show(self, form):
        s = self.stage_index()
        existing = self.existing()
        return self.render_editor(
            self.drawer,
            form=form,
            stage_index=s,
            stage=self.definition["stages"][s],
            task_index=None if self.adding() else self.task_index(),
            task=existing,
            action=self.request.path,
        )

    def post(self, request, *args, **kwargs):
        if self.stale():
            return self.refused([self.stale_message()])
        cls = self.form_class()
        existing = self.existing()
        form = cls(request.POST, initial=cls.initial_from(existing) if existing else {}, choices=self.choices())
        if not form.is_valid():
            return self.show(form)
        s = self.stage_index()
        stage = self.definition["stages"][s]
        task = form.to_task(existing)
        names = {"task": task["name"], "stage": stage.get("name")}
        if self.adding():
            index = len(stage.get("tasks") or [])
            new = workflow_ops.add_task(self.definition, s, task)
            text = _("added task %(task)s to %(stage)s") % names
        else:
            index = self.task_index()
            new = workflow_ops.edit_task(self.definition, s, index, task)
            text = _("edited task %(task)s in %(stage)s") % names
        try:
            self.save(new, text)
        except ValidationError as exc:
            form.apply_definition_errors(exc.message_dict, f"stages[{s}].tasks[{index}]", self.describe)
            return self.show(form)
        return self.done(_("Saved: %(summary)s.") % {"summary": text})


class GateFormView(WorkflowBase):
    """A stage's quality gates (P7): system and project gate templates, and “create gate template”."""

    drawer = "pipelines/workflow_drawer_gates.html"

    def templates(self):
        queryset = GateTemplate.objects.filter(Q(project__isnull=True) | Q(project=self.project))
        return list(queryset.order_by("project_id", "name"))

    def get(self, request, *args, **kwargs):
        stage = self.definition["stages"][self.stage_index()]
        chosen = [str(g.get("template")) for g in stage.get("gates") or []]
        return self.show(GateForm(initial={"templates": chosen}, templates=self.templates()))

    def show(self, form, template_form=None):
        s = self.stage_index()
        rows = [
            {"widget": widget, "template": template, "items": gate_items(template)}
            for widget, template in zip(form["templates"], self.templates(), strict=False)
        ]
        return self.render_editor(
            self.drawer,
            form=form,
            rows=rows,
            template_form=template_form or GateTemplateForm(initial={"issue_count": "0", "pass_rate": "90"}),
            open_template_form=template_form is not None,
            can_add_template=services.can_add_gate_template(self.request.user, self.project),
            stage_index=s,
            stage=self.definition["stages"][s],
            template_action=reverse("pipeline-workflow-gate-template", args=[self.project.pk, self.pipeline.pk, s]),
            action=reverse("pipeline-workflow-gates", args=[self.project.pk, self.pipeline.pk, s]),
        )

    def post(self, request, *args, **kwargs):
        if self.stale():
            return self.refused([self.stale_message()])
        form = GateForm(request.POST, templates=self.templates())
        if not form.is_valid():
            return self.show(form)
        s = self.stage_index()
        ids = form.template_ids()
        try:
            self.save(workflow_ops.set_gates(self.definition, s, ids), self.gate_summary(s, ids))
        except ValidationError as exc:
            form.apply_definition_errors(exc.message_dict, f"stages[{s}]", self.describe)
            return self.show(form)
        return self.done(_("Saved: %(summary)s.") % {"summary": self.gate_summary(s, ids)})

    def gate_summary(self, s: int, ids: list[int]) -> str:
        stage = self.definition["stages"][s].get("name")
        if not ids:
            return _("removed the quality gates of %(stage)s") % {"stage": stage}
        names = dict(GateTemplate.objects.filter(pk__in=ids).values_list("pk", "name"))
        gates = ", ".join(names.get(i, f"#{i}") for i in ids)
        return _("set the quality gates of %(stage)s: %(gates)s") % {"stage": stage, "gates": gates}


class GateTemplateView(GateFormView):
    """POST “create gate template” (name + items) and add it to the stage's gates, in one transaction."""

    def get(self, request, *args, **kwargs):
        return redirect("pipeline-workflow-gates", self.project.pk, self.pipeline.pk, self.stage_index())

    def post(self, request, *args, **kwargs):
        if self.stale():
            return self.refused([self.stale_message()])
        s = self.stage_index()
        stage = self.definition["stages"][s]
        current = [g.get("template") for g in stage.get("gates") or []]
        template_form = GateTemplateForm(request.POST)
        template_form.is_valid()
        items = template_form.items()
        try:
            with transaction.atomic():
                template = services.create_gate_template(
                    request.user, self.project, template_form.cleaned_data.get("gt_name"), items
                )
                ids = [*current, template.pk]
                self.save(workflow_ops.set_gates(self.definition, s, ids), self.gate_summary(s, ids))
        except ValidationError as exc:
            if any(key == "name" or key.startswith("items") for key in exc.message_dict):
                template_form.apply_service_errors(exc.message_dict, items)
            else:
                template_form.put_error(None, self.error_messages(exc))
            form = GateForm(initial={"templates": [str(i) for i in current]}, templates=self.templates())
            return self.show(form, template_form)
        return self.done(
            _("Gate template “%(name)s” created and added to stage %(stage)s.")
            % {"name": template.name, "stage": stage.get("name")}
        )
