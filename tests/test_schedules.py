"""Schedules (T5) with django-celery-beat, running as the pipeline creator (A6).

Pure slot computation across weekdays and time zones, including DST changes (and agreement with the
crontab beat evaluates); beat entries following the definition; the 10-point limit; exactly one run per
slot (twice, from two threads, and with TWO REAL beat processes on a real worker); the creator's right to
execute; the missed-slot policy (skip / run_latest).
"""

from __future__ import annotations

import json
import threading
import time as clock
from datetime import UTC, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.tzcrontab import TzAwareCrontab

from devops_console.core.models import Membership
from pipelines import services
from pipelines.definition.triggers import DAYS
from pipelines.models import Pipeline
from pipelines.runs.models import Run
from pipelines.triggers import schedules
from pipelines.triggers.models import ScheduleSlot
from tests.celery_support import start_beat, stop, workers_database_url
from tests.engine_support import build, make_pipeline, stage, wait_for

BERLIN, NEW_YORK, SHANGHAI = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Shanghai")
STAGES = [stage("Build", build(commands="true"))]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def point(time: str, *days: str, enabled: bool = True) -> dict:
    return {"enabled": enabled, "days": list(days) or list(DAYS), "time": time}


def triggers(*points, zone: str = "", policy: str = "skip") -> dict:
    return {"schedules": list(points), "timezone": zone, "missed_schedule_policy": policy}


def scheduled(world, *points, zone="", policy="skip", **extra):
    return make_pipeline(world, STAGES, triggers=triggers(*points, zone=zone, policy=policy), **extra)


