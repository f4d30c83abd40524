"""Execution plan (T1–T5: push, tag, merge request, schedules) and notifications (N1).

Stored here, acted on by the webhook receiver and the scheduler. Patterns use the T4 glob syntax:
``*`` within a segment, ``**`` across segments, ``?`` one character, a trailing ``/`` for a whole tree.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from .base import Checker, is_text, item, join, pattern_problem

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MERGE_REQUEST_EVENTS = ("created", "updated", "merged", "reopened")
MISSED_SCHEDULE_POLICIES = ("skip", "run_latest")
NOTIFICATION_EVENTS = ("pipeline_deleted", "run_failed", "run_succeeded", "config_updated")
MAX_SCHEDULES = 10
MAX_PATTERNS = 100

TRIGGER_KEYS = ("push", "tag", "merge_request", "schedules", "timezone", "missed_schedule_policy")
PUSH_KEYS = ("enabled", "branches", "paths")
TAG_KEYS = ("enabled", "tags")
MERGE_REQUEST_KEYS = ("enabled", "events", "branches", "paths")
FILTER_KEYS = ("include", "exclude")
SCHEDULE_KEYS = ("enabled", "days", "time")
CHANNEL_KEYS = ("in_app", "email")
_TIME_RE = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def _empty_filter() -> dict:
    return {"include": [], "exclude": []}


def empty_triggers() -> dict:
    """No automatic runs: every trigger off, no schedules, the server's time zone."""
    return {
        "push": {"enabled": False, "branches": _empty_filter(), "paths": _empty_filter()},
        "tag": {"enabled": False, "tags": _empty_filter()},
        "merge_request": {
            "enabled": False,
            "events": list(MERGE_REQUEST_EVENTS),
            "branches": _empty_filter(),
            "paths": _empty_filter(),
        },
        "schedules": [],
        "timezone": "",
        "missed_schedule_policy": "skip",
    }


def default_notifications() -> dict:
    """N1 defaults: in-app on, email off, for every event."""
    return {event: {"in_app": True, "email": False} for event in NOTIFICATION_EVENTS}


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_timezone(name: str) -> bool:
    return name in _zones()


def validate_triggers(c: Checker, raw) -> dict:
    path = "triggers"
    triggers = c.obj(raw, path, TRIGGER_KEYS, what=_l("“Triggers”"))
    if triggers is None:
        return empty_triggers()
    push = c.obj(triggers.get("push"), join(path, "push"), PUSH_KEYS, what=_l("The push trigger")) or {}
    p = join(path, "push")
    out_push = {
        "enabled": c.boolean(push, "enabled", p),
        "branches": _filter(c, push, "branches", p),
        "paths": _filter(c, push, "paths", p),
    }
    tag = c.obj(triggers.get("tag"), join(path, "tag"), TAG_KEYS, what=_l("The tag trigger")) or {}
    p = join(path, "tag")
    out_tag = {"enabled": c.boolean(tag, "enabled", p), "tags": _filter(c, tag, "tags", p)}
    p = join(path, "merge_request")
    mr = c.obj(triggers.get("merge_request"), p, MERGE_REQUEST_KEYS, what=_l("The merge request trigger")) or {}
    enabled = c.boolean(mr, "enabled", p)
    out_mr = {
        "enabled": enabled,
        "events": _events(c, mr, p, enabled),
        "branches": _filter(c, mr, "branches", p),
        "paths": _filter(c, mr, "paths", p),
    }
    timezone = c.text(triggers, "timezone", path, max_len=64)
    if timezone and not is_timezone(timezone):
        c.add(
            join(path, "timezone"),
            _(
                "“%(zone)s” is not a known time zone; use a name such as Asia/Shanghai or "
                "UTC, or leave it empty for the server's time zone."
            ),
            zone=timezone[:64],
        )
    return {
        "push": out_push,
        "tag": out_tag,
        "merge_request": out_mr,
        "schedules": _schedules(c, triggers, path),
        "timezone": timezone,
        "missed_schedule_policy": c.choice(
            triggers, "missed_schedule_policy", path, MISSED_SCHEDULE_POLICIES, default="skip"
        ),
    }


