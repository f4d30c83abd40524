"""Audit trail of endpoints and credentials: who did what, when — field names, never values."""

from __future__ import annotations

from endpoints.models import AuditEntry, Credential, ServiceEndpoint


def record(
    actor,
    action: str,
    *,
    endpoint: ServiceEndpoint | None = None,
    credential: Credential | None = None,
    fields=(),
    detail: str = "",
) -> AuditEntry:
    subject = endpoint or credential
    return AuditEntry.objects.create(
        project_id=subject.project_id,
        endpoint=endpoint,
        credential=credential,
        subject=str(subject)[:160],
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        fields=sorted(fields),
        detail=detail[:500],
    )
