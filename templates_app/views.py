"""Services › Templates pages (SPEC §9, M1–M3; seed 002 §2): the list (system / custom tabs, followed
filter), a template's workflow and parameters, create / edit a custom template (YAML definition), copy,
delete, follow, and "Generate pipeline" (choose a project, then name, source and what the template leaves
open). Thin: objects through the restricted querysets (404 invisible, 403 not allowed), work through
``templates_app.services``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.generic import FormView, TemplateView

from devops_console.core.models import ADD_PIPELINE, Project
from devops_console.core.permissions import CHANGE, DELETE, VIEW, get_object_for_action
from pipelines.definition import ROOT
from pipelines.definition.base import as_int
from pipelines.models import Pipeline
from templates_app import services
from templates_app.forms import GenerateForm, TemplateForm, to_yaml
from templates_app.models import PipelineTemplate

TABS = ("all", "system", "custom")
TASK_ICONS = {
    "build": "bi-hammer",
    "code_check": "bi-search",
    "api_test": "bi-check2-square",
    "deploy": "bi-rocket-takeoff",
    "delay": "bi-hourglass-split",
    "manual_review": "bi-person-check",
    "sub_pipeline": "bi-diagram-2",
}


def _int_param(value) -> int | None:
    number = as_int(value) if value not in (None, "") else None
    return number if number is not None and 0 < number < 2**31 else None


def load_template(user, pk, action: str = VIEW) -> PipelineTemplate:
    """Through the restricted queryset: 404 when invisible, 403 when ``action`` is not allowed."""
    queryset = PipelineTemplate.objects.select_related("owner", "project")
    template = get_object_for_action(queryset, user, action, pk=pk)
    if action in (CHANGE, DELETE) and template.system:
        raise PermissionDenied  # read-only for everyone, superusers included (M1)
    return template


class TemplateMixin(LoginRequiredMixin):
    """Loads the template of the URL through the restricted queryset for ``template_action``."""

    template_action = VIEW

    def get_template_object(self) -> PipelineTemplate:
        if not hasattr(self, "_template"):
            self._template = load_template(self.request.user, self.kwargs["pk"], self.template_action)
        return self._template

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.get_template_object()
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["template"] = self.get_template_object()
        return context


def _row(template, user, followed: set[int]) -> dict:
    return {
        "template": template,
        "followed": template.pk in followed,
        "mine": not template.system and (template.owner_id == user.pk or user.is_superuser),
        "stage_count": len(template.stages),
    }


class TemplateHomeView(LoginRequiredMixin, TemplateView):
    """Services › Templates: tabs all / system / custom, followed filter, search; ``?project=`` is kept for
    the "Generate pipeline" links when the list is opened from a project."""

    template_name = "templates_app/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, query = self.request.user, self.request.GET
        tab = query.get("tab") if query.get("tab") in TABS else "all"
        followed_only = query.get("followed") == "1"
        search = (query.get("q") or "")[:100].replace("\x00", "")
        queryset = services.visible_templates(user)
        if tab != "all":
            queryset = queryset.filter(system=(tab == "system"))
        followed = services.followed_ids(user)
        if followed_only:
            queryset = queryset.filter(pk__in=followed)
        if search.strip():
            queryset = queryset.filter(Q(name__icontains=search.strip()) | Q(description__icontains=search.strip()))
        project_id = _int_param(query.get("project"))
        # opened from a project: "Generate pipeline" goes straight to step 2 there, if the user may add pipelines
        project = Project.objects.restrict(user, ADD_PIPELINE).filter(pk=project_id).first() if project_id else None
        context.update(
            rows=[_row(t, user, followed) for t in queryset.order_by("-system", "name", "pk")[:500]],
            tab=tab,
            tabs=[("all", _("All")), ("system", _("System")), ("custom", _("Custom"))],
            followed_only=followed_only,
            search=search,
            from_project=project,
        )
        return context


class TemplateDetailView(TemplateMixin, TemplateView):
    """A template's stages as a workflow, its parameters and actions."""

    template_name = "templates_app/detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        template = self.get_template_object()
        user = self.request.user
        stages = []
        for stage in template.stages:
            if isinstance(stage, dict):
                tasks = [
                    {**task, "icon": TASK_ICONS.get(task.get("type"), "bi-gear")}
                    for task in stage.get("tasks") or []
                    if isinstance(task, dict)
                ]
                stages.append({**stage, "task_list": tasks, "gate_count": len(stage.get("gates") or [])})
        context.update(_row(template, user, services.followed_ids(user)))
        context.update(stages=stages, parameters=template.parameters, definition_yaml=to_yaml(template.definition))
        return context


