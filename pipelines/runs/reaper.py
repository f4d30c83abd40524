"""X9: a task whose worker died is failed within a minute, never left running."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from pipelines.runs import engine
from pipelines.runs.models import State, TaskRun

HEARTBEAT_SECONDS = 5


def lost_after() -> int:
    return getattr(settings, "RUN_WORKER_LOST_SECONDS", 30)


def reap_lost_tasks(now=None) -> int:
    """Fail running tasks whose heartbeat is older than the limit (or that never got one)."""
    now = now or timezone.now()
    limit = now - timezone.timedelta(seconds=lost_after())
    lost = TaskRun.objects.filter(state=State.RUNNING).filter(
        Q(heartbeat__lt=limit) | Q(heartbeat__isnull=True, started__lt=limit)
    )
    reaped = 0
    for task in lost:
        reaped += engine.fail_lost_task(task, _("The worker running this task was lost."))
    return reaped
