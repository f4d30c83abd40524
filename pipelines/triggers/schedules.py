"""Schedules (T5, A6): up to 10 time points per pipeline fire runs on its default branch.

The clock is django-celery-beat. Every time point ``n`` of a pipeline has one ``PeriodicTask`` named
``pipeline-<id>-point-<n>`` with a ``CrontabSchedule`` (minute, hour, days of the week, and the pipeline's
time zone — ``triggers.timezone``, empty = the server's ``TIME_ZONE``) running ``triggers.fire_schedule``.
The entries follow the definition: every save of a ``Pipeline`` re-syncs them in the same transaction
(creation, ``services.update_pipeline``, admin), deleting a pipeline removes them. An entry whose point
did not change is left alone; a changed one is *re-armed*: ``kwargs.armed`` = now and ``last_run_at`` =
now, so no due time before the change counts as missed and beat does not catch up on the old times.

Exactly once: the task computes the slot — the most recent due instant of the point, in UTC — and inserts
``ScheduleSlot(pipeline, point, scheduled_for)`` (status ``starting``) under a unique key. The first insert
wins; a second beat, a restarted beat or the scan finds the row (or gets an IntegrityError) and only counts
an attempt. The winner moves the row from ``starting`` to its final status before starting the run, so a
redelivered task cannot start it twice. Bursts: the first task of an instant also claims the other points
sharing its crontab (same time, days and zone) and queues ``triggers.start_slots`` for every 10 of them — the
worker's processes share them at once, one task and one permission check per creator for every 10 starts.
Beat sends that first entry on its own and the others due with it as one ``triggers.fire_schedules`` message
(``triggers.beat``), whose entries are found claimed and counted together (``fire_many``).

Wall-clock times follow RFC 5545 §3.3.5, which is also what celery's crontab does: a time inside a
spring-forward gap is read with the offset before the gap (02:30 in Berlin on 2026-03-29, when clocks jump
02:00 → 03:00, runs at 03:30 CEST = 01:30 UTC); a time repeated on fall-back runs once, at its first
occurrence (02:30 on 2026-10-25 runs at 02:30 CEST = 00:30 UTC, not again an hour later).

Missed slots: ``triggers.scan_schedules`` (every minute, ``CELERY_BEAT_SCHEDULE``) looks for due instants
with no slot since the point was armed or last recorded (at most 7 days back). One due 30 s – 5 min ago
is fired now (a backstop should beat not have fired it; the delay is recorded). Older ones were missed
(beat down): the pipeline's ``triggers.missed_schedule_policy`` records them ``skipped`` (``skip``, the
default) or runs the latest one once, ``late``, and records the others ``missed`` (``run_latest``; not if
a later slot of the pipeline already ran). Beat catching up on restart lands on the same path. A slot
still ``starting`` after 2 minutes (its queued start was lost) is started by the scan.

Runs start as the pipeline creator (A6), with trigger ``schedule``, only while the creator may execute
the pipeline; otherwise the slot is recorded ``refused`` and nothing runs.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from devops_console.core.permissions import EXECUTE
from devops_console.core.prepared import save_fields, saves_together
from pipelines.definition.triggers import DAYS, MAX_SCHEDULES
from pipelines.models import Pipeline
from pipelines.triggers.models import ScheduleSlot

logger = logging.getLogger(__name__)

TASK_NAME = "triggers.fire_schedule"
BATCH_TASK_NAME = "triggers.fire_schedules"  # entries due together, sent as one message (``triggers.beat``)
# Beat's messages wait behind the starts a sweep queues (Redis: 0 is the highest priority, the default):
# in a burst, most of them only find their slot recorded already.
FIRE_PRIORITY = 6
LOOKBACK = timedelta(days=7)  # missed slots further back are not recorded
BACKSTOP_AFTER = timedelta(seconds=30)  # the scan fires a slot beat has not fired this long after its time
EARLY_TOLERANCE = timedelta(seconds=30)  # a beat whose clock runs slightly ahead still hits its slot
STALE_CLAIM = timedelta(minutes=2)  # a slot still "starting" after this is started by the scan
# Slots per start task of a sweep: a task and its message cost about what a start costs, and a creator's
# permission is checked once per task; small enough that the orchestration processes share a burst.
START_CHUNK = 10
WEEKDAY = {day: index for index, day in enumerate(DAYS)}  # Python: Monday is 0
CRON_DAY = {day: (index + 1) % 7 for index, day in enumerate(DAYS)}  # cron: Sunday is 0
_TIME_RE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
Status = ScheduleSlot.Status
RAN = (Status.FIRED, Status.LATE)


def missed_after() -> timedelta:
    """A slot handled later than this after its due time was missed (beat was down)."""
    return timedelta(seconds=getattr(settings, "SCHEDULE_MISSED_AFTER_SECONDS", 300))


# --- slots (pure) -------------------------------------------------------------------------------


def zone_name(triggers: dict) -> str:
    return (triggers or {}).get("timezone") or settings.TIME_ZONE


def clock_of(point: dict) -> time | None:
    match = _TIME_RE.fullmatch(str(point.get("time") or ""))
    return time(int(match[1]), int(match[2])) if match else None


def is_active(point: dict) -> bool:
    return bool(point.get("enabled", True) and point.get("days") and clock_of(point))


def wall_instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall time ``clock`` on ``day`` in ``zone`` (fold=0: RFC 5545 §3.3.5)."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def due_instants(point: dict, zone: ZoneInfo, after: datetime, until: datetime) -> list[datetime]:
    """The point's due instants in (after, until], oldest first (none if the point is off)."""
    if not is_active(point):
        return []
    clock, weekdays = clock_of(point), {WEEKDAY[d] for d in point["days"] if d in WEEKDAY}
    day = after.astimezone(zone).date() - timedelta(days=1)
    last = until.astimezone(zone).date() + timedelta(days=1)
    found = []
    while day <= last:
        if day.weekday() in weekdays:
            instant = wall_instant(day, clock, zone)
            if after < instant <= until:
                found.append(instant)
        day += timedelta(days=1)
    return found