class TemplateFormView(LoginRequiredMixin, FormView):
    """Create (``?from_pipeline=<id>`` starts from a pipeline's stages) or, with a pk, edit a custom template."""

    template_name = "templates_app/form.html"
    form_class = TemplateForm

    def dispatch(self, request, *args, **kwargs):
        self.template = None
        if request.user.is_authenticated and "pk" in kwargs:
            self.template = load_template(request.user, kwargs["pk"], CHANGE)
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_initial(self):
        if self.template is not None:
            t = self.template
            return {
                "name": t.name,
                "description": t.description,
                "project": t.project_id or "",
                "definition": to_yaml(t.definition),
            }
        initial = {"definition": to_yaml({"parameters": [], "stages": []})}
        pipeline_id = _int_param(self.request.GET.get("from_pipeline"))
        if pipeline_id:
            pipeline = Pipeline.objects.restrict(self.request.user, VIEW).filter(pk=pipeline_id).first()
            if pipeline is not None:
                initial.update(
                    name=pipeline.name,
                    description=pipeline.description,
                    project=pipeline.project_id,
                    definition=to_yaml(services.template_data_from_pipeline(pipeline)),
                )
        return initial

    def form_valid(self, form):
        try:
            if self.template is None:
                template = services.create_template(self.request.user, form.service_data())
            else:
                template = services.update_template(self.request.user, self.template, form.service_data())
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field.startswith("definition"):
                    where = field[len("definition.") :]
                    form.add_error("definition", [f"{where}: {e}" if where else e for e in errors])
                else:
                    form.add_error(field if field in form.fields else None, errors)
            return self.form_invalid(form)
        messages.success(self.request, _("Template “%(name)s” saved.") % {"name": template.name})
        return redirect("template-detail", pk=template.pk)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "template": self.template}


class TemplateCopyView(TemplateMixin, TemplateView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        copied = services.copy_template(request.user, self.get_template_object())
        messages.success(request, _("Copied as “%(name)s”; adjust it and save.") % {"name": copied.name})
        return redirect("template-edit", pk=copied.pk)


class TemplateDeleteView(TemplateMixin, TemplateView):
    template_action = DELETE
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        template = self.get_template_object()
        services.delete_template(request.user, template)
        messages.success(request, _("Template “%(name)s” deleted.") % {"name": template.name})
        return redirect("template-home")


class TemplateFollowView(TemplateMixin, TemplateView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        template = self.get_template_object()
        services.follow(request.user, template, request.POST.get("action") != "unfollow")
        target = request.POST.get("next") or ""
        if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
            target = reverse("template-detail", args=[template.pk])
        return redirect(target)


class GenerateView(TemplateMixin, FormView):
    """M3 in two steps: choose a project where you may add pipelines (``?project=``), then the form."""

    template_name = "templates_app/generate.html"
    form_class = GenerateForm

    def dispatch(self, request, *args, **kwargs):
        self.project = None
        if request.user.is_authenticated:
            project_id = request.POST.get("project") or request.GET.get("project")
            if project_id not in (None, ""):
                project_id = _int_param(project_id)
                if project_id is None:
                    return redirect("template-generate", pk=kwargs["pk"])
                self.get_template_object()
                self.project = get_object_for_action(Project, request.user, ADD_PIPELINE, pk=project_id)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        if self.project is None:
            return self.render_to_response(self.get_context_data(form=None))
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        if self.project is None:
            return redirect("template-generate", pk=kwargs["pk"])
        return super().post(request, *args, **kwargs)

    def get_form_kwargs(self):
        template = self.get_template_object()
        return {
            **super().get_form_kwargs(),
            "user": self.request.user,
            "project": self.project,
            "template": template,
            "needs": services.template_needs(template),
        }

    def form_valid(self, form):
        try:
            pipeline = services.generate_pipeline(
                self.request.user, self.get_template_object(), form.service_data(self.project)
            )
        except ValidationError as exc:
            for path, errors in exc.message_dict.items():
                field = form.field_for(path)
                form.add_error(field, errors if field or path == ROOT else [f"{path}: {e}" for e in errors])
            return self.form_invalid(form)
        messages.success(self.request, _("Pipeline “%(name)s” created from the template.") % {"name": pipeline.name})
        return redirect(services.pipeline_url(pipeline))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        projects = Project.objects.restrict(self.request.user, ADD_PIPELINE).order_by("name")
        context.update(project=None, chosen_project=self.project, projects=projects)
        return context
