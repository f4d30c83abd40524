from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TriggersConfig(AppConfig):
    """Execution plans (SPEC §5): webhooks and schedules. A sub-app of pipelines with its own migrations."""

    name = "pipelines.triggers"
    label = "triggers"
    verbose_name = _("Execution plans")

    def ready(self):
        # Schedules (T5): register the Celery tasks and keep beat entries in step with pipeline saves.
        from pipelines.triggers import schedule_tasks  # noqa: F401
        from pipelines.triggers.schedules import connect_signals

        connect_signals()
