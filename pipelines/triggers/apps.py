from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TriggersConfig(AppConfig):
    """Execution plans (SPEC §5): webhooks and schedules. A sub-app of pipelines with its own migrations."""

    name = "pipelines.triggers"
    label = "triggers"
    verbose_name = _("Execution plans")
