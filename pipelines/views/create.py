"""P2 create: choose the project, then name + source (step 1), then a template or blank (step 2), save.

Step 1's values travel to step 2 as hidden fields and are validated again on save, so the flow needs
neither JavaScript nor session state. Branch (and repository) lists come from the endpoint (E10); a
failing endpoint shows as a field error.
"""

from __future__ import annotations

import logging
import re

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from devops_console.core.models import ADD_PIPELINE, Project
from devops_console.core.parsing import parse_uint
from devops_console.core.permissions import VIEW, get_object_for_action
from devops_console.core.views_mixins import ProjectViewMixin
from endpoints.connectors import ConnectorError
from endpoints.services import browse, usable_endpoints
from pipelines import services
from pipelines.definition import default_definition
from pipelines.forms import GIT_ENDPOINT_TYPES, SourceForm, apply_definition_errors
from pipelines.models import HostGroup
from pipelines.views.base import url_or_none

logger = logging.getLogger(__name__)
MAX_CHOICES = 200


class ChooseProjectView(LoginRequiredMixin, TemplateView):
    """``/pipelines/new/``: the projects I may create pipelines in."""

    template_name = "pipelines/choose_project.html"

    def get(self, request, *args, **kwargs):
        if request.GET.get("project"):
            project_id = parse_uint(request.GET["project"])
            if project_id is None:
                raise Http404
            project = get_object_for_action(Project, request.user, ADD_PIPELINE, pk=project_id)
            return redirect("pipeline-create", project_id=project.pk)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["projects"] = Project.objects.restrict(self.request.user, ADD_PIPELINE).order_by("name")[:200]
        return context


def pipeline_templates(user):
    """The templates app's templates, when it provides them (guarded: it may not exist yet)."""
    try:
        from templates_app.models import PipelineTemplate
    except ImportError:
        return []
    manager = PipelineTemplate._default_manager
    queryset = manager.restrict(user, VIEW) if hasattr(manager, "restrict") else manager.all()
    return list(queryset[:100])


def template_definition(user, template, data: dict) -> dict:
    """The new pipeline's definition from a template (M3) and the step-1 data: the templates app's
    ``pipeline_definition`` when it has one, else the template's stages and parameters."""
    try:
        from templates_app.services import pipeline_definition
    except ImportError:
        pipeline_definition = None
    if pipeline_definition is not None:
        return pipeline_definition(user, template, data)
    definition = getattr(template, "definition", None)
    definition = definition if isinstance(definition, dict) else {}
    parts = {key: definition[key] for key in ("stages", "parameters") if isinstance(definition.get(key), list)}
    return {**{k: v for k, v in data.items() if k != "deploy"}, **parts}


def browse_choices(user, project, endpoint_id, repository: str, what: str) -> tuple[list, str]:
    """Branches or repositories through a usable endpoint, or ([], a message for the field)."""
    endpoint_id = str(endpoint_id or "").strip()
    endpoints = usable_endpoints(user, project, GIT_ENDPOINT_TYPES)
    endpoint = endpoints.filter(pk=int(endpoint_id)).first() if re.fullmatch(r"[0-9]{1,12}", endpoint_id) else None
    if endpoint is None:
        return [], _("Choose a service endpoint you may use first.")
    if what == "branches" and not repository:
        return [], _("Enter the repository first.")
    try:
        items = browse(endpoint, what, repository)
    except ConnectorError as exc:
        return [], _("The endpoint could not list them: %(error)s") % {"error": exc}
    except Exception:  # noqa: BLE001 - a remote failure must show as a field error, never a 500
        logger.exception("browsing endpoint %s failed", endpoint.pk)
        return [], _("The endpoint could not list them; check its connection on the Service Endpoints page.")
    if what == "repositories":
        items = [item.get("full_name") or item.get("name") for item in items if isinstance(item, dict)]
    return [str(item) for item in items if item][:MAX_CHOICES], ""


class _DryRun(Exception):
    pass


def check_definition(user, project, data: dict) -> None:
    """Validate exactly as creating would (names, endpoint rights, …) and roll everything back."""
    try:
        with transaction.atomic():
            services.create_pipeline(user, project, data)
            raise _DryRun
    except _DryRun:
        pass


