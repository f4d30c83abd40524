"""Services › Pipelines. The pipeline list itself arrives with the pipeline definitions (SPEC §3)."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from devops_console.core.models import Project
from devops_console.core.permissions import VIEW


class PipelineHomeView(LoginRequiredMixin, TemplateView):
    template_name = "pipelines/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["projects"] = Project.objects.restrict(self.request.user, VIEW)[:50]
        return context
