"""The beat scheduler (T5 bursts): django-celery-beat's database scheduler, with the per-tick database read and
whole-schedule comparison bounded. The real beats of ``test_schedules.test_two_real_beats_fire_exactly_one_run``
run with it (``CELERY_BEAT_SCHEDULER``)."""

from __future__ import annotations

import json
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

from devops_console.celery import app
from pipelines.triggers import beat

pytestmark = pytest.mark.django_db


@pytest.fixture
def scheduler():
    scheduler = beat.Scheduler(app=app, lazy=True)
    yield scheduler
    scheduler._finalize.cancel()  # its sync at interpreter exit would find the test database gone


def test_it_is_the_configured_scheduler():
    assert settings.CELERY_BEAT_SCHEDULER == "pipelines.triggers.beat:Scheduler"


def test_changes_are_read_from_the_database_at_most_once_a_second(scheduler):
    """Beat sends one due entry per tick; 200 entries due at 02:00 asked the database 200 times."""
    clock = [1000.0]
    PeriodicTasks.update_changed()  # beat has seen the schedule once
    with (
        # Beat's own connection handling would close the test's connection inside its transaction.
        mock.patch("django_celery_beat.schedulers.close_old_connections"),
        mock.patch.object(beat.time, "monotonic", side_effect=lambda: clock[0]),
        mock.patch.object(PeriodicTasks, "last_change", wraps=PeriodicTasks.last_change) as last_change,
    ):
        scheduler.schedule_changed()
        for _ in range(50):  # the ticks of one burst
            clock[0] += 0.001
            assert scheduler.schedule_changed() is False
        assert last_change.call_count == 1
        PeriodicTasks.update_changed()  # an edited schedule …
        clock[0] += beat.CHANGE_CHECK_SECONDS
        assert scheduler.schedule_changed() is True  # … is seen within a second
        assert last_change.call_count == 2


class _Entry:
    """An entry whose field-by-field comparison must not happen."""

    def __eq__(self, other):
        raise AssertionError("compared field by field")

    __hash__ = object.__hash__


def test_the_same_entries_are_equal_without_comparing_them(scheduler):
    entries = {f"pipeline-{n}-point-0": _Entry() for n in range(200)}
    assert scheduler.schedules_equal(entries, dict(entries)) is True


def test_entries_read_again_are_compared_as_before(scheduler):
    old, new = {"a": ("crontab", 1)}, {"a": ("crontab", 2)}
    assert scheduler.schedules_equal(old, new) is False
    assert scheduler.schedules_equal(old, {"a": ("crontab", 1)}) is True  # equal values, other objects
    assert scheduler.schedules_equal(old, {"b": ("crontab", 1)}) is False
    scheduler._heap_invalidated = True  # the database scheduler re-read the schedule: never "equal"
    assert scheduler.schedules_equal(old, dict(old)) is False


def _due_entries(count: int, task: str = "triggers.fire_schedule") -> list[str]:
    """``count`` beat entries of ``task`` that fell due a minute ago (every-minute crontab, last run before)."""
    crontab = CrontabSchedule.objects.create(minute="*", hour="*", day_of_week="*", timezone="UTC")
    past = timezone.now() - timedelta(minutes=2)
    names = []
    for n in range(count):
        kwargs = {"pipeline_id": 1000 + n, "point": 0, "armed": past.isoformat()}
        entry = PeriodicTask.objects.create(name=f"{task}-{n}", task=task, crontab=crontab, kwargs=json.dumps(kwargs),
                                            last_run_at=past, priority=6)  # fmt: skip
        names.append(entry.name)
    return names


def _run_due_ticks(scheduler) -> tuple[list[str], list[tuple[str, dict]]]:
    """Tick until nothing is due; (names of entries sent on their own, (task, options) of batch messages)."""
    alone, batches = [], []
    with (
        mock.patch("django_celery_beat.schedulers.close_old_connections"),
        mock.patch.object(beat.Scheduler, "apply_async", autospec=True,
                          side_effect=lambda self, entry, **kwargs: alone.append(entry.name)),
        mock.patch.object(beat.Scheduler, "send_task", autospec=True,
                          side_effect=lambda self, name, **options: batches.append((name, options))),
    ):  # fmt: skip
        scheduler.producer = None  # no broker connection: nothing is published
        for _ in range(1000):
            if scheduler.tick():
                break
    return alone, batches


def test_schedule_entries_due_together_go_out_as_one_message_after_the_first(scheduler):
    """T5 bursts: the first schedule entry of an instant is sent at once (its task sweeps the instant); the
    others due with it go out as one ``triggers.fire_schedules`` message with their kwargs, at their priority —
    not a message per entry for beat to publish and a worker to answer. Each entry is still reserved (its last
    run and count, as Django admin shows them). Other tasks are sent as beat sends them."""
    fires = _due_entries(5)
    others = _due_entries(2, task="runs.reap")
    alone, batches = _run_due_ticks(scheduler)
    first = [name for name in alone if name in fires]
    assert len(first) == 1 and set(others) <= set(alone)
    ((task, options),) = batches
    assert task == "triggers.fire_schedules" and options["priority"] == 6
    sent = options["kwargs"]["entries"]
    assert sorted(entry["pipeline_id"] for entry in sent) == sorted(
        1000 + n for n, name in enumerate(fires) if name not in first
    )
    assert all(set(entry) == {"pipeline_id", "point", "armed"} for entry in sent)
    with mock.patch("django_celery_beat.schedulers.close_old_connections"):
        scheduler.sync()
    runs = PeriodicTask.objects.filter(name__in=fires).values_list("total_run_count", "last_run_at")
    assert {count for count, _at in runs} == {1} and all(at > timezone.now() - timedelta(seconds=30) for _c, at in runs)


def test_a_large_burst_is_sent_in_messages_of_at_most_max_batch(scheduler):
    _due_entries(8)
    with mock.patch.object(beat, "MAX_BATCH", 3):
        alone, batches = _run_due_ticks(scheduler)
    assert len(alone) == 1 and [len(options["kwargs"]["entries"]) for _task, options in batches] == [3, 3, 1]


def test_entries_waiting_to_be_sent_go_out_when_beat_closes(scheduler):
    _due_entries(3)
    sent = []
    with (
        mock.patch("django_celery_beat.schedulers.close_old_connections"),
        mock.patch.object(beat.Scheduler, "apply_async", autospec=True),
        mock.patch.object(beat.Scheduler, "send_task", autospec=True,
                          side_effect=lambda self, name, **options: sent.append(options["kwargs"]["entries"])),
    ):  # fmt: skip
        scheduler.producer = None
        for _ in range(100):
            scheduler.tick()
            if scheduler._batches:  # stopped in the middle of a burst
                break
        scheduler.close()
    assert sent and not scheduler._batches