def latest_due(point: dict, zone: ZoneInfo, at: datetime) -> datetime | None:
    """The most recent due instant at or before ``at``."""
    found = due_instants(point, zone, at - timedelta(days=8), at)
    return found[-1] if found else None


def next_due(point: dict, zone: ZoneInfo, after: datetime) -> datetime | None:
    found = due_instants(point, zone, after, after + timedelta(days=8))
    return found[0] if found else None


# --- beat entries -------------------------------------------------------------------------------


def entry_prefix(pipeline_id: int) -> str:
    return f"pipeline-{pipeline_id}-point-"


def crontab_fields(point: dict, zone: str) -> dict:
    clock = clock_of(point) or time(0, 0)
    numbers = sorted({CRON_DAY[d] for d in point.get("days") or [] if d in CRON_DAY})
    days = ",".join(str(n) for n in numbers) or "*"
    return {"minute": str(clock.minute), "hour": str(clock.hour), "day_of_week": days, "day_of_month": "*",
            "month_of_year": "*", "timezone": zone}  # fmt: skip


def _same_crontab(crontab, fields: dict) -> bool:
    return crontab is not None and all(str(getattr(crontab, k)) == str(v) for k, v in fields.items())


def describe(pipeline: Pipeline, point: dict, zone: str) -> str:
    days = ", ".join(point.get("days") or []) or "no days"
    state = "" if point.get("enabled", True) else " (off)"
    return f"{pipeline.name} ({pipeline.project_id}): {days} at {point.get('time')} {zone}{state}"


