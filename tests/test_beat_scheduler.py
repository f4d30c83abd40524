"""The beat scheduler (T5 bursts): django-celery-beat's database scheduler, with the per-tick database read and
whole-schedule comparison bounded. The real beats of ``test_schedules.test_two_real_beats_fire_exactly_one_run``
run with it (``CELERY_BEAT_SCHEDULER``)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTasks

from devops_console.celery import app
from pipelines.triggers import beat

pytestmark = pytest.mark.django_db


@pytest.fixture
def scheduler():
    return beat.Scheduler(app=app, lazy=True)


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
