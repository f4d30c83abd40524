"""Execution-plan API (API.md): the webhook URLs and secret, the delivery log and the T4 dry run.

* ``GET …/pipelines/{id}/webhook/`` → ``{urls: {github, gitlab, gitee, codeup, generic}, secret_set,
  secret_created_at}`` (view).
* ``POST …/pipelines/{id}/webhook/secret/`` → a new secret, shown in this response only (modify).
* ``GET …/pipelines/{id}/deliveries/?status=`` → the delivery log, newest first, paginated (view).
* ``POST …/pipelines/{id}/triggers/dry-run/`` → ``{triggered, reason, rule, files}`` from the same
  ``matching.decide`` the receiver uses (view).

Project visible, else 404; pipeline through the enforcement point (404 invisible, 403 not allowed; A6).
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from devops_console.core.api.pagination import Pagination
from devops_console.core.permissions import CHANGE, VIEW
from pipelines.permissions import load_pipeline

from . import deliveries
from .matching import KINDS, MR_ACTIONS, decide
from .models import Delivery, WebhookSecret
from .providers import PROVIDERS

DRY_RUN_KEYS = ("event", "branch", "tag", "target_branch", "action", "files")


def webhook_urls(request, pipeline) -> dict:
    return {p: request.build_absolute_uri(reverse("webhook", args=[p, pipeline.pk])) for p in PROVIDERS}


def webhook_info(request, pipeline) -> dict:
    secret = WebhookSecret.objects.filter(pipeline=pipeline).only("created_at").first()
    return {
        "urls": webhook_urls(request, pipeline),
        "secret_set": secret is not None,
        "secret_created_at": secret.created_at.isoformat() if secret else None,
    }


def delivery_dict(delivery: Delivery) -> dict:
    return {
        "id": delivery.pk,
        "provider": delivery.provider,
        "delivery_id": delivery.delivery_id,
        "event": delivery.event,
        "ref": delivery.ref,
        "sender": delivery.sender,
        "status": delivery.status,
        "verdict": delivery.status,
        "http_status": delivery.http_status,
        "reason": delivery.reason,
        "rule": delivery.rule,
        "files": delivery.files,
        "run_number": delivery.run.number if delivery.run_id and delivery.run else None,
        "received_at": delivery.received_at.isoformat(),
    }


def dry_run(pipeline, data) -> dict:
    """Validate a dry-run body (API.md "Trigger dry-run (T4)") and decide it; raises ValidationError."""
    if not isinstance(data, dict):
        raise exceptions.ValidationError({"non_field_errors": [_("Send a JSON object.")]})
    errors: dict[str, list[str]] = {}
    for key in sorted(set(data) - set(DRY_RUN_KEYS)):
        errors[str(key)[:50]] = [_("Unknown field; use %(keys)s.") % {"keys": ", ".join(DRY_RUN_KEYS)}]
    if data.get("event") not in KINDS:
        errors["event"] = [_("Choose push, tag or merge_request.")]
    for key in ("branch", "tag", "target_branch", "action"):
        value = data.get(key, "")
        if not isinstance(value, str) or len(value) > 255:
            errors[key] = [_("Give text of at most 255 characters.")]
    event = data.get("event")
    needed = {"push": "branch", "tag": "tag", "merge_request": "target_branch"}.get(event)
    if needed and not errors.get(needed) and not data.get(needed):
        errors[needed] = [_("This field is required for a %(event)s event.") % {"event": event}]
    if event == "merge_request" and data.get("action") not in MR_ACTIONS and "action" not in errors:
        errors["action"] = [_("Choose one of: %(actions)s.") % {"actions": ", ".join(MR_ACTIONS)}]
    files = data.get("files")
    if files is not None and not (isinstance(files, list) and all(isinstance(f, str) for f in files)):
        errors["files"] = [_("Give a list of file paths.")]
    if errors:
        raise exceptions.ValidationError(errors)
    detail = {key: data.get(key, "") for key in ("branch", "tag", "target_branch", "action")}
    unknown = "the dry run gave no file list" if files is None else ""
    decision = decide(
        pipeline.definition.get("triggers"), deliveries.to_event({"kind": event, **detail}, files, unknown)
    )
    return decision.as_dict()


class TriggersAPIView(APIView):
    """Base: ``self.project`` (view) and ``self.pipeline`` loaded for ``pipeline_action``."""

    permission_classes = [IsAuthenticated]
    error_app = "PIPELINES"
    pipeline_action = VIEW

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.project, self.pipeline = load_pipeline(
            request.user, kwargs["project_id"], kwargs["pipeline_id"], self.pipeline_action
        )


_INFO = inline_serializer(
    "WebhookInfo",
    {
        "urls": serializers.DictField(child=serializers.URLField()),
        "secret_set": serializers.BooleanField(),
        "secret_created_at": serializers.DateTimeField(allow_null=True),
    },
)


_FILES = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))
_DECISION = inline_serializer(
    "TriggerDecision",
    {"triggered": serializers.BooleanField(), "reason": serializers.CharField(), "rule": serializers.CharField(),
     "files": _FILES},
)  # fmt: skip
_DELIVERIES = inline_serializer(
    "WebhookDelivery",
    {
        **{name: serializers.CharField() for name in ("provider", "delivery_id", "event", "ref", "sender", "reason")},
        **{name: serializers.CharField() for name in ("status", "verdict", "rule")},
        "id": serializers.IntegerField(),
        "http_status": serializers.IntegerField(),
        "files": _FILES,
        "run_number": serializers.IntegerField(allow_null=True),
        "received_at": serializers.DateTimeField(),
    },
    many=True,
)


class WebhookInfoView(TriggersAPIView):
    @extend_schema(responses=_INFO)
    def get(self, request, *args, **kwargs):
        return Response(webhook_info(request, self.pipeline))


class WebhookSecretView(TriggersAPIView):
    pipeline_action = CHANGE

    @extend_schema(request=None, responses={201: _INFO})
    def post(self, request, *args, **kwargs):
        secret = deliveries.generate_secret(self.pipeline)
        return Response(
            {**webhook_info(request, self.pipeline), "secret": secret.secret}, status=status.HTTP_201_CREATED
        )


class DeliveryListView(TriggersAPIView):
    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=list(Delivery.Status.values))],
        responses=_DELIVERIES,
    )
    def get(self, request, *args, **kwargs):
        queryset = Delivery.objects.restrict(request.user, VIEW).filter(pipeline=self.pipeline).select_related("run")
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in Delivery.Status.values:
                raise exceptions.ValidationError(
                    {"status": [_("Choose one of: %(s)s.") % {"s": ", ".join(Delivery.Status.values)}]}
                )
            queryset = queryset.filter(status=wanted)
        paginator = Pagination()
        page = paginator.paginate_queryset(queryset.order_by("-received_at", "-pk"), request, view=self)
        return paginator.get_paginated_response([delivery_dict(d) for d in page])


class DryRunView(TriggersAPIView):
    """View is enough: it changes nothing and shows only what the definition already shows."""

    @extend_schema(
        request=inline_serializer(
            "TriggerDryRun",
            {
                "event": serializers.ChoiceField(KINDS),
                "branch": serializers.CharField(required=False),
                "tag": serializers.CharField(required=False),
                "target_branch": serializers.CharField(required=False),
                "action": serializers.ChoiceField(MR_ACTIONS, required=False),
                "files": serializers.ListField(child=serializers.CharField(), required=False),
            },
        ),
        responses=_DECISION,
    )
    def post(self, request, *args, **kwargs):
        return Response(dry_run(self.pipeline, request.data))
