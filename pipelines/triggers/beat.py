"""The beat scheduler (T5): django-celery-beat's ``DatabaseScheduler``, cheap per due entry.

Celery's beat sends one due entry per tick, as a message of its own, and before each tick the database
scheduler asks the database whether any entry changed and compares the whole schedule with the previous
tick's, entry by entry. With every pipeline's point at 02:00 that is, for each of the hundreds of entries of
the instant, a query, a comparison of all entries and a message to publish (about 2 ms of beat's CPU), and
then a task for a worker that mostly finds its slot claimed already — measured with 200 due entries and two
beats, half of a 2-core machine's CPU in the first half second, taken from the workers that start the runs
(``bench/schedules.py``). Here:

- the database is asked about changes at most once a second (beat's own wake-up interval is 5 s: an edit
  of a schedule is still picked up well within it);
- when the schedule holds the very same entry objects as at the previous tick (nothing was re-read from the
  database), it is equal without comparing them field by field;
- schedule entries (``triggers.fire_schedule``) due together are sent together: the first of a burst at
  once, alone — its task claims every point due at that instant (``schedules._sweep``) — and the others as
  one ``triggers.fire_schedules`` message of up to ``MAX_BATCH`` entries as soon as nothing more is due, so
  a burst costs beat and the workers a few messages instead of one per point. Each entry is still reserved
  one by one (its ``last_run_at`` and run count, as Django admin shows them). An entry lost with a message
  that could not be sent is fired by the minutely scan 30 s later (``schedules.BACKSTOP_AFTER``).
"""

from __future__ import annotations

import logging
import time

from django_celery_beat.schedulers import DatabaseScheduler

from pipelines.triggers.schedules import BATCH_TASK_NAME, TASK_NAME

logger = logging.getLogger(__name__)
CHANGE_CHECK_SECONDS = 1.0
MAX_BATCH = 100  # entries per message: about 10 kB of JSON


class Scheduler(DatabaseScheduler):
    """``DatabaseScheduler`` with the per-tick costs above bounded (``CELERY_BEAT_SCHEDULER``)."""

    _change_checked: float | None = None

    def __init__(self, *args, **kwargs):
        self._batches: dict[tuple, list] = {}  # routing options → entries waiting to be sent together
        self._in_burst = False  # a schedule entry went out since beat last had nothing due
        super().__init__(*args, **kwargs)

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

    def apply_entry(self, entry, producer=None):
        if entry.task != TASK_NAME:
            return super().apply_entry(entry, producer=producer)
        if not self._in_burst:  # the first of a burst: at once, alone (its task sweeps the instant)
            self._in_burst = True
            return super().apply_entry(entry, producer=producer)
        options = {k: v for k, v in entry.options.items() if k != "headers"}
        key = tuple(sorted(options.items()))
        batch = self._batches.setdefault(key, [])
        batch.append(entry)
        if len(batch) >= MAX_BATCH:
            self._send_batch(key)

    def tick(self, *args, **kwargs):
        delay = super().tick(*args, **kwargs)
        if delay:  # nothing more is due now: send what waits
            self.flush_batches()
            self._in_burst = False
        return delay

    def flush_batches(self) -> None:
        for key in list(self._batches):
            self._send_batch(key)

    def _send_batch(self, key: tuple) -> None:
        entries = self._batches.pop(key, [])
        if not entries:
            return
        try:
            self.send_task(
                BATCH_TASK_NAME,
                kwargs={"entries": [entry.kwargs for entry in entries]},
                producer=self.producer,
                headers={"celery_beat_task": True},
                **dict(key),
            )
        except Exception:  # beat goes on; the scan fires these slots (schedules.BACKSTOP_AFTER)
            logger.exception("could not send %s due schedule entries", len(entries))

    def close(self):
        self.flush_batches()
        super().close()