@transaction.atomic
def sync_schedules(pipeline: Pipeline, now: datetime | None = None) -> None:
    """Make the pipeline's beat entries match ``triggers.schedules`` (create, re-arm, disable, delete)."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    now = now or timezone.now()
    triggers = (pipeline.definition or {}).get("triggers") or {}
    zone, points = zone_name(triggers), (triggers.get("schedules") or [])[:MAX_SCHEDULES]
    prefix = entry_prefix(pipeline.pk)
    existing = {e.name: e for e in PeriodicTask.objects.filter(name__startswith=prefix).select_related("crontab")}
    for index, point in enumerate(points):
        name, fields, enabled = f"{prefix}{index}", crontab_fields(point, zone), is_active(point)
        description = describe(pipeline, point, zone)
        entry = existing.pop(name, None)
        current = entry is not None and entry.enabled == enabled and entry.priority == FIRE_PRIORITY
        if current and _same_crontab(entry.crontab, fields):
            if entry.description != description:  # a rename: no need to wake beat
                PeriodicTask.objects.filter(pk=entry.pk).update(description=description)
            continue
        crontab = CrontabSchedule.objects.filter(**fields).first() or CrontabSchedule.objects.create(**fields)
        kwargs = {"pipeline_id": pipeline.pk, "point": index, "armed": now.isoformat()}
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={"task": TASK_NAME, "crontab": crontab, "interval": None, "solar": None, "clocked": None,
                      "kwargs": json.dumps(kwargs), "enabled": enabled, "last_run_at": now, "total_run_count": 0,
                      "one_off": False, "start_time": None, "description": description, "priority": FIRE_PRIORITY},
        )  # fmt: skip
    for entry in existing.values():
        entry.delete()


def remove_schedules(pipeline_id: int) -> None:
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.filter(name__startswith=entry_prefix(pipeline_id)).delete()


def _pipeline_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        sync_schedules(instance)


def _pipeline_deleted(sender, instance, **kwargs):
    remove_schedules(instance.pk)


def connect_signals() -> None:
    """Called from ``TriggersConfig.ready``: beat entries follow every saved or deleted pipeline."""
    post_save.connect(_pipeline_saved, sender=Pipeline, dispatch_uid="triggers.schedules.saved")
    post_delete.connect(_pipeline_deleted, sender=Pipeline, dispatch_uid="triggers.schedules.deleted")


# --- firing -------------------------------------------------------------------------------------


def _parse_time(value) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def _claim(pipeline: Pipeline, point: int, slot: datetime, now: datetime, status: str) -> ScheduleSlot | None:
    """Insert the slot's row; None (and one more attempt counted) if someone recorded it already."""
    recorded = ScheduleSlot.objects.filter(pipeline=pipeline, point=point, scheduled_for=slot)
    if recorded.exists():  # the common duplicate (a second beat): a read, no failed insert
        recorded.update(attempts=F("attempts") + 1)
        return None
    try:
        with transaction.atomic():
            return ScheduleSlot.objects.create(
                pipeline=pipeline, point=point, scheduled_for=slot, fired_at=now,
                delay=(now - slot).total_seconds(), status=status,
            )  # fmt: skip
    except IntegrityError:  # recorded meanwhile (two beats at the same moment)
        recorded.update(attempts=F("attempts") + 1)
        return None


def _start(pipeline: Pipeline, row: ScheduleSlot, triggers: dict, status: str) -> str:
    """Start a claimed slot's run as the pipeline creator (A6) on the default branch, if they may execute it.

    Only the caller that moves the row from ``starting`` to ``status`` starts it (a redelivered task does not).
    """
    if not ScheduleSlot.objects.filter(pk=row.pk, status=Status.STARTING).update(status=status):
        return "duplicate"
    row.status = status
    _launch(pipeline, row, triggers, pipeline.pk in _executable([pipeline]))
    row.save(update_fields=["status", "detail", "run"])
    return row.status


def _launch(pipeline: Pipeline, row: ScheduleSlot, triggers: dict, may_execute: bool) -> None:
    """The run of a slot the caller moved out of ``starting``: started, or why not (``row.status``,
    ``row.detail``, ``row.run``, for the caller to save)."""
    from pipelines.runs.start import start_run

    if not may_execute:
        _refuse(row)
        return
    try:
        result = start_run(pipeline.creator, pipeline, **_run_options(row, triggers))
    except Exception as exc:  # recorded, never retried: a retry could start a second run
        result = exc
    _record(row, result)


def _refuse(row: ScheduleSlot) -> None:
    """A6: the pipeline's creator may not execute it (any more), so its schedule starts nothing."""
    row.status, row.detail = Status.REFUSED, f"{row.pipeline.creator} may not run this pipeline"


def _run_options(row: ScheduleSlot, triggers: dict) -> dict:
    """How a slot's run starts (A6: as the creator, on the default branch): trigger schedule, and which slot."""
    from pipelines.runs.models import Trigger

    points = triggers.get("schedules") or []
    point = points[row.point] if row.point < len(points) else {}
    detail = {"point": row.point, "time": point.get("time"), "timezone": zone_name(triggers),
              "scheduled_for": row.scheduled_for.isoformat(), "slot": row.pk}  # fmt: skip
    return {"trigger": Trigger.SCHEDULE, "trigger_detail": detail}


