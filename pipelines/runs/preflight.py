"""Preflight (beyond): before a run executes anything, every service endpoint its snapshot references must
still exist, be usable by the run's starter (E3 "use") and have a credential that has not expired.

It runs when ``start.dispatch`` promotes a run from the queue (also after a retry), under the pipeline's
row lock and before the first task is handed to a worker. A run that fails it is failed at once, with
``Run.error`` naming every endpoint and why; nothing of it executes. The starter is the user who started
the run (schedules start runs as the pipeline creator, A6), or the pipeline creator when that user is gone.
Executors check the endpoint they use again (``usable_endpoint``) when they use it.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from devops_console.core.permissions import USE
from endpoints.models import ServiceEndpoint
from pipelines.definition import referenced_endpoints
from pipelines.runs.models import Run, State


def starter_of(run: Run):
    return run.triggered_by or run.pipeline.creator


def usable_endpoint(user, project_id: int, endpoint_id, label: str) -> tuple[ServiceEndpoint | None, str]:
    """``(endpoint, "")`` when ``user`` may use it now, else ``(None, why)`` (a sentence naming it)."""
    endpoint = (
        ServiceEndpoint.objects.select_related("credential").filter(pk=endpoint_id, project_id=project_id).first()
    )
    if endpoint is None:
        return None, _("Service endpoint #%(id)s (%(label)s) no longer exists.") % {"id": endpoint_id, "label": label}
    names = {"name": endpoint.name, "label": label}
    if user is None or not ServiceEndpoint.objects.restrict(user, USE).filter(pk=endpoint.pk).exists():
        who = user.username if user is not None else _("The run's starter")
        return None, _("%(user)s may not use service endpoint “%(name)s” (%(label)s).") % {**names, "user": who}
    if endpoint.credential.is_expired:
        return None, _("The credential of service endpoint “%(name)s” (%(label)s) expired on %(date)s.") % {
            **names,
            "date": endpoint.credential.expires_at.isoformat(),
        }
    return endpoint, ""


def problems(run: Run) -> list[str]:
    """Why the run may not execute: one sentence per unusable endpoint (empty when all is well)."""
    referenced = referenced_endpoints(run.snapshot)
    if not referenced:
        return []
    user = starter_of(run)
    found = []
    for endpoint_id, label in referenced:
        endpoint, why = usable_endpoint(user, run.pipeline.project_id, endpoint_id, label)
        if endpoint is None:
            found.append(why)
    return found


def admit(runs: list[Run]) -> list[int]:
    """Called by ``dispatch`` for the runs it just promoted (inside its transaction): fail those whose
    endpoints cannot be used and return the ids of the others, which may start."""
    from pipelines.runs import engine

    admitted = []
    for run in runs:
        found = problems(run)
        if not found:
            admitted.append(run.pk)
            continue
        run.error = (_("Preflight failed: %(problems)s") % {"problems": " ".join(found)})[:2000]
        run.state = State.RUNNING
        Run.objects.filter(pk=run.pk).update(error=run.error)
        engine._finish_run(run, State.FAILED, timezone.now())
    return admitted
