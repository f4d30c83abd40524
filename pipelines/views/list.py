"""P1 pipeline list (across my projects and per project), P3 copy, P8 delete, follow / unfollow.

The list costs the same number of queries for 10 and 1,000 pipelines: the page rows carry their
rights and the follow state as annotations (``with_rights``), nothing is fetched per row.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import ListView, TemplateView

from devops_console.core.models import ADD_PIPELINE, Project
from devops_console.core.permissions import DELETE, VIEW, can
from devops_console.core.urlformat import url_formatter
from devops_console.core.views_mixins import ProjectViewMixin
from pipelines import services
from pipelines.models import Pipeline
from pipelines.runs.summary import attach_last_runs, last_run_by, prepare_run_columns, with_last_run_id
from pipelines.views.base import PipelineViewMixin, safe_next, with_rights

FILTERS = {
    "all": gettext_lazy("All pipelines"),
    "mine": gettext_lazy("Created by me"),
    "last_run_by_me": gettext_lazy("Last run by me"),
}


class PipelineListView(LoginRequiredMixin, ListView):
    """Services › Pipelines: every pipeline of my projects (P1)."""

    template_name = "pipelines/list.html"
    paginate_by = 50
    project = None

    def get_queryset(self):
        user = self.request.user
        queryset = Pipeline.objects.restrict(user, VIEW)
        if self.project is not None:
            queryset = queryset.filter(project=self.project)
        self.filter = self.request.GET.get("filter", "all")
        if self.filter not in FILTERS:
            self.filter = "all"
        queryset = with_last_run_id(queryset)
        if self.filter == "mine":
            queryset = queryset.filter(creator=user)
        elif self.filter == "last_run_by_me":
            queryset = last_run_by(queryset, user)
        self.search = self.request.GET.get("search", "").strip()[:100]
        if self.search:
            queryset = queryset.filter(name__icontains=self.search)
        queryset = (
            queryset.select_related("project", "creator")
            # the definition is only needed for never-run rows (their stage chips): see ``decorate_rows``
            .only("pk", "name", "project_id", "creator_id", "project__name", "creator__username")
            .order_by("project__name", "name", "pk")
        )
        return with_rights(queryset, user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        attach_last_runs(context["object_list"])
        decorate_rows(context["object_list"])
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(
            filters=FILTERS.items(),
            current_filter=self.filter,
            search=self.search,
            query=query.urlencode(),
            list_url=self.request.path,
            new_url=self.new_url(),
            has_projects=self.has_projects(),
        )
        return context

    def new_url(self) -> str | None:
        if self.project is None:
            return reverse("pipeline-choose-project")
        if can(self.request.user, self.project, ADD_PIPELINE):
            return reverse("pipeline-create", args=[self.project.pk])
        return None

    def has_projects(self) -> bool:
        return self.project is not None or Project.objects.restrict(self.request.user, VIEW).exists()


ROW_LINKS = {
    "project": ("pipeline-list", 1),
    "detail": ("pipeline-detail", 2),
    "run": ("pipeline-run", 2),
    "edit": ("pipeline-workflow", 2),
    "copy": ("pipeline-copy", 2),
    "delete": ("pipeline-delete", 2),
    "follow": ("pipeline-follow", 2),
}


def decorate_rows(pipelines) -> None:
    """Give each row its links (``p.links``), its last run what the run columns need and, for a never-run
    pipeline, the names of its stages (``p.stage_names``) — one query whatever the number of rows."""
    formatters = {key: (url_formatter(name, nargs), nargs) for key, (name, nargs) in ROW_LINKS.items()}
    runs = [p.last_run for p in pipelines if p.last_run is not None]
    prepare_run_columns(runs, {p.pk: p.project_id for p in pipelines})
    never_run = [p.pk for p in pipelines if p.last_run is None]
    definitions = dict(Pipeline.objects.filter(pk__in=never_run).values_list("pk", "definition")) if never_run else {}
    for p in pipelines:
        ids = (p.project_id, p.pk)
        p.links = {key: fmt(*ids[:nargs]) for key, (fmt, nargs) in formatters.items()}
        if p.last_run is None:
            p.stage_names = [stage.get("name", "") for stage in (definitions.get(p.pk) or {}).get("stages", [])]


class ProjectPipelineListView(ProjectViewMixin, PipelineListView):
    """A project's pipelines (P1: the project name in the list links here)."""

    nav_section = "pipelines"


class FollowView(PipelineViewMixin, TemplateView):
    """Follow / unfollow (P1): any member who sees the pipeline. htmx gets the button back."""

    http_method_names = ["post"]
    pipeline_post_action = VIEW

    def post(self, request, *args, **kwargs):
        on = request.POST.get("on") == "1"
        services.follow(request.user, self.pipeline, on)
        if request.headers.get("HX-Request"):
            self.pipeline.following = on
            context = {
                "pipeline": self.pipeline,
                "next": safe_next(request, self.detail_url()),
                "compact": request.POST.get("compact") == "1",
            }
            return render(request, "pipelines/_follow.html", context)
        if on:
            messages.success(request, _("You follow “%(name)s”.") % {"name": self.pipeline.name})
        else:
            messages.success(request, _("You no longer follow “%(name)s”.") % {"name": self.pipeline.name})
        return redirect(safe_next(request, self.detail_url()))


class CopyView(PipelineViewMixin, TemplateView):
    """P3: a new pipeline with the same definition (and secret values); the copier is its creator."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        if not can(request.user, self.project, ADD_PIPELINE):
            raise PermissionDenied
        try:
            copy = services.copy_pipeline(request.user, self.pipeline)
        except ValidationError as exc:
            for path, errors in exc.message_dict.items():
                for error in errors:
                    messages.error(request, _("Could not copy: %(error)s") % {"error": f"{path}: {error}"})
            return redirect(safe_next(request, self.detail_url()))
        messages.success(request, _("Copied “%(old)s” to “%(new)s”.") % {"old": self.pipeline.name, "new": copy.name})
        return redirect("pipeline-detail", project_id=copy.project_id, pipeline_id=copy.pk)


class DeleteView(PipelineViewMixin, TemplateView):
    """P8: only with the delete right (by default the project manager and the creators); type the name."""

    template_name = "pipelines/delete.html"
    pipeline_action = DELETE
    pipeline_post_action = DELETE

    def post(self, request, *args, **kwargs):
        if request.POST.get("confirm_name", "").strip() != self.pipeline.name:
            context = self.get_context_data(error=_("Type the pipeline name exactly to confirm."))
            return self.render_to_response(context)
        name = self.pipeline.name
        services.delete_pipeline(request.user, self.pipeline)
        messages.success(request, _("Pipeline “%(name)s” deleted.") % {"name": name})
        return redirect("pipeline-list", project_id=self.project.pk)