def _record(row: ScheduleSlot, result) -> None:
    """A start's outcome on its slot: the run, or why it failed (the reasons a user can act on, else the error)."""
    if isinstance(result, ValidationError):
        messages = result.message_dict if hasattr(result, "error_dict") else {"": result.messages}
        row.status = Status.FAILED
        row.detail = "; ".join(f"{k}: {' '.join(v)}" if k else " ".join(v) for k, v in messages.items())[:500]
    elif isinstance(result, Exception):
        logger.error("scheduled run of pipeline %s failed to start", row.pipeline_id, exc_info=result)
        row.status, row.detail = Status.FAILED, f"{type(result).__name__}: {result}"[:500]
    else:
        row.run = result


def _launch_all(rows: list[ScheduleSlot], allowed: set[int]) -> None:
    """The runs of a share of a burst, started together (``start_runs``: one transaction, a few statements for
    all of them). Should that fail as a whole, the slots whose runs it did not create start one by one — never a
    second run for a slot (the runs carry their slot's id)."""
    from pipelines.runs.models import Run, Trigger
    from pipelines.runs.start import start_runs

    startable = [row for row in rows if row.pipeline_id in allowed]
    for row in rows:
        row.status = Status.FIRED
        if row.pipeline_id not in allowed:
            _refuse(row)
    starts = [(row.pipeline.creator, row.pipeline, _run_options(row, _triggers(row.pipeline))) for row in startable]
    try:
        results = start_runs(starts)
    except Exception:  # noqa: BLE001 — e.g. the broker failed after the commit: see what was created
        logger.warning("starting %s scheduled runs together failed; one by one", len(startable), exc_info=True)
        created = dict(
            Run.objects.filter(pipeline_id__in={row.pipeline_id for row in startable}, trigger=Trigger.SCHEDULE)
            .filter(trigger_detail__slot__in=[row.pk for row in startable])
            .values_list("trigger_detail__slot", "pk")
        )
        for row in startable:
            if row.pk in created:
                row.run_id = created[row.pk]
            else:
                _launch(row.pipeline, row, _triggers(row.pipeline), may_execute=True)
        return
    for row, result in zip(startable, results, strict=True):
        _record(row, result)


def start_slot(slot_id: int, status: str = Status.FIRED) -> str:
    """Body of ``triggers.start_slot``: start a slot another task claimed (see ``_sweep``)."""
    row = ScheduleSlot.objects.select_related("pipeline__creator").filter(pk=slot_id).first()
    if row is None:
        return "gone"
    return _start(row.pipeline, row, _triggers(row.pipeline), status)


def start_slots(slot_ids: list[int]) -> list[str]:
    """Body of ``triggers.start_slots``: start slots another task claimed (a share of a burst, see ``_sweep``),
    in order. They move out of ``starting`` together (under their row locks: a redelivered task finds none
    left), each creator's permission is checked once for all of them, their runs are created together in one
    transaction (``_launch_all``), and their outcomes are saved with a short statement each. Returns what
    happened to each.

    The permissions are read before the slots leave ``starting``: should that fail (a database error, which
    the task retries), the slots are still there to start."""
    with transaction.atomic():
        rows = list(
            ScheduleSlot.objects.select_for_update(of=("self",))
            .select_related("pipeline__creator")
            .filter(pk__in=slot_ids, status=Status.STARTING)
            .order_by("pk")
        )
        allowed = _executable([row.pipeline for row in rows])
        ScheduleSlot.objects.filter(pk__in=[row.pk for row in rows]).update(status=Status.FIRED)
    try:
        _launch_all(rows, allowed)
    finally:  # what was started is recorded even if something unexpected stops the loop
        with saves_together():  # one statement for all
            for row in rows:
                save_fields(row, ["status", "detail", "run"])
    return [row.status for row in rows]


def _triggers(pipeline: Pipeline) -> dict:
    return pipeline.definition.get("triggers") or {}


def _executable(pipelines: list[Pipeline]) -> set[int]:
    """Ids of the ``pipelines`` their creator may execute (A6): one query per creator."""
    by_creator: dict[int, list[Pipeline]] = {}
    for pipeline in pipelines:
        by_creator.setdefault(pipeline.creator_id, []).append(pipeline)
    allowed: set[int] = set()
    for owned in by_creator.values():
        may = Pipeline.objects.restrict(owned[0].creator, EXECUTE).filter(pk__in=[pipeline.pk for pipeline in owned])
        allowed.update(may.values_list("pk", flat=True))
    return allowed


