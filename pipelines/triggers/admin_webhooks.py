"""Admin of webhooks (I2, A6): the delivery log and the secrets, read-only, restricted to pipelines the
user may view. A secret's value is never shown (only when it was generated)."""

from __future__ import annotations

from django.contrib import admin

from devops_console.core.admin_mixins import ReadOnlyAdminMixin, RestrictedAdminMixin
from pipelines.triggers.models import Delivery, WebhookSecret


class ReadOnlyAdmin(ReadOnlyAdminMixin, RestrictedAdminMixin, admin.ModelAdmin):
    pass


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "pipeline", "provider", "event", "ref", "sender", "status", "http_status", "run"]
    list_filter = ["status", "provider", "event"]
    search_fields = ["pipeline__name", "delivery_id", "ref", "sender"]
    list_select_related = ["pipeline", "run"]
    date_hierarchy = "received_at"
    fields = [
        "pipeline",
        "provider",
        "delivery_id",
        "event",
        "ref",
        "sender",
        "status",
        "http_status",
        "reason",
        "rule",
        "files",
        "detail",
        "run",
        "received_at",
        "processed_at",
    ]
    readonly_fields = fields


@admin.register(WebhookSecret)
class WebhookSecretAdmin(ReadOnlyAdmin):
    list_display = ["pipeline", "created_at"]
    fields = ["pipeline", "created_at"]
    readonly_fields = fields
    list_select_related = ["pipeline"]