def wall(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%H:%M")


def entries(pipeline) -> dict[str, PeriodicTask]:
    found = PeriodicTask.objects.filter(name__startswith=schedules.entry_prefix(pipeline.pk)).select_related("crontab")
    return {e.name: e for e in found}


def arm(pipeline, at: datetime) -> None:
    """Pretend the pipeline's points were set up at ``at`` (re-create its beat entries then)."""
    schedules.remove_schedules(pipeline.pk)
    schedules.sync_schedules(pipeline, now=at)


# --------------------------------------------------------------------------- slots (pure)


def test_weekdays_and_time_zones():
    """T5: days of the week are those of the wall time in the pipeline's zone, also across UTC midnight."""
    week = (utc(2026, 3, 1), utc(2026, 3, 8))  # Sunday 1 March … Sunday 8 March 2026 (UTC)
    shanghai = schedules.due_instants(point("08:00", "mon", "wed", "fri"), SHANGHAI, *week)
    assert shanghai == [utc(2026, 3, 2, 0), utc(2026, 3, 4, 0), utc(2026, 3, 6, 0)]  # 08:00 CST = 00:00 UTC
    new_york = schedules.due_instants(point("21:15", "mon", "fri"), NEW_YORK, *week)
    assert new_york == [utc(2026, 3, 3, 2, 15), utc(2026, 3, 7, 2, 15)]  # Monday evening EST = Tuesday UTC
    assert [i.astimezone(NEW_YORK).strftime("%a") for i in new_york] == ["Mon", "Fri"]
    assert schedules.due_instants(point("08:00", enabled=False), SHANGHAI, *week) == []
    server = schedules.due_instants(point("23:59", "sun"), ZoneInfo(settings.TIME_ZONE), *week)
    assert len(server) == 1 and wall(server[0], ZoneInfo(settings.TIME_ZONE)) == "23:59"


@pytest.mark.parametrize(
    ("zone", "time", "after", "expected", "why"),
    [
        (BERLIN, "02:30", utc(2026, 3, 28), utc(2026, 3, 29, 1, 30), "in the spring gap: 03:30 CEST (RFC 5545)"),
        (BERLIN, "01:59", utc(2026, 3, 28), utc(2026, 3, 29, 0, 59), "just before the gap: CET"),
        (BERLIN, "03:00", utc(2026, 3, 28), utc(2026, 3, 29, 1, 0), "just after the gap: CEST"),
        (BERLIN, "02:30", utc(2026, 10, 24), utc(2026, 10, 25, 0, 30), "repeated hour: its first occurrence (CEST)"),
        (BERLIN, "02:30", utc(2026, 10, 25, 0, 30), utc(2026, 11, 1, 1, 30), "not again an hour later; then CET"),
        (NEW_YORK, "02:30", utc(2026, 3, 7), utc(2026, 3, 8, 7, 30), "New York spring gap: 03:30 EDT"),
        (NEW_YORK, "01:30", utc(2026, 10, 31), utc(2026, 11, 1, 5, 30), "New York repeated hour: EDT"),
        (NEW_YORK, "01:30", utc(2026, 11, 1, 5, 30), utc(2026, 11, 8, 6, 30), "once; the next Sunday in EST"),
    ],
)
def test_dst_changes(zone, time, after, expected, why):
    """T5 + DST: Sundays 29 March / 25 October 2026 (Berlin), 8 March / 1 November 2026 (New York).

    The slot computation and the crontab beat evaluates (django-celery-beat's TzAwareCrontab, the entry
    ``sync_schedules`` writes) agree on the instant, so beat fires exactly when the slot is due.
    """
    sunday = point(time, "sun")
    assert schedules.next_due(sunday, zone, after) == expected, why
    assert schedules.latest_due(sunday, zone, expected + timedelta(seconds=1)) == expected
    assert schedules.latest_due(sunday, zone, expected - timedelta(seconds=1)) <= after
    fields = schedules.crontab_fields(sunday, zone.key)
    crontab = TzAwareCrontab(fields["minute"], fields["hour"], fields["day_of_week"], tz=zone)
    last_run = schedules.latest_due(sunday, zone, after) or after  # beat's previous firing
    fires = []
    for minute in range(-90, 91):  # beat asks "is it due?" every minute from 1.5 h before to 1.5 h after
        now = (expected + timedelta(minutes=minute, seconds=1)).astimezone(zone)
        crontab.nowfun = lambda now=now: now
        if crontab.is_due(last_run.astimezone(zone)).is_due:
            fires.append(now.astimezone(UTC) - timedelta(seconds=1))
    assert fires and fires[0] == expected, why


# --------------------------------------------------------------------------- beat entries, the limit


@pytest.mark.django_db
def test_beat_entries_follow_the_definition(world):
    """T5: one crontab entry per point in the pipeline's zone; changed points are re-armed, unchanged ones
    kept; removed points and deleted pipelines lose their entries."""
    pipeline = scheduled(world, point("08:05", "mon", "sun"), point("23:00", "fri"), zone="Europe/Berlin")
    prefix = schedules.entry_prefix(pipeline.pk)
    found = entries(pipeline)
    assert sorted(found) == [f"{prefix}0", f"{prefix}1"]
    first = found[f"{prefix}0"]
    assert first.task == "triggers.fire_schedule" and first.enabled
    assert (first.crontab.minute, first.crontab.hour, first.crontab.day_of_week) == ("5", "8", "0,1")
    assert str(first.crontab.timezone) == "Europe/Berlin"
    kwargs = json.loads(first.kwargs)
    assert (kwargs["pipeline_id"], kwargs["point"]) == (pipeline.pk, 0) and kwargs["armed"]

    actor = world.users["manager"]
    data = {"triggers": triggers(point("08:05", "mon", "sun"), point("23:30", "fri", enabled=False), zone="")}
    services.update_pipeline(actor, pipeline, data, partial=True)
    found = entries(pipeline)
    assert found[f"{prefix}1"].enabled is False and found[f"{prefix}1"].crontab.minute == "30"
    assert str(found[f"{prefix}0"].crontab.timezone) == settings.TIME_ZONE  # "" = the server's zone
    armed = json.loads(found[f"{prefix}0"].kwargs)["armed"]
    assert armed > json.loads(first.kwargs)["armed"]  # re-armed: the zone changed

    services.update_pipeline(actor, pipeline, {"name": "renamed"}, partial=True)
    kept = entries(pipeline)[f"{prefix}0"]
    assert json.loads(kept.kwargs)["armed"] == armed and "renamed" in kept.description  # unchanged point

    services.update_pipeline(actor, pipeline, {"triggers": triggers(point("09:00", "tue"))}, partial=True)
    assert sorted(entries(pipeline)) == [f"{prefix}0"]
    services.delete_pipeline(actor, pipeline)
    assert not PeriodicTask.objects.filter(name__startswith=prefix).exists()


@pytest.mark.django_db
def test_the_eleventh_point_is_refused(world):
    """T5: up to 10 time points; an 11th is refused through the service, and nothing changes."""
    ten = [point(f"{h:02d}:00") for h in range(10)]
    pipeline = scheduled(world, *ten)
    assert len(entries(pipeline)) == 10
    with pytest.raises(ValidationError) as caught:
        data = {"triggers": triggers(*ten, point("12:00"))}
        services.update_pipeline(world.users["developer"], pipeline, data, partial=True)
    assert list(caught.value.message_dict) == ["triggers.schedules[10]"]
    assert "at most 10" in caught.value.message_dict["triggers.schedules[10]"][0]
    assert len(entries(pipeline)) == 10 and len(pipeline.definition["triggers"]["schedules"]) == 10


# --------------------------------------------------------------------------- firing (A6), exactly once


def _due_now(zone: ZoneInfo) -> tuple[dict, datetime]:
    """A point due at the current minute, and that instant."""
    now = timezone.now()
    slot = now.replace(second=0, microsecond=0)
    return point(wall(slot, zone)), slot


@pytest.mark.django_db
def test_a_slot_fires_one_run_as_the_creator_on_the_default_branch(world, git_server):
    """T5, A6: the run starts as the pipeline creator (not the last editor), trigger schedule, on the
    default branch; firing the same slot again (a second beat) starts nothing and counts an attempt."""
    from tests.test_executors_checkout import git_endpoint, git_source, sha_of

    zone = SHANGHAI
    due, slot = _due_now(zone)
    sources = [git_source(git_endpoint(world, git_server))]
    stages = [stage("Build", build(source="app", commands="true"))]
    pipeline = make_pipeline(world, stages, sources=sources, triggers=triggers(due, zone="Asia/Shanghai"))
    services.update_pipeline(world.users["manager"], pipeline, {"description": "edited"}, partial=True)
    now = slot + timedelta(seconds=0.2)
    assert schedules.fire(pipeline.pk, 0, now=now) == "fired"
    assert schedules.fire(pipeline.pk, 0, now=now + timedelta(seconds=1)) == "duplicate"
    run = Run.objects.get(pipeline=pipeline)
    assert run.trigger == "schedule" and run.triggered_by == world.users["developer"]
    assert run.branch == "main" and run.commit_id == sha_of(git_server, "org/app.git", "main")
    assert run.trigger_detail["point"] == 0 and run.trigger_detail["timezone"] == "Asia/Shanghai"
    row = ScheduleSlot.objects.get(pipeline=pipeline)
    assert (row.scheduled_for, row.status, row.run, row.attempts) == (slot, "fired", run, 2)
    assert row.delay == pytest.approx(0.2) and run.trigger_detail["slot"] == row.pk
    assert schedules.fire(pipeline.pk, 1, now=now) == "inactive"  # a stale entry of a removed point


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["left the project", "deactivated"])
def test_a_creator_who_lost_execute_starts_nothing(world, how):
    """A6: a schedule runs as the pipeline creator, so without their execute right nothing runs."""
    due, slot = _due_now(ZoneInfo(settings.TIME_ZONE))
    pipeline = scheduled(world, due)
    creator = world.users["developer"]
    if how == "left the project":
        Membership.objects.filter(project=world.project, user=creator).delete()
    else:
        creator.is_active = False
        creator.save()
    assert schedules.fire(pipeline.pk, 0, now=slot + timedelta(seconds=1)) == "refused"
    assert not Run.objects.filter(pipeline=pipeline).exists()
    row = ScheduleSlot.objects.get(pipeline=pipeline)
    assert row.status == "refused" and row.run is None and "may not run" in row.detail


