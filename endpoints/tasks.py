"""Celery tasks of the endpoints app: thin, take ids, retries declared in the decorator (Weblate style).

These are system jobs with no acting user: they read endpoints through the unrestricted manager on
purpose and record ``actor=None`` ("system") in the audit trail.
"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone
from django.utils.translation import gettext as _

from endpoints import audit, services
from endpoints.models import AuditEntry, ServiceEndpoint

EXPIRY_WARNING_DAYS = 30


@shared_task(name="endpoints.verify", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def verify_endpoint(endpoint_id: int) -> int | None:
    endpoint = ServiceEndpoint.objects.select_related("credential").filter(pk=endpoint_id).first()
    if endpoint is None:
        return None  # deleted since the job was queued
    return services.verify_endpoint(None, endpoint).status


@shared_task(name="endpoints.reverify_all")
def reverify_all() -> int:
    """Daily (beat): re-verify every endpoint, one job each, and flag credentials expiring soon."""
    ids = list(ServiceEndpoint.objects.values_list("pk", flat=True))
    for endpoint_id in ids:
        verify_endpoint.delay(endpoint_id)
    flag_expiring_credentials()
    return len(ids)


def flag_expiring_credentials(within_days: int = EXPIRY_WARNING_DAYS) -> list[int]:
    """Record once per credential and expiry date that it expires within ``within_days`` days."""
    flagged = []
    today = timezone.localdate()
    for credential in services.expiring_credentials(within_days):
        days = (credential.expires_at - today).days
        detail = (_("expired on %(date)s") if days < 0 else _("expires on %(date)s")) % {
            "date": credential.expires_at.isoformat()
        }
        if not AuditEntry.objects.filter(
            credential=credential, action=AuditEntry.Action.VERIFY, detail=detail
        ).exists():
            audit.record(None, AuditEntry.Action.VERIFY, credential=credential, detail=detail)
            flagged.append(credential.pk)
    return flagged
