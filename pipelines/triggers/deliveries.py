"""Webhook deliveries (T1–T4, T6, A6): record, authenticate, dedupe, then — in a Celery task — decide with
the T4 matching and start the run.

* ``receive`` answers the receiver at once: 400 (too big, malformed, unknown event), 401 (no or wrong
  secret), 200 duplicate (a delivery id already recorded for this pipeline and provider), 200 for events
  that never start anything (GitHub ping, branch ``create``), else 202 with the delivery recorded as
  ``accepted`` and ``tasks.process_delivery`` sent once the row is committed. Every answer is recorded.
* ``process`` runs as the pipeline creator (A6: webhooks run as the creator, who must still be allowed to
  EXECUTE it), computes the changed files from the repository when the payload omitted them and the path
  rules need them, decides (``matching.decide``, the same function as the dry run) and starts the run
  with what started it: trigger push / tag / merge_request, ``trigger_detail`` (provider, sender, ref,
  commit, MR number and event, delivery id) and the R2 values of the primary repository alias.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from devops_console.core.permissions import EXECUTE, may
from devops_console.core.prepared import Prepared, first, save_fields
from pipelines.models import Pipeline
from pipelines.runs.models import Trigger

from . import changes, providers
from .matching import Decision, Event, decide
from .models import Delivery, WebhookSecret

logger = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
KEEP_PER_PIPELINE = 5000
TAG_REPEAT_WINDOW = timedelta(minutes=10)
Status = Delivery.Status
# Prepared (``core.prepared``): they run for every delivery.
_SECRET = Prepared(lambda pipeline_id: WebhookSecret.objects.filter(pipeline_id=pipeline_id).values_list("secret"))
_DELIVERY = Prepared(lambda pk: Delivery.objects.select_related("pipeline__creator").filter(pk=pk).order_by())


def _record(pipeline, provider, status, http_status, *, reason="", delivery_id="", event=None, **extra) -> Delivery:
    values = {"event": "", "ref": "", "sender": ""}
    if event is not None:
        values = {"event": event.kind, "ref": event.ref[:255], "sender": event.sender[:255], "detail": event.as_dict()}
    delivery = Delivery.objects.create(
        pipeline=pipeline,
        provider=provider,
        delivery_id=(delivery_id or (event.delivery_id if event else ""))[:200],
        status=status,
        http_status=http_status,
        reason=reason[:2000],
        **values,
        **extra,
    )
    if delivery.pk % 50 == 0:
        _prune(pipeline)
    return delivery


def _prune(pipeline) -> None:
    """Keep the newest deliveries of a pipeline (a flood of bad requests must not fill the database)."""
    old = Delivery.objects.filter(pipeline=pipeline).order_by("-received_at", "-pk")[KEEP_PER_PIPELINE:]
    Delivery.objects.filter(pk__in=list(old.values_list("pk", flat=True)[:1000])).delete()


def _answer(delivery: Delivery, **body) -> tuple[int, dict]:
    payload = {"status": delivery.status, "delivery": delivery.pk, **body}
    if delivery.http_status >= 400:
        payload.update(error_code=f"TRIGGERS.{delivery.http_status}0", error_msg=delivery.reason)
    return delivery.http_status, payload


def receive(pipeline: Pipeline, provider: str, headers, body: bytes | None) -> tuple[int, dict]:
    """Authenticate, parse and record one webhook request; ``body`` None means it was over ``MAX_BODY``."""
    if body is None:
        reason = f"the body is larger than {MAX_BODY // 1024} KiB"
        return _answer(_record(pipeline, provider, Status.BAD_REQUEST, 400, reason=reason))
    secret = first(_SECRET(pipeline.pk))
    ok, why = providers.authenticate(provider, headers, body, secret[0] if secret else "")
    if not ok:
        fallback = providers.delivery_id(provider, headers, None, body)
        return _answer(_record(pipeline, provider, Status.UNAUTHORIZED, 401, reason=why, delivery_id=fallback))
    try:
        event = providers.parse(provider, headers, body)
    except providers.BadPayload as exc:
        fallback = providers.delivery_id(provider, headers, None, body)
        return _answer(_record(pipeline, provider, Status.BAD_REQUEST, 400, reason=str(exc), delivery_id=fallback))
    status, code, reason = Status.ACCEPTED, 202, ""
    if event.kind == "ignored":
        status, code, reason = Status.NOT_TRIGGERED, 200, event.note
    try:  # the unique key of counted deliveries (pipeline, provider, delivery id) is the duplicate check
        with transaction.atomic():
            delivery = _record(pipeline, provider, status, code, reason=reason, event=event)
    except IntegrityError:
        original = Delivery.objects.filter(
            pipeline=pipeline, provider=provider, delivery_id=event.delivery_id[:200], status__in=Delivery.COUNTED
        ).first()
        if original is None:  # not the delivery id's key (the pipeline was deleted meanwhile): an error
            raise
    else:
        if status == Status.ACCEPTED:
            _send(delivery)
        return _answer(delivery)
    reason = f"delivery {event.delivery_id[:60]} was already received"
    duplicate = _record(pipeline, provider, Status.DUPLICATE, 200, reason=reason, event=event)
    return _answer(duplicate, original=original.pk if original else None)


def _send(delivery: Delivery) -> None:
    from .tasks import process_delivery

    try:
        process_delivery.delay_on_commit(delivery.pk)
    except Exception as exc:  # noqa: BLE001 - the broker is down: record it, answer 503, never a 500
        logger.warning("webhook delivery %s could not be queued: %s", delivery.pk, exc)
        reason = "the delivery could not be queued (message broker unavailable); redeliver it later"
        Delivery.objects.filter(pk=delivery.pk).update(status=Status.ERROR, http_status=503, reason=reason)
        delivery.status, delivery.http_status, delivery.reason = Status.ERROR, 503, reason


# ---------------------------------------------------------------------------------------------- deciding


def to_event(detail: dict, files=None, files_unknown: str = "") -> Event:
    """The matching's view of a stored ``Incoming`` (or of a dry-run request)."""
    return Event(
        kind=detail.get("kind", ""),
        branch=detail.get("branch", ""),
        tag=detail.get("tag", ""),
        target_branch=detail.get("target_branch", ""),
        action=detail.get("action", ""),
        files=tuple(files) if files is not None else None,
        deleted=bool(detail.get("deleted")),
        files_unknown=files_unknown,
    )