@pytest.mark.django_db
def test_a_burst_is_claimed_by_the_first_task_and_started_in_parallel(world, django_capture_on_commit_callbacks):
    """T5 bursts: the first task of an instant claims the other points sharing its crontab and queues their
    starts (triggers.start_slot); their own beat messages, and a redelivered start, start nothing more;
    a claim whose start was lost is started by the scan."""
    zone = ZoneInfo(settings.TIME_ZONE)
    due, slot = _due_now(zone)
    first, second, third = (scheduled(world, due, name=name) for name in ("first", "second", "third"))
    for pipeline in (first, second, third):
        arm(pipeline, slot - timedelta(hours=1))  # set up before the slot
    crontabs = {e.crontab_id for p in (first, second, third) for e in entries(p).values()}
    assert len(crontabs) == 1  # the same time, days and zone share one crontab
    now = slot + timedelta(seconds=0.1)
    with django_capture_on_commit_callbacks() as queued:
        assert schedules.fire(first.pk, 0, now=now) == "fired"
    claimed = ScheduleSlot.objects.get(pipeline=second)
    assert claimed.status == "starting" and claimed.run is None
    assert [c.__qualname__ for c in queued].count("_sweep.<locals>.<lambda>") == 1  # one start task for both
    assert schedules.start_slot(claimed.pk) == "fired"
    assert schedules.start_slot(claimed.pk) == "duplicate"  # the task delivered twice
    assert schedules.fire(second.pk, 0, now=now + timedelta(seconds=1)) == "duplicate"  # its own beat entry
    assert ScheduleSlot.objects.get(pipeline=second).attempts == 2
    # the third's queued start was lost: the scan starts a claim left "starting" for 2 minutes
    assert schedules.scan(now + timedelta(minutes=1)) == 0
    assert schedules.scan(now + timedelta(minutes=3)) == 1 and schedules.scan(now + timedelta(minutes=4)) == 0
    for pipeline in (first, second, third):
        run = Run.objects.get(pipeline=pipeline)
        assert run.trigger == "schedule" and ScheduleSlot.objects.get(pipeline=pipeline).run == run


