from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RunsConfig(AppConfig):
    """Runs of pipelines (SPEC §6): a sub-app of pipelines with its own migrations."""

    name = "pipelines.runs"
    label = "runs"
    verbose_name = _("Pipeline runs")