def decide_delivery(pipeline: Pipeline, provider: str, detail: dict) -> Decision:
    """T4 for a stored event; the changed files are computed from the repository only when the path rules
    would decide and the payload did not list them."""
    triggers = pipeline.definition.get("triggers") or {}
    files, unknown = detail.get("files"), detail.get("files_unknown", "")
    decision = decide(triggers, to_event(detail, files, unknown))
    if decision.triggered and files is None and _paths_configured(triggers.get(detail.get("kind")) or {}):
        files, why = changes.changed_files(pipeline, provider, detail)
        decision = decide(triggers, to_event(detail, files, why or unknown))
    if detail.get("note") and not decision.triggered:
        decision.reason = f"{decision.reason} ({detail['note']})"
    return decision


def _paths_configured(rules: dict) -> bool:
    paths = rules.get("paths") or {}
    return bool(paths.get("include") or paths.get("exclude"))


def process(delivery_pk: int) -> str | None:
    """Decide an accepted delivery and start its run (idempotent: a delivery is processed once)."""
    delivery = first(_DELIVERY(delivery_pk))
    if delivery is None or delivery.status != Status.ACCEPTED or delivery.processed_at is not None:
        return None
    delivery.processed_at = timezone.now()
    if not save_fields(delivery, ["processed_at"], only_if={"status": Status.ACCEPTED, "processed_at": None}):
        return None  # claimed by another worker meanwhile
    try:
        status, reason, rule, files, run = _decide_and_start(delivery)
    except OperationalError:
        Delivery.objects.filter(pk=delivery_pk).update(processed_at=None)
        raise  # retried by the task
    except Exception as exc:  # noqa: BLE001 - recorded on the delivery, never lost
        logger.exception("webhook delivery %s failed", delivery_pk)
        status, reason, rule, files, run = Status.ERROR, f"internal error ({type(exc).__name__})", "", [], None
    delivery.status, delivery.reason, delivery.rule, delivery.files = status, reason[:2000], rule, files
    delivery.run = run
    save_fields(delivery, ["status", "reason", "rule", "files", "run"])
    return status


