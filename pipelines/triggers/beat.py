"""The beat scheduler (T5): django-celery-beat's ``DatabaseScheduler``, cheap per due entry.

Celery's beat sends one due entry per tick, and before each tick the database scheduler asks the database
whether any entry changed and compares the whole schedule with the previous tick's, entry by entry. With
every pipeline's point at 02:00 that is a query and a comparison of all entries for each of the hundreds of
messages of the instant: measured with 200 due entries, about 0.5 s of CPU per beat process, taken from the
workers that start the runs (``bench/schedules.py``). Here:

- the database is asked about changes at most once a second (beat's own wake-up interval is 5 s: an edit
  of a schedule is still picked up well within it);
- when the schedule holds the very same entry objects as at the previous tick (nothing was re-read from the
  database), it is equal without comparing them field by field.
"""

from __future__ import annotations

import time

from django_celery_beat.schedulers import DatabaseScheduler

CHANGE_CHECK_SECONDS = 1.0


class Scheduler(DatabaseScheduler):
    """``DatabaseScheduler`` with the per-tick costs above bounded (``CELERY_BEAT_SCHEDULER``)."""

    _change_checked: float | None = None

    def schedule_changed(self) -> bool:
        now = time.monotonic()
        if self._change_checked is not None and now - self._change_checked < CHANGE_CHECK_SECONDS:
            return False
        self._change_checked = now
        return super().schedule_changed()

    def schedules_equal(self, old_schedules, new_schedules) -> bool:
        if (
            not self._heap_invalidated
            and old_schedules is not None
            and new_schedules is not None
            and old_schedules.keys() == new_schedules.keys()
            and all(entry is new_schedules[name] for name, entry in old_schedules.items())
        ):
            return True
        return super().schedules_equal(old_schedules, new_schedules)
