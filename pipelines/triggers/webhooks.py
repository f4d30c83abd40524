"""``POST /webhooks/{provider}/{pipeline_id}/``: the Git hosts' webhook receiver (T1–T4, T6).

CSRF-exempt and sessionless: the caller proves itself with the pipeline's webhook secret
(``providers.authenticate``), never with a login. Unknown provider or pipeline → 404 (nothing recorded);
a body over 1 MiB → 400; no or wrong secret → 401; malformed JSON or an unknown event → 400; a delivery
id already received → 200 ``{"status": "duplicate"}``; otherwise 202 at once, the matching and the run
start happening in a Celery task. Every answer for a known pipeline is recorded in the delivery log.
Never a 500: an unexpected failure answers 503 (retry later).
"""

from __future__ import annotations

import logging

from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from devops_console.core.prepared import Prepared, first
from pipelines.models import Pipeline

from . import deliveries
from .providers import PROVIDERS

logger = logging.getLogger(__name__)
# Only what recording a delivery needs (not the definition); prepared (``core.prepared``): it runs for every one.
_PIPELINE = Prepared(lambda pk: Pipeline.objects.filter(pk=pk).only("pk", "project_id").order_by())


def read_body(request, limit: int) -> bytes | None:
    """The raw body, or None when it is over ``limit`` bytes (not read further)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@method_decorator(csrf_exempt, name="dispatch")
class WebhookView(View):
    http_method_names = ["post"]

    def post(self, request, provider: str, pipeline_id: int):
        pipeline = first(_PIPELINE(pipeline_id)) if provider in PROVIDERS else None
        if pipeline is None:
            return JsonResponse({"error_code": "TRIGGERS.4040", "error_msg": "Not found."}, status=404)
        try:
            body = read_body(request, deliveries.MAX_BODY)
            status, payload = deliveries.receive(pipeline, provider, request.headers, body)
        except Exception:  # noqa: BLE001 - a webhook sender gets a retryable answer, never a 500
            logger.exception("webhook for pipeline %s (%s) failed", pipeline_id, provider)
            status, payload = 503, {"status": "error", "error_code": "TRIGGERS.5030", "error_msg": "Try again later."}
        return JsonResponse(payload, status=status)

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = JsonResponse({"error_code": "TRIGGERS.4050", "error_msg": "Use POST."}, status=405)
        response["Allow"] = "POST"
        return response