def _decide_and_start(delivery: Delivery):
    pipeline, detail = delivery.pipeline, delivery.detail
    creator = pipeline.creator
    if not may(creator, Pipeline, EXECUTE, pipeline.pk):
        reason = f"webhooks run as the pipeline creator ({creator.username}), who may no longer run this pipeline"
        return Status.NOT_TRIGGERED, reason, "permissions", [], None
    decision = decide_delivery(pipeline, delivery.provider, detail)
    if not decision.triggered:
        return Status.NOT_TRIGGERED, decision.reason, decision.rule, decision.files, None
    if detail["kind"] == "tag":
        earlier = _recent_tag_run(delivery)
        if earlier is not None:
            reason = f"tag {detail['tag']} already started run #{earlier.run.number} (delivery {earlier.delivery_id})"
            return Status.NOT_TRIGGERED, reason, "tag.repeated", [], None
    try:
        run = _start(pipeline, delivery)
    except ValidationError as exc:
        messages = [m for values in exc.message_dict.values() for m in values]
        reason = f"{decision.reason}; the run could not start: {' '.join(messages)}"
        return Status.ERROR, reason, decision.rule, decision.files, None
    return Status.TRIGGERED, f"{decision.reason}; started run #{run.number}", decision.rule, decision.files, run


def _recent_tag_run(delivery: Delivery):
    """GitHub reports a new tag twice (create and push events): one run per tag within a few minutes."""
    return (
        Delivery.objects.filter(
            pipeline=delivery.pipeline_id,
            event="tag",
            ref=delivery.ref,
            status=Status.TRIGGERED,
            run__isnull=False,
            received_at__gte=delivery.received_at - TAG_REPEAT_WINDOW,
        )
        .exclude(pk=delivery.pk)
        .select_related("run")
        .first()
    )


def _start(pipeline: Pipeline, delivery: Delivery):
    from pipelines.runs.start import start_run

    d = delivery.detail
    detail = {
        "provider": delivery.provider,
        "sender": d.get("sender", ""),
        "ref": delivery.ref,
        "commit": d.get("commit", ""),
        "delivery_id": delivery.delivery_id,
        "delivery": delivery.pk,
    }
    commit = {"commit_id": d.get("commit", ""), "commit_message": d.get("message", "")}
    if d["kind"] == "push":
        options = {"branch": d["branch"], "trigger": Trigger.PUSH, "ref_info": {"source_branch": d["branch"], **commit}}
    elif d["kind"] == "tag":
        options = {"tag": d["tag"], "trigger": Trigger.TAG, "ref_info": {"tag": d["tag"]}}
    else:
        merged = d.get("action") == "merged"
        branch = d["target_branch"] if merged or not d.get("source_branch") else d["source_branch"]
        detail.update(mr_number=d.get("number", ""), mr_event=d.get("action", ""), source_branch=d.get("source_branch"))
        detail["target_branch"] = d["target_branch"]
        ref = {"source_branch": branch, "target_branch": d["target_branch"], **commit}
        options = {"branch": branch, "trigger": Trigger.MERGE_REQUEST, "ref_info": ref}
    return start_run(pipeline.creator, pipeline, trigger_detail=detail, **options)


def generate_secret(pipeline: Pipeline) -> WebhookSecret:
    """A new webhook secret for ``pipeline`` (the caller checked CHANGE); the old one stops working."""
    value = WebhookSecret.generate()
    secret, _created = WebhookSecret.objects.update_or_create(
        pipeline=pipeline, defaults={"secret": value, "created_at": timezone.now()}
    )
    secret.secret = value
    return secret