def _filter(c: Checker, obj: dict, key: str, path: str) -> dict:
    """{include: [...], exclude: [...]} of patterns."""
    p = join(path, key)
    value = c.obj(obj.get(key), p, FILTER_KEYS, what=_l("“%(name)s”") % {"name": key})
    if value is None:
        return _empty_filter()
    return {side: _patterns(c, value, side, p) for side in FILTER_KEYS}


def _patterns(c: Checker, obj: dict, key: str, path: str) -> list[str]:
    p = join(path, key)
    out: list[str] = []
    for index, value in enumerate(c.items(obj, key, path, limit=MAX_PATTERNS, what=_l("Patterns"))):
        if not is_text(value):
            c.add(item(p, index), _("Each pattern must be text, such as main, release/* or docs/."))
            continue
        problem = pattern_problem(value)
        if problem:
            c.add(item(p, index), problem)
        elif value not in out:
            out.append(value)
    return out


def _events(c: Checker, obj: dict, path: str, enabled: bool) -> list[str]:
    p = join(path, "events")
    value = obj.get("events")
    if value is None:
        return list(MERGE_REQUEST_EVENTS)
    if not isinstance(value, list) or len(value) > 20:
        c.add(p, _("“Events” must be a list of: %(events)s."), events=", ".join(MERGE_REQUEST_EVENTS))
        return []
    chosen = set()
    for index, event in enumerate(value):
        if isinstance(event, str) and event in MERGE_REQUEST_EVENTS:
            chosen.add(event)
        else:
            c.add(
                item(p, index),
                _("Unknown merge request event; use %(events)s."),
                events=", ".join(MERGE_REQUEST_EVENTS),
            )
    if enabled and not chosen and len(value) == 0:
        c.add(p, _("Choose at least one merge request event, or turn the trigger off."))
    return [event for event in MERGE_REQUEST_EVENTS if event in chosen]


def _schedules(c: Checker, triggers: dict, path: str) -> list[dict]:
    """T5: at most 10 time points, each with days of the week and a time of day."""
    out = []
    base = join(path, "schedules")
    for index, value in enumerate(c.items(triggers, "schedules", path, limit=MAX_SCHEDULES, what=_l("Schedules"))):
        p = item(base, index)
        schedule = c.obj(value, p, SCHEDULE_KEYS, what=_l("A schedule"), required=True)
        if schedule is None:
            continue
        days_value = schedule.get("days")
        chosen = set()
        if isinstance(days_value, list) and len(days_value) <= 7 * 3:
            for d_index, day in enumerate(days_value):
                if isinstance(day, str) and day in DAYS:
                    chosen.add(day)
                else:
                    c.add(item(join(p, "days"), d_index), _("Days are mon, tue, wed, thu, fri, sat and sun."))
            if not days_value:
                c.add(join(p, "days"), _("Choose at least one day of the week."))
        elif days_value is None:
            c.add(join(p, "days"), _("Choose at least one day of the week."))
        else:
            c.add(join(p, "days"), _("“Days” must be a list of mon, tue, wed, thu, fri, sat, sun."))
        time = c.text(schedule, "time", p, max_len=5, required=True, hint=_l("Use HH:MM, from 00:00 to 23:59."))
        if time and not _TIME_RE.fullmatch(time):
            c.add(join(p, "time"), _("“Time” must be HH:MM on a 24-hour clock, from 00:00 to 23:59."))
        out.append(
            {
                "enabled": c.boolean(schedule, "enabled", p, default=True),
                "days": [day for day in DAYS if day in chosen],
                "time": time,
            }
        )
    return out


def validate_notifications(c: Checker, raw) -> dict:
    """N1: each event has in-app and email switches; missing ones take the defaults."""
    path = "notifications"
    out = default_notifications()
    value = c.obj(raw, path, NOTIFICATION_EVENTS, what=_l("“Notifications”"))
    if not value:
        return out
    for event in NOTIFICATION_EVENTS:
        p = join(path, event)
        channels = c.obj(value.get(event), p, CHANNEL_KEYS, what=_l("A notification event"))
        if channels:
            out[event] = {
                "in_app": c.boolean(channels, "in_app", p, default=True),
                "email": c.boolean(channels, "email", p, default=False),
            }
    return out