def _fire_slot(pipeline: Pipeline, triggers: dict, point: int, slot: datetime, now: datetime, status: str) -> str:
    row = _claim(pipeline, point, slot, now, Status.STARTING)
    return "duplicate" if row is None else _start(pipeline, row, triggers, status)


def _queue_starts(slot_ids: list[int]) -> None:
    from pipelines.triggers.schedule_tasks import start_slots as task

    try:
        task.delay(slot_ids)
    except Exception:  # no broker: start them here rather than leave them claimed
        logger.exception("could not queue scheduled slots %s; starting them in place", slot_ids)
        start_slots(slot_ids)


def _sweep(own: ScheduleSlot, entry_name: str, now: datetime) -> int:
    """Claim the other points due at the same instant (same crontab) and queue their starts.

    A burst — every pipeline at 02:00 — then spreads over the worker's processes at once instead of
    following beat, which sends one entry per tick. Only the first task of the instant sweeps (no row of
    the group has a lower id than its own); the others' beat messages find their slots recorded. The slots
    are claimed with one insert (rows recorded meanwhile are left alone by the unique key); the rows this
    sweep inserted are the ones with its ``fired_at``.
    """
    from django_celery_beat.models import PeriodicTask

    slot = own.scheduled_for
    crontab = PeriodicTask.objects.filter(name=entry_name).values("crontab_id")
    armed = _armed_points(_entries(crontab_id__in=crontab).exclude(name=entry_name))
    rows = ScheduleSlot.objects.filter(pipeline_id__in=list(armed), scheduled_for=slot)
    done = {(p, n): pk for pk, p, n in rows.values_list("pk", "pipeline_id", "point") if n in armed[p]}
    if any(pk < own.pk for pk in done.values()):
        return 0  # an earlier task of this instant sweeps
    claims = []
    # Only the triggers of each definition (the database extracts them: no whole definition to parse).
    for pipeline_id, triggers in Pipeline.objects.filter(pk__in=list(armed)).values_list("pk", "definition__triggers"):
        triggers = triggers if isinstance(triggers, dict) else {}
        points, zone = triggers.get("schedules") or [], ZoneInfo(zone_name(triggers))
        for index, since in armed[pipeline_id].items():
            if (pipeline_id, index) in done or since >= slot or index >= len(points):
                continue
            if latest_due(points[index], zone, now + EARLY_TOLERANCE) != slot:
                continue
            claims.append(ScheduleSlot(pipeline_id=pipeline_id, point=index, scheduled_for=slot, fired_at=now,
                                       delay=(now - slot).total_seconds(), status=Status.STARTING))  # fmt: skip
    if not claims:
        return 0
    ScheduleSlot.objects.bulk_create(claims, ignore_conflicts=True)
    mine = list(
        ScheduleSlot.objects.filter(
            pipeline_id__in={c.pipeline_id for c in claims}, scheduled_for=slot, fired_at=now, status=Status.STARTING
        ).values_list("pk", flat=True)
    )
    for index in range(0, len(mine), START_CHUNK):
        chunk = mine[index : index + START_CHUNK]
        transaction.on_commit(lambda chunk=chunk: _queue_starts(chunk))
    return len(mine)


def fire(pipeline_id: int, point: int, *, armed=None, now: datetime | None = None) -> str:
    """Body of a beat entry's task: start the run of the slot that just came due, exactly once.

    Returns what happened: fired, duplicate (already recorded), refused, failed, caught up (late: the
    missed-slot policy decided), or why nothing was due (gone, inactive, not due).
    """
    now = now or timezone.now()
    armed_at = _parse_time(armed)
    if _counted_as_duplicate(pipeline_id, point, armed_at, now):
        return "duplicate"
    pipeline = Pipeline.objects.select_related("creator").filter(pk=pipeline_id).first()
    if pipeline is None:
        return "gone"
    triggers = pipeline.definition.get("triggers") or {}
    points = triggers.get("schedules") or []
    if not 0 <= point < len(points) or not is_active(points[point]):
        return "inactive"
    slot = latest_due(points[point], ZoneInfo(zone_name(triggers)), now + EARLY_TOLERANCE)
    if slot is None or (armed_at is not None and slot <= armed_at):
        return "not due"
    if now - slot > missed_after():  # beat catching up after a downtime
        return f"caught up {scan_pipeline(pipeline, now)}"
    row = _claim(pipeline, point, slot, now, Status.STARTING)
    if row is None:
        return "duplicate"
    _sweep(row, f"{entry_prefix(pipeline.pk)}{point}", now)
    return _start(pipeline, row, triggers, Status.FIRED)


