"""Services › Templates. Templates arrive with the pipeline definitions (SPEC §9)."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView


class TemplateHomeView(LoginRequiredMixin, TemplateView):
    template_name = "templates_app/home.html"
