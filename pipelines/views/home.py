"""Services › Pipelines (P0.2): the pipeline list across my projects (P1)."""

from django.urls import reverse

from pipelines.views.list import PipelineListView


class PipelineHomeView(PipelineListView):
    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["templates_url"] = reverse("template-home")  # M1: templates are reachable from the pipeline home
        return context
