"""Celery task of the webhook receiver: thin, takes the delivery's id, idempotent (``deliveries.process``
claims a delivery once). Sent with ``delay_on_commit`` once the delivery row is committed."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from pipelines.triggers import deliveries


@shared_task(name="triggers.process_delivery", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def process_delivery(delivery_id: int) -> str | None:
    return deliveries.process(delivery_id)