class PipelineCreateView(ProjectViewMixin, TemplateView):
    template_name = "pipelines/create.html"
    project_action = ADD_PIPELINE
    nav_section = "pipelines"

    def form(self, data=None, browsing=False):
        endpoints = usable_endpoints(self.request.user, self.project, GIT_ENDPOINT_TYPES).order_by("name")
        return SourceForm(data, endpoints=endpoints, browsing=browsing)

    def get(self, request, *args, **kwargs):
        return self.step1(self.form())

    def post(self, request, *args, **kwargs):
        action = request.POST.get("action", "next")
        form = self.form(request.POST, browsing=action in ("branches", "repositories"))
        if not form.is_valid() or action == "back":
            return self.step1(form)
        if action in ("branches", "repositories"):
            items, error = browse_choices(
                request.user, self.project, request.POST.get("endpoint"), request.POST.get("repository", ""), action
            )
            field = "default_branch" if action == "branches" else "repository"
            if error:
                form.add_error(field, error)
            return self.step1(form, **{action: items, f"{action}_loaded": True})
        data = {**default_definition(), **form.to_definition()}
        if action == "create":
            return self.create(form, data)
        try:
            check_definition(request.user, self.project, data)
        except ValidationError as exc:
            apply_definition_errors(form, exc, SourceForm.field_for)
            return self.step1(form)
        return self.step2(form)

    def create(self, form, data):
        choice = self.request.POST.get("template", "blank")
        templates = {str(t.pk): t for t in pipeline_templates(self.request.user)}
        try:
            if choice != "blank":
                if choice not in templates:
                    return self.step2(form, error=_("Choose a template from the list, or a blank pipeline."))
                chosen = {key: data[key] for key in ("name", "description", "sources")}
                data = template_definition(self.request.user, templates[choice], {**chosen, "deploy": self.deploy()})
            pipeline = services.create_pipeline(self.request.user, self.project, data)
        except ValidationError as exc:
            leftovers = apply_definition_errors(form, exc, SourceForm.field_for)
            if len(leftovers) < sum(len(v) for v in exc.message_dict.values()):
                return self.step1(form)  # a step-1 field is wrong (e.g. the name was taken meanwhile)
            return self.step2(form, chosen=choice)
        messages.success(self.request, _("Pipeline “%(name)s” created.") % {"name": pipeline.name})
        workflow = url_or_none("pipeline-workflow", self.project.pk, pipeline.pk)
        return redirect(workflow or reverse("pipeline-detail", args=[self.project.pk, pipeline.pk]))

    def deploy(self) -> dict:
        """Deploy targets for a template's deploy tasks (Kubernetes endpoint, host group), if chosen."""
        endpoint = self.request.POST.get("deploy_endpoint", "")
        return {
            "endpoint": int(endpoint) if re.fullmatch(r"[0-9]{1,12}", endpoint) else None,
            "host_group": self.request.POST.get("deploy_host_group", "")[:100],
        }

    def step1(self, form, **extra):
        return self.render_to_response(self.get_context_data(form=form, step=1, **extra))

    def step2(self, form, chosen="blank", error=""):
        context = self.get_context_data(
            form=form,
            step=2,
            templates=pipeline_templates(self.request.user),
            chosen=chosen,
            error=error,
            kubernetes_endpoints=usable_endpoints(self.request.user, self.project, ["kubernetes"]).order_by("name"),
            host_groups=HostGroup.objects.filter(project=self.project).values_list("name", flat=True),
            deploy=self.deploy(),
        )
        return self.render_to_response(context)


class BrowseView(ProjectViewMixin, TemplateView):
    """htmx: the branch (or repository) choices of the endpoint, as a fragment for the create form."""

    template_name = "pipelines/_browse.html"
    project_action = ADD_PIPELINE

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        what = "repositories" if self.request.GET.get("what") == "repositories" else "branches"
        items, error = browse_choices(
            self.request.user,
            self.project,
            self.request.GET.get("endpoint"),
            self.request.GET.get("repository", "").strip(),
            what,
        )
        context.update(what=what, items=items, error=error, loaded=True)
        return context