def fire_many(entries: list[dict], *, now: datetime | None = None) -> list[str]:
    """Body of ``triggers.fire_schedules``: beat entries that fell due together (``triggers.beat`` sends them
    as one message), each as ``fire`` would, in order; returns what happened to each.

    In a burst most of them are duplicates — a sweep claimed their slots, or the other beat's message came
    first — so they are looked up and counted together (two statements), and only the others are fired one
    by one; after a fire that claimed its slot (and may have swept the others of its instant) the rest are
    looked up again."""
    given, now = now, now or timezone.now()
    parsed = [_entry_key(entry) for entry in entries]
    results: list[str | None] = [None if key else "invalid" for key in parsed]
    todo = [index for index, key in enumerate(parsed) if key]
    look_up = True
    for position, index in enumerate(todo):
        if look_up:  # the entries not decided yet (each is counted once)
            undecided = [i for i in todo[position:] if results[i] is None]
            recorded = _counted_as_duplicates([parsed[i] for i in undecided], now) if undecided else set()
            for i in undecided:
                if parsed[i][:2] in recorded:
                    results[i] = "duplicate"
            look_up = False
        if results[index] is None:
            pipeline_id, point, armed_at = parsed[index]
            results[index] = fire(pipeline_id, point, armed=armed_at, now=given)
            look_up = results[index] not in _UNCLAIMED
    return results


# What ``fire`` answers when it claimed no slot (nothing can have been swept).
_UNCLAIMED = {"duplicate", "gone", "inactive", "not due", "invalid"}