@pytest.mark.django_db
def test_a_sweep_shares_a_burst_out_in_tasks_of_ten_each_checking_a_creator_once(
    world, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    """T5 bursts: 23 points due at once are claimed by the first task and started by 3 start tasks (10, 10,
    3 slots), which check each creator's execute right once (A6) and create their runs together: a creator who
    lost it starts nothing, the others start their runs; a start task delivered twice starts nothing more."""
    zone = ZoneInfo(settings.TIME_ZONE)
    due, slot = _due_now(zone)
    pipelines = [scheduled(world, due, name=f"p{i:02d}") for i in range(22)]
    pipelines.append(scheduled(world, due, name="tester's", actor="tester"))
    for pipeline in pipelines:
        arm(pipeline, slot - timedelta(hours=1))
    Membership.objects.filter(project=world.project, user=world.users["tester"]).delete()
    with django_capture_on_commit_callbacks() as queued:
        assert schedules.fire(pipelines[0].pk, 0, now=slot + timedelta(seconds=0.1)) == "fired"
    with mock.patch("pipelines.triggers.schedule_tasks.start_slots.delay") as delay:
        for callback in queued:
            if callback.__qualname__ == "_sweep.<locals>.<lambda>":
                callback()
    chunks = [call.args[0] for call in delay.call_args_list]
    assert [len(chunk) for chunk in chunks] == [10, 10, 2]  # the first task started its own slot
    claimed = ScheduleSlot.objects.filter(pk__in=[pk for chunk in chunks for pk in chunk])
    assert set(claimed.values_list("status", flat=True)) == {"starting"}
    # The ten runs are created together (a few statements for all of them, one creator check); per slot only
    # its first stage and task are marked started and its outcome saved (before: about 14 statements per slot).
    with django_assert_max_num_queries(15 + 3 * 10):
        assert schedules.start_slots(chunks[0]) == ["fired"] * 10
    assert schedules.start_slots(chunks[2]) == ["fired", "refused"]
    assert schedules.start_slots(chunks[0]) == []  # delivered twice: nothing left to start
    assert schedules.start_slots(chunks[1]) == ["fired"] * 10
    assert Run.objects.filter(pipeline__in=pipelines, trigger="schedule").count() == 22
    refused = ScheduleSlot.objects.get(pipeline=pipelines[-1])
    assert refused.status == "refused" and "may not run" in refused.detail and refused.run is None


@pytest.mark.django_db
def test_a_start_task_that_cannot_read_permissions_leaves_its_slots_to_its_retry(world):
    """T5 exactly once, never zero: a database error while a start task checks the creators' rights (the task
    retries on it) leaves its slots ``starting``, so the retry starts them."""
    due, slot = _due_now(ZoneInfo(settings.TIME_ZONE))
    pipeline = scheduled(world, due)
    row = ScheduleSlot.objects.create(
        pipeline=pipeline, point=0, scheduled_for=slot, fired_at=slot, delay=0, status="starting"
    )
    with mock.patch.object(schedules, "_executable", side_effect=OperationalError("database is locked")):
        with pytest.raises(OperationalError):
            schedules.start_slots([row.pk])
    assert ScheduleSlot.objects.get(pk=row.pk).status == "starting"
    assert schedules.start_slots([row.pk]) == ["fired"]
    assert Run.objects.get(pipeline=pipeline).trigger == "schedule"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker", "drain_runs")
def test_two_threads_firing_the_same_slot_start_one_run(world):
    """T5 exactly once: two workers handling the same slot at the same moment start one run."""
    due, slot = _due_now(ZoneInfo(settings.TIME_ZONE))
    pipeline = scheduled(world, due)
    barrier, results = threading.Barrier(2), []

    def fire():
        try:
            barrier.wait()
            results.append(schedules.fire(pipeline.pk, 0, now=slot + timedelta(seconds=0.5)))
        finally:
            connection.close()

    threads = [threading.Thread(target=fire) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == ["duplicate", "fired"]
    assert Run.objects.filter(pipeline=pipeline).count() == 1
    assert ScheduleSlot.objects.get(pipeline=pipeline).attempts == 2


@pytest.mark.django_db
def test_a_duplicate_message_is_counted_in_one_statement(world, django_assert_num_queries):
    """T5 bursts: the second beat's message for a slot (or one for a point a sweep claimed) only counts an
    attempt, in one statement, without reading the pipeline."""
    due, slot = _due_now(ZoneInfo(settings.TIME_ZONE))
    pipeline = scheduled(world, due)
    assert schedules.fire(pipeline.pk, 0, now=slot + timedelta(seconds=0.2)) == "fired"
    with django_assert_num_queries(1):
        assert schedules.fire(pipeline.pk, 0, now=slot + timedelta(seconds=0.4)) == "duplicate"
    assert ScheduleSlot.objects.get(pipeline=pipeline).attempts == 2


@pytest.mark.django_db
def test_entries_sent_together_fire_the_burst_once_and_are_counted_together(
    world, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """T5 bursts: beat sends the entries due together as one message (``triggers.beat``). The first fires its
    slot and sweeps the instant; the others are found claimed and counted, not fired one by one; the second
    beat's message for the same entries costs two statements. An entry whose point was edited after its slot
    (armed later) is not taken for a duplicate, and kwargs that are not an entry's start nothing."""
    zone = ZoneInfo(settings.TIME_ZONE)
    due, slot = _due_now(zone)
    pipelines = [scheduled(world, due, name=f"p{i}") for i in range(4)]
    for pipeline in pipelines:
        arm(pipeline, slot - timedelta(hours=1))
    kwargs = [json.loads(next(iter(entries(p).values())).kwargs) for p in pipelines]
    now = slot + timedelta(seconds=0.1)
    with django_capture_on_commit_callbacks() as queued:
        assert schedules.fire_many(kwargs[:3], now=now) == ["fired", "duplicate", "duplicate"]
    with mock.patch("pipelines.triggers.schedule_tasks.start_slots.delay") as delay:
        for callback in queued:
            if callback.__qualname__ == "_sweep.<locals>.<lambda>":
                callback()
    assert sorted(pk for call in delay.call_args_list for pk in call.args[0]) == sorted(
        ScheduleSlot.objects.filter(pipeline__in=pipelines[1:]).values_list("pk", flat=True)
    )  # the sweep claimed the other three (the fourth's own entry was not in this message)
    with django_assert_num_queries(2):  # the other beat's message: one read, one update
        assert schedules.fire_many(kwargs, now=now + timedelta(seconds=0.2)) == ["duplicate"] * 4
    attempts = dict(ScheduleSlot.objects.values_list("pipeline_id", "attempts"))
    assert attempts == {pipelines[0].pk: 2, pipelines[1].pk: 3, pipelines[2].pk: 3, pipelines[3].pk: 2}
    edited = {**kwargs[0], "armed": (slot + timedelta(seconds=1)).isoformat()}  # re-armed after its slot
    assert schedules.fire_many([edited, {"pipeline_id": "x"}, {}], now=now) == ["not due", "invalid", "invalid"]
    assert ScheduleSlot.objects.get(pipeline=pipelines[0]).attempts == 2
    assert Run.objects.filter(pipeline__in=pipelines).count() == 1  # the others start in their start tasks


@pytest.mark.django_db
def test_a_message_counts_each_entry_it_finds_recorded_once(world, django_capture_on_commit_callbacks):
    """An entry found recorded is counted once per message, also when a later entry of the message fires and
    the rest are looked up again (two crontabs due at the same instant: neither sweeps the other)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    due, slot = _due_now(zone)
    today = DAYS[slot.astimezone(zone).weekday()]
    first, second = scheduled(world, due, name="daily"), scheduled(world, point(due["time"], today), name="today")
    for pipeline in (first, second):
        arm(pipeline, slot - timedelta(hours=1))
    now = slot + timedelta(seconds=0.1)
    with django_capture_on_commit_callbacks():
        assert schedules.fire(first.pk, 0, now=now) == "fired"  # the other beat's first message
        kwargs = [json.loads(next(iter(entries(p).values())).kwargs) for p in (second, first)]
        assert schedules.fire_many(kwargs, now=now) == ["fired", "duplicate"]
    assert ScheduleSlot.objects.get(pipeline=first).attempts == 2


@pytest.mark.django_db
def test_a_point_edited_to_a_later_time_fires_its_new_slot(world):
    """An edited time is a new slot, even minutes after the point's earlier slot: the message of the re-armed
    entry is not taken for a duplicate of the slot that already ran."""
    zone = ZoneInfo(settings.TIME_ZONE)
    due, slot = _due_now(zone)
    pipeline = scheduled(world, due)
    assert schedules.fire(pipeline.pk, 0, now=slot + timedelta(seconds=0.2)) == "fired"
    later = slot + timedelta(minutes=2)
    services.update_pipeline(
        world.users["developer"], pipeline, {"triggers": triggers(point(wall(later, zone)))}, partial=True
    )
    armed = json.loads(entries(pipeline)[f"{schedules.entry_prefix(pipeline.pk)}0"].kwargs)["armed"]
    assert schedules.fire(pipeline.pk, 0, armed=armed, now=later + timedelta(seconds=0.2)) == "fired"
    assert sorted(ScheduleSlot.objects.filter(pipeline=pipeline).values_list("scheduled_for", flat=True)) == [
        slot, later
    ]  # fmt: skip
    assert Run.objects.filter(pipeline=pipeline).count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("drain_runs")
def test_two_real_beats_fire_exactly_one_run(world, celery_worker, tmp_path):
    """T5 acceptance: with TWO real beat processes (database scheduler) and a real worker, a point due at
    the next minute (Asia/Shanghai) fires one run; the second beat's attempt is refused by the slot key.
    A second pipeline due at the same instant also runs exactly once."""
    now = timezone.now()
    target = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (target - now).total_seconds() < 10:  # leave the beats time to start (about 3 s)
        target += timedelta(minutes=1)
    local = target.astimezone(SHANGHAI)
    due = point(local.strftime("%H:%M"), DAYS[local.weekday()])
    pipeline = scheduled(world, due, zone="Asia/Shanghai")
    other = scheduled(world, due, zone="Asia/Shanghai", name="other")  # the same instant: claimed by a sweep
    database_url = workers_database_url()
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    beats = [start_beat(database_url, tmp_path / "a"), start_beat(database_url, tmp_path / "b")]
    try:
        deadline = target + timedelta(seconds=25)
        row = None
        while timezone.now() < deadline:
            assert all(beat.poll() is None for beat in beats), "a beat exited"
            row = ScheduleSlot.objects.filter(pipeline=pipeline).first()
            if row and row.attempts >= 2 and timezone.now() > target + timedelta(seconds=3):
                break
            clock.sleep(0.2)
    finally:
        for beat in beats:
            stop(beat)
    assert row is not None, "no beat fired the slot"
    assert row.scheduled_for == target and row.status == "fired" and row.attempts >= 2
    assert row.delay < 5, row.delay
    run = wait_for(Run.objects.get(pipeline=pipeline))
    assert Run.objects.filter(pipeline=pipeline).count() == 1 and ScheduleSlot.objects.count() == 2
    other_run = wait_for(Run.objects.get(pipeline=other))
    assert other_run.state == "succeeded" and ScheduleSlot.objects.get(pipeline=other).run == other_run
    assert run.state == "succeeded" and run.trigger == "schedule" and run.triggered_by == world.users["developer"]
    assert row.run == run


# --------------------------------------------------------------------------- missed slots


@pytest.mark.django_db
def test_missed_slot_is_skipped_by_default(world):
    """T5: beat was down when a slot came due 10 minutes ago: the scan records it skipped, runs nothing,
    and beat catching up on restart changes nothing."""
    assert settings.CELERY_BEAT_SCHEDULE["triggers-scan-schedules"]["task"] == "triggers.scan_schedules"
    now = timezone.now()
    slot = (now - timedelta(minutes=10)).replace(second=0, microsecond=0)
    pipeline = scheduled(world, point(wall(slot, BERLIN)), zone="Europe/Berlin")
    arm(pipeline, now - timedelta(hours=1))
    assert schedules.scan(now) == 1
    row = ScheduleSlot.objects.get(pipeline=pipeline)
    assert (row.scheduled_for, row.status, row.run) == (slot, "skipped", None)
    assert row.delay == pytest.approx((now - slot).total_seconds())
    assert schedules.scan(now + timedelta(seconds=60)) == 0
    assert schedules.fire(pipeline.pk, 0, now=now) == "caught up 0"  # beat's catch-up after a restart
    assert not Run.objects.filter(pipeline=pipeline).exists()


@pytest.mark.django_db
def test_run_latest_runs_the_latest_missed_slot_once(world):
    """T5 run_latest: of the slots missed while beat was down, only the latest runs (late, delay kept);
    the older are recorded missed; scanning again or beat catching up starts nothing more."""
    now = timezone.now()
    older, latest = ((now - timedelta(minutes=m)).replace(second=0, microsecond=0) for m in (40, 10))
    pipeline = scheduled(world, point(wall(latest, NEW_YORK)), point(wall(older, NEW_YORK)),
                         zone="America/New_York", policy="run_latest")  # fmt: skip
    arm(pipeline, now - timedelta(hours=2))
    assert schedules.fire(pipeline.pk, 1, now=now) == "caught up 2"  # the restarted beat fires the old point
    rows = {r.point: r for r in ScheduleSlot.objects.filter(pipeline=pipeline)}
    assert (rows[0].scheduled_for, rows[0].status) == (latest, "late")
    assert (rows[1].scheduled_for, rows[1].status, rows[1].run) == (older, "missed", None)
    run = Run.objects.get(pipeline=pipeline)
    assert rows[0].run == run and run.trigger == "schedule" and run.triggered_by == world.users["developer"]
    assert rows[0].delay >= 600
    assert schedules.scan(now) == 0 and Run.objects.filter(pipeline=pipeline).count() == 1


@pytest.mark.django_db
def test_run_latest_does_not_repeat_a_slot_when_a_later_one_ran(world):
    """run_latest catches up only if nothing ran since: a slot fired after the missed one supersedes it."""
    now = timezone.now()
    missed, fired = ((now - timedelta(minutes=m)).replace(second=0, microsecond=0) for m in (20, 8))
    pipeline = scheduled(world, point(wall(missed, BERLIN)), point(wall(fired, BERLIN)), zone="Europe/Berlin",
                         policy="run_latest")  # fmt: skip
    arm(pipeline, now - timedelta(hours=1))
    assert schedules.fire(pipeline.pk, 1, now=fired + timedelta(seconds=1)) == "fired"
    assert schedules.scan(now) == 1
    assert ScheduleSlot.objects.get(pipeline=pipeline, point=0).status == "missed"
    assert Run.objects.filter(pipeline=pipeline).count() == 1


@pytest.mark.django_db
def test_scan_fires_a_slot_beat_left_alone_and_ignores_times_before_arming(world):
    """The scan is a backstop: a slot due 1 minute ago with no record fires now (delay recorded); due
    times before the point was set up are not missed slots."""
    now = timezone.now()
    recent = (now - timedelta(minutes=1)).replace(second=0, microsecond=0)
    before = (now - timedelta(minutes=30)).replace(second=0, microsecond=0)
    zone = ZoneInfo(settings.TIME_ZONE)
    pipeline = scheduled(world, point(wall(recent, zone)), point(wall(before, zone)))
    arm(pipeline, now - timedelta(minutes=20))  # set up after the second point's time
    assert schedules.scan(now) == 1
    row = ScheduleSlot.objects.get(pipeline=pipeline)
    assert (row.point, row.scheduled_for, row.status) == (0, recent, "fired") and row.run is not None
    assert 30 <= row.delay <= 120


# --------------------------------------------------------------------------- admin


@pytest.mark.django_db
def test_admin_shows_slots_of_visible_pipelines_only(client, world):
    """T5 visible in Django admin, through the restricted queryset (A6)."""
    due, slot = _due_now(ZoneInfo(settings.TIME_ZONE))
    pipeline = scheduled(world, due, name="nightly")
    schedules.fire(pipeline.pk, 0, now=slot + timedelta(seconds=1))
    for actor in ("viewer", "outsider"):
        user = world.users[actor]
        user.is_staff = True
        user.save()
    client.force_login(world.users["viewer"])
    page = client.get("/admin/triggers/scheduleslot/")
    assert page.status_code == 200 and "nightly" in page.content.decode()
    row = ScheduleSlot.objects.get(pipeline=pipeline)
    assert client.get(f"/admin/triggers/scheduleslot/{row.pk}/change/").status_code == 200
    client.force_login(world.users["outsider"])
    assert "nightly" not in client.get("/admin/triggers/scheduleslot/").content.decode()


@pytest.mark.django_db
def test_beat_messages_yield_to_the_starts_of_a_burst(world):
    """T5 bursts: beat's fire messages have a lower priority (Redis: 0 is highest) than the starts a sweep
    queues, so 200 duplicates of an instant do not hold up its starts; an entry from before is brought up
    to date on the next sync."""
    zone = ZoneInfo(settings.TIME_ZONE)
    due, _slot = _due_now(zone)
    pipeline = scheduled(world, due)
    entry = next(iter(entries(pipeline).values()))
    assert entry.priority == schedules.FIRE_PRIORITY > 0
    type(entry).objects.filter(pk=entry.pk).update(priority=None)  # as created by an earlier version
    schedules.sync_schedules(Pipeline.objects.get(pk=pipeline.pk))
    assert next(iter(entries(pipeline).values())).priority == schedules.FIRE_PRIORITY
    from pipelines.triggers.schedule_tasks import start_slot

    assert start_slot.priority is None  # sent with the broker's default, the highest
