"""Models of the execution plan: webhook secrets, the delivery log and schedule slots (T1–T6)."""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from devops_console.core.fields import SecretField
from devops_console.core.permissions import VIEW, RestrictedQuerySet, member_project_ids, nothing

# ============================================================================ webhooks (T1–T4, T6)


def _restrict_through_pipeline(user, action):
    """Seen by whoever sees the pipeline; nothing here is changed or deleted by hand (admin is read-only)."""
    if action == VIEW:
        return Q(pipeline__project_id__in=member_project_ids(user))
    return nothing()


class WebhookSecret(models.Model):
    """The shared secret of a pipeline's webhooks (HMAC key for GitHub, token for the others). Write-only:
    shown once, by the response that generated it."""

    pipeline = models.OneToOneField(
        "pipelines.Pipeline", on_delete=models.CASCADE, related_name="webhook_secret", verbose_name=_("pipeline")
    )
    secret = SecretField(_("secret"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook secret")
        verbose_name_plural = _("webhook secrets")

    def __str__(self):
        return f"{self.pipeline} · webhook secret"

    @classmethod
    def restrict_q(cls, user, action):
        return _restrict_through_pipeline(user, action)

    @staticmethod
    def generate() -> str:
        return "whsec_" + secrets.token_urlsafe(32)


class Delivery(models.Model):
    """One webhook request to a pipeline, what it triggered or why it did not (T6)."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        DUPLICATE = "duplicate", _("Duplicate")
        UNAUTHORIZED = "unauthorized", _("Unauthorized")
        BAD_REQUEST = "bad_request", _("Bad request")
        TRIGGERED = "triggered", _("Triggered")
        NOT_TRIGGERED = "not_triggered", _("Not triggered")
        ERROR = "error", _("Error")

    #: statuses of authenticated deliveries; their delivery ids are unique per pipeline and provider
    COUNTED = (Status.ACCEPTED, Status.TRIGGERED, Status.NOT_TRIGGERED, Status.ERROR)

    pipeline = models.ForeignKey(
        "pipelines.Pipeline", on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("pipeline")
    )
    provider = models.CharField(_("provider"), max_length=16)
    delivery_id = models.CharField(_("delivery id"), max_length=200)
    event = models.CharField(_("event"), max_length=32, blank=True)
    ref = models.CharField(_("ref"), max_length=255, blank=True, help_text=_("Branch, tag or MR target branch."))
    sender = models.CharField(_("sender"), max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, db_index=True)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"))
    reason = models.TextField(_("reason"), blank=True)
    rule = models.CharField(_("rule"), max_length=64, blank=True, help_text=_("The rule that decided."))
    files = models.JSONField(_("files"), default=list, blank=True, help_text=_("Per changed file: path, verdict."))
    detail = models.JSONField(_("event"), default=dict, blank=True, help_text=_("The parsed event (no secrets)."))
    run = models.ForeignKey(
        "runs.Run", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("run")
    )
    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline", "provider", "delivery_id"],
                condition=Q(status__in=["accepted", "triggered", "not_triggered", "error"]),
                name="delivery_unique_id",
            )
        ]
        indexes = [models.Index(fields=["pipeline", "received_at"])]

    def __str__(self):
        return f"{self.pipeline} · {self.provider} {self.event} {self.delivery_id[:12]}"

    @classmethod
    def restrict_q(cls, user, action):
        return _restrict_through_pipeline(user, action)


# ============================================================================ schedules (T5)
# Owned by the schedules work (pipelines/triggers/schedules.py, schedule_tasks.py): ScheduleSlot below.


class ScheduleSlot(models.Model):
    """T5: what happened to one due time of one schedule point of a pipeline.

    The unique key (pipeline, point, scheduled_for) is the exactly-once guarantee: whoever inserts the
    row first (a beat's task, a second beat's task, the missed-slot scan) decides; everyone else gets an
    IntegrityError, counts an attempt and starts nothing.
    """

    class Status(models.TextChoices):
        STARTING = "starting", _("Starting")  # claimed; its run is being started
        FIRED = "fired", _("Fired")  # started on time (within the grace period)
        LATE = "late", _("Fired late")  # the latest missed slot, run once by the run_latest policy
        MISSED = "missed", _("Missed")  # beat was down; not run (run_latest ran a later one)
        SKIPPED = "skipped", _("Skipped")  # beat was down; not run (policy skip)
        REFUSED = "refused", _("Refused")  # the pipeline creator may not execute it (A6)
        FAILED = "failed", _("Failed to start")  # the run was not created (detail says why)

    pipeline = models.ForeignKey(
        "pipelines.Pipeline", on_delete=models.CASCADE, related_name="schedule_slots", verbose_name=_("pipeline")
    )
    point = models.PositiveSmallIntegerField(_("time point"), help_text=_("Index in triggers.schedules, from 0."))
    scheduled_for = models.DateTimeField(_("scheduled for"), help_text=_("The due instant."))
    fired_at = models.DateTimeField(_("recorded at"), help_text=_("When the slot was handled."))
    delay = models.FloatField(_("delay (s)"), help_text=_("Seconds from the due time to its handling."))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    run = models.ForeignKey(
        "runs.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("run")
    )
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    attempts = models.PositiveIntegerField(
        _("attempts"), default=1, help_text=_("How often the slot was claimed; above 1, a second beat was refused.")
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-scheduled_for", "pipeline_id", "point"]
        verbose_name = _("schedule slot")
        verbose_name_plural = _("schedule slots")
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "point", "scheduled_for"], name="schedule_slot_once")
        ]
        indexes = [  # the scan looks for claims left "starting"
            models.Index(fields=["fired_at"], condition=Q(status="starting"), name="schedule_slot_starting")
        ]

    def __str__(self):
        return f"{self.pipeline_id}#{self.point} @ {self.scheduled_for:%Y-%m-%d %H:%M}Z: {self.status}"

    @classmethod
    def restrict_q(cls, user, action):
        """Seen by whoever sees the pipeline (A3); nobody acts on the log."""
        return Q(pipeline__project_id__in=member_project_ids(user)) if action == VIEW else nothing()