def _entry_key(entry) -> tuple[int, int, datetime | None] | None:
    """(pipeline id, point, armed at) of a beat entry's kwargs, or None if they are not an entry's."""
    try:
        return int(entry["pipeline_id"]), int(entry["point"]), _parse_time(entry.get("armed"))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _duplicate_window(armed_at: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """A point falls due at most once a day, so a slot of it recorded for the last ``missed_after()`` (or up to
    ``EARLY_TOLERANCE`` ahead) and after the point was armed (an edited time is a new slot) is the one a beat
    message at ``now`` is for: (after, until]."""
    since = now - missed_after()
    return (since if armed_at is None else max(since, armed_at)), now + EARLY_TOLERANCE


def _counted_as_duplicate(pipeline_id: int, point: int, armed_at: datetime | None, now: datetime) -> bool:
    """The common case in a burst — the second beat's message, or one for a point a sweep claimed — answered
    with one statement that also counts the attempt, without reading the pipeline."""
    since, until = _duplicate_window(armed_at, now)
    recorded = ScheduleSlot.objects.filter(
        pipeline_id=pipeline_id, point=point, scheduled_for__gt=since, scheduled_for__lte=until
    )
    return bool(recorded.update(attempts=F("attempts") + 1))


def _counted_as_duplicates(keys: list[tuple[int, int, datetime | None]], now: datetime) -> set[tuple[int, int]]:
    """``_counted_as_duplicate`` for many entries: one read and one update; the (pipeline, point) recorded."""
    windows = {(pipeline_id, point): _duplicate_window(armed_at, now) for pipeline_id, point, armed_at in keys}
    earliest = min(since for since, _until in windows.values())
    rows = ScheduleSlot.objects.filter(
        pipeline_id__in={pipeline_id for pipeline_id, _point in windows},
        scheduled_for__gt=earliest,
        scheduled_for__lte=now + EARLY_TOLERANCE,
    ).values_list("pk", "pipeline_id", "point", "scheduled_for")
    hits = {}
    for pk, pipeline_id, point, at in rows:
        window = windows.get((pipeline_id, point))
        if window and window[0] < at <= window[1]:
            hits[pk] = (pipeline_id, point)
    if hits:
        ScheduleSlot.objects.filter(pk__in=list(hits)).update(attempts=F("attempts") + 1)
    return set(hits.values())


def _armed_points(entries) -> dict[int, dict[int, datetime]]:
    """pipeline id → {point index → armed at} from the enabled beat entries."""
    armed: dict[int, dict[int, datetime]] = {}
    for kwargs, changed in entries:
        try:
            data = json.loads(kwargs or "{}")
            pipeline_id, point = int(data["pipeline_id"]), int(data["point"])
        except (ValueError, KeyError, TypeError):
            continue
        armed.setdefault(pipeline_id, {})[point] = _parse_time(data.get("armed")) or changed
    return armed


def _entries(**filters):
    from django_celery_beat.models import PeriodicTask

    return PeriodicTask.objects.filter(task=TASK_NAME, enabled=True, **filters).values_list("kwargs", "date_changed")


def scan(now: datetime | None = None) -> int:
    """Every minute: fire due slots beat left alone, and apply the missed-slot policy. Rows recorded."""
    now = now or timezone.now()
    armed = _armed_points(_entries())
    last: dict[int, dict[int, datetime]] = {}
    rows = ScheduleSlot.objects.filter(pipeline_id__in=list(armed), scheduled_for__gte=now - LOOKBACK)
    for pipeline_id, point, at in rows.values_list("pipeline_id", "point").annotate(at=Max("scheduled_for")):
        last.setdefault(pipeline_id, {})[point] = at
    recorded = 0
    for pipeline in Pipeline.objects.filter(pk__in=list(armed)).select_related("creator"):
        recorded += scan_pipeline(pipeline, now, armed[pipeline.pk], last.get(pipeline.pk, {}))
    stale = ScheduleSlot.objects.filter(status=Status.STARTING, fired_at__lt=now - STALE_CLAIM)
    for slot_id in stale.values_list("pk", flat=True)[:500]:  # a lost start_slot: safe, see _start
        recorded += start_slot(slot_id) != "duplicate"
    return recorded


def scan_pipeline(pipeline: Pipeline, now: datetime, armed=None, last=None) -> int:
    """Slots of one pipeline due since each point was armed or last recorded, and not recorded yet."""
    if armed is None:
        armed = _armed_points(_entries(name__startswith=entry_prefix(pipeline.pk))).get(pipeline.pk, {})
    if last is None:
        rows = ScheduleSlot.objects.filter(pipeline=pipeline).values_list("point").annotate(at=Max("scheduled_for"))
        last = dict(rows)
    triggers = pipeline.definition.get("triggers") or {}
    points, zone = triggers.get("schedules") or [], ZoneInfo(zone_name(triggers))
    missed_before, due, missed = now - missed_after(), [], []
    for index, since in sorted(armed.items()):
        if index >= len(points):
            continue
        after = max(since, now - LOOKBACK, last.get(index, since))
        for instant in due_instants(points[index], zone, after, now - BACKSTOP_AFTER):
            (missed if instant <= missed_before else due).append((instant, index))
    recorded = 0
    for instant, index in sorted(due):
        recorded += _fire_slot(pipeline, triggers, index, instant, now, Status.FIRED) != "duplicate"
    if missed:
        recorded += _apply_policy(pipeline, triggers, sorted(missed), now)
    return recorded


def _apply_policy(pipeline: Pipeline, triggers: dict, missed: list[tuple[datetime, int]], now: datetime) -> int:
    """skip: every missed slot is recorded skipped. run_latest: the latest runs once (late), others missed."""
    run_latest = triggers.get("missed_schedule_policy") == "run_latest"
    latest = missed[-1] if run_latest else None
    if latest and ScheduleSlot.objects.filter(pipeline=pipeline, scheduled_for__gt=latest[0], status__in=RAN).exists():
        latest = None  # a later slot already ran: nothing to catch up on
    recorded = 0
    for instant, index in missed:
        status = Status.LATE if (instant, index) == latest else Status.MISSED if run_latest else Status.SKIPPED
        row = _claim(pipeline, index, instant, now, Status.STARTING if status == Status.LATE else status)
        if row is None:
            continue
        recorded += 1
        if status == Status.LATE:
            _start(pipeline, row, triggers, status)
    return recorded
