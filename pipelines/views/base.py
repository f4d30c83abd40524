"""Shared pieces of the pipeline pages: loading a pipeline through the enforcement point (A6) and the
per-row rights the list and the pipeline page show, computed in the same query as the rows."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import BooleanField, Case, Exists, OuterRef, Q, Value, When
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from devops_console.core.models import ADD_PIPELINE, Project
from devops_console.core.permissions import CHANGE, DELETE, EXECUTE, VIEW
from pipelines.models import Pipeline, PipelineFollow
from pipelines.permissions import load_pipeline


def _flag(condition: Q | None):
    if condition is None:  # superuser
        return Value(True, output_field=BooleanField())
    return Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())


def with_rights(queryset, user):
    """Annotate ``can_execute``, ``can_change``, ``can_delete``, ``can_copy`` and ``following`` with
    SQL subqueries (no query per row): the same conditions ``Pipeline.restrict_q`` enforces."""
    superuser = user.is_superuser

    def q(action):
        return None if superuser else Pipeline.restrict_q(user, action)

    may_add = None if superuser else Q(project__in=Project.objects.restrict(user, ADD_PIPELINE).values("pk"))
    # P3: a copy keeps the secret values, so it needs modify on the original and create in the project
    copy = None if superuser else (q(CHANGE) & may_add)
    return queryset.annotate(
        can_execute=_flag(q(EXECUTE)),
        can_change=_flag(q(CHANGE)),
        can_delete=_flag(q(DELETE)),
        can_copy=_flag(copy),
        following=Exists(PipelineFollow.objects.filter(pipeline=OuterRef("pk"), user=user)),
    )


def url_or_none(name: str, *args) -> str | None:
    """The URL of a page another part of the app may not have yet (workflow editor, runs)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


class PipelineViewMixin(LoginRequiredMixin):
    """Loads ``self.project`` (VIEW) and ``self.pipeline`` of that project through
    ``Pipeline.objects.restrict(user, action)``: not visible → 404, visible but not allowed → 403."""

    pipeline_action = VIEW
    #: the action a POST needs (P4: saving any configuration tab needs modify)
    pipeline_post_action = CHANGE
    nav_section = "pipelines"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        action = self.pipeline_post_action if request.method == "POST" else self.pipeline_action
        queryset = with_rights(Pipeline.objects.select_related("project", "creator"), request.user)
        self.project, self.pipeline = load_pipeline(
            request.user, kwargs["project_id"], kwargs["pipeline_id"], action, queryset
        )
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(project=self.project, pipeline=self.pipeline, nav_section=self.nav_section)
        return context

    def detail_url(self) -> str:
        return reverse("pipeline-detail", args=[self.project.pk, self.pipeline.pk])
