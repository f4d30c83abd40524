"""Admin of schedules (T5, A6): the slot log, read-only, restricted to pipelines the user may view.

The beat entries themselves (``pipeline-<id>-point-<n>``) are django-celery-beat's Periodic tasks.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from devops_console.core.admin_mixins import ReadOnlyAdminMixin, RestrictedAdminMixin
from pipelines.triggers.models import ScheduleSlot


@admin.register(ScheduleSlot)
class ScheduleSlotAdmin(ReadOnlyAdminMixin, RestrictedAdminMixin, admin.ModelAdmin):
    """The slot log is the exactly-once record: read-only."""

    list_display = ["scheduled_for", "pipeline", "point", "status", "delay_s", "run_link", "attempts", "fired_at"]
    list_filter = ["status"]
    search_fields = ["pipeline__name", "pipeline__project__name"]
    list_select_related = ["pipeline", "run"]
    date_hierarchy = "scheduled_for"
    fields = ["pipeline", "point", "scheduled_for", "fired_at", "delay", "status", "run_link", "attempts", "detail"]
    readonly_fields = fields

    @admin.display(description="delay (s)", ordering="delay")
    def delay_s(self, obj):
        return f"{obj.delay:.3f}"

    @admin.display(description="run")
    def run_link(self, obj):
        if obj.run is None:
            return "—"
        url = reverse("admin:runs_run_change", args=[obj.run_id]) if _run_admin() else ""
        return format_html('<a href="{}">#{}</a>', url, obj.run.number) if url else f"#{obj.run.number}"


def _run_admin() -> bool:
    from pipelines.runs.models import Run

    return admin.site.is_registered(Run)
