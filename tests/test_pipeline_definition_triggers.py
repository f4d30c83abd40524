"""Execution plan (T1–T5) and notifications (N1) of the pipeline definition."""

from __future__ import annotations

import pytest

from pipelines.definition import default_notifications, empty_triggers
from tests.test_pipeline_definition import API_EXAMPLE, assert_error, check_valid, doc


def triggers_of(triggers) -> dict:
    return check_valid(doc(triggers=triggers))[0]["triggers"]


def test_empty_triggers_shape():
    """T1–T5 defaults: every trigger off, all merge request events, no schedules, server time zone, skip."""
    assert empty_triggers() == {
        "push": {"enabled": False, "branches": {"include": [], "exclude": []}, "paths": {"include": [], "exclude": []}},
        "tag": {"enabled": False, "tags": {"include": [], "exclude": []}},
        "merge_request": {
            "enabled": False,
            "events": ["created", "updated", "merged", "reopened"],
            "branches": {"include": [], "exclude": []},
            "paths": {"include": [], "exclude": []},
        },
        "schedules": [],
        "timezone": "",
        "missed_schedule_policy": "skip",
    }
    assert empty_triggers() is not empty_triggers()


def test_partial_triggers_are_filled():
    triggers = triggers_of(
        {
            "push": {"enabled": True, "branches": {"include": ["main"]}},
            "schedules": [{"days": ["fri", "mon", "mon"], "time": "23:59"}],
        }
    )
    assert triggers["push"] == {
        "enabled": True,
        "branches": {"include": ["main"], "exclude": []},
        "paths": {"include": [], "exclude": []},
    }
    assert triggers["tag"] == empty_triggers()["tag"]
    assert triggers["schedules"] == [{"enabled": True, "days": ["mon", "fri"], "time": "23:59"}]


def test_api_example_triggers_round_trip():
    assert triggers_of(API_EXAMPLE["triggers"]) == API_EXAMPLE["triggers"]


@pytest.mark.parametrize(
    "pattern", ["main", "release/*", "**/*.md", "docs/", "v?.*", "feature/**", "src/app.py", "中文/分支"]
)
def test_valid_patterns(pattern):
    """T4 pattern syntax: exact names, *, **, ?, trailing /."""
    check_valid(doc(triggers={"push": {"branches": {"include": [pattern]}, "paths": {"exclude": [pattern]}}}))


@pytest.mark.parametrize(
    "pattern, fragment",
    [
        ("", "empty"),
        (" main", "spaces"),
        ("main ", "spaces"),
        ("a/***", "***"),
        ("docs//x", "//"),
        ("x" * 201, "200"),
        ("a\nb", "line breaks"),
        (7, "text"),
        (None, "text"),
    ],
)
def test_invalid_patterns(pattern, fragment):
    """T4: patterns are non-empty, ≤ 200, no spaces at the ends, no “***”, no empty segment “//”."""
    assert_error(
        doc(triggers={"push": {"paths": {"include": ["ok", pattern]}}}), "triggers.push.paths.include[1]", fragment
    )
    assert_error(doc(triggers={"tag": {"tags": {"exclude": [pattern]}}}), "triggers.tag.tags.exclude[0]", fragment)
    assert_error(
        doc(triggers={"merge_request": {"branches": {"include": [pattern]}}}),
        "triggers.merge_request.branches.include[0]",
        fragment,
    )


def test_at_most_100_patterns_per_list():
    patterns = [f"b{i}" for i in range(101)]
    assert_error(
        doc(triggers={"push": {"branches": {"exclude": patterns}}}),
        "triggers.push.branches.exclude[100]",
        "at most 100",
    )
    check_valid(doc(triggers={"push": {"branches": {"exclude": patterns[:100]}}}))


def test_duplicate_patterns_are_merged():
    assert triggers_of({"tag": {"tags": {"include": ["v*", "v*"]}}})["tag"]["tags"]["include"] == ["v*"]


@pytest.mark.parametrize(
    "triggers, path, fragment",
    [
        ({"pull": {}}, "triggers.pull", "Unknown field"),
        ({"push": {"enabled": "on"}}, "triggers.push.enabled", "true or false"),
        ({"push": {"branch": ["main"]}}, "triggers.push.branch", "Unknown field"),
        ({"push": {"branches": ["main"]}}, "triggers.push.branches", "object"),
        ({"push": {"branches": {"include": "main"}}}, "triggers.push.branches.include", "list"),
        ({"push": {"branches": {"only": ["main"]}}}, "triggers.push.branches.only", "Unknown field"),
        ({"push": True}, "triggers.push", "object"),
        ({"tag": {"branches": {}}}, "triggers.tag.branches", "Unknown field"),
        ({"merge_request": {"events": ["opened"]}}, "triggers.merge_request.events[0]", "created, updated"),
        ({"merge_request": {"events": "created"}}, "triggers.merge_request.events", "list"),
        ({"merge_request": {"enabled": True, "events": []}}, "triggers.merge_request.events", "at least one"),
        ({"timezone": "Mars/Olympus"}, "triggers.timezone", "not a known time zone"),
        ({"timezone": "../../etc/passwd"}, "triggers.timezone", "not a known time zone"),
        ({"timezone": 8}, "triggers.timezone", "text"),
        ({"missed_schedule_policy": "run_all"}, "triggers.missed_schedule_policy", "skip, run_latest"),
    ],
)
def test_trigger_rules(triggers, path, fragment):
    """T1 push, T2 tag, T3 merge request (events ⊆ created/updated/merged/reopened), T5 time zone."""
    assert_error(doc(triggers=triggers), path, fragment)


def test_merge_request_events_are_normalized():
    """T3: events in canonical order, duplicates merged; an empty list is fine while the trigger is off."""
    triggers = triggers_of({"merge_request": {"enabled": True, "events": ["merged", "created", "merged"]}})
    assert triggers["merge_request"]["events"] == ["created", "merged"]
    assert triggers_of({"merge_request": {"events": []}})["merge_request"]["events"] == []


@pytest.mark.parametrize("zone", ["", "UTC", "Asia/Shanghai", "Europe/Berlin", "America/Argentina/Buenos_Aires"])
def test_valid_timezones(zone):
    """T5 beyond: a time zone per pipeline ("" = the server's)."""
    assert triggers_of({"timezone": zone})["timezone"] == zone


# --------------------------------------------------------------------------- schedules (T5)


def _schedule(**fields):
    return {"enabled": True, "days": ["mon"], "time": "02:30", **fields}


def test_eleventh_schedule_is_refused():
    """T5: up to 10 time points; the 11th is an error on triggers.schedules[10]."""
    schedules = [_schedule(time=f"0{i}:00") for i in range(10)] + [_schedule(time="12:00")]
    errs = assert_error(doc(triggers={"schedules": schedules}), "triggers.schedules[10]", "at most 10")
    assert list(errs) == ["triggers.schedules[10]"]
    assert len(triggers_of({"schedules": schedules[:10]})["schedules"]) == 10


@pytest.mark.parametrize(
    "schedule, path, fragment",
    [
        (_schedule(time="24:00"), "time", "00:00 to 23:59"),
        (_schedule(time="2:30"), "time", "HH:MM"),
        (_schedule(time="02:60"), "time", "HH:MM"),
        (_schedule(time=""), "time", "required"),
        (_schedule(time=230), "time", "text"),
        (_schedule(days=[]), "days", "at least one day"),
        (_schedule(days=None), "days", "at least one day"),
        (_schedule(days="mon"), "days", "list"),
        (_schedule(days=["monday"]), "days[0]", "mon, tue"),
        (_schedule(enabled="yes"), "enabled", "true or false"),
        (_schedule(cron="* * * * *"), "cron", "Unknown field"),
    ],
)
def test_schedule_rules(schedule, path, fragment):
    """T5: each schedule has on/off, non-empty days of the week and a time HH:MM 00:00–23:59."""
    assert_error(doc(triggers={"schedules": [schedule]}), f"triggers.schedules[0].{path}", fragment)


@pytest.mark.parametrize("time", ["00:00", "23:59", "12:05"])
def test_schedule_times(time):
    assert triggers_of({"schedules": [_schedule(time=time)]})["schedules"][0]["time"] == time


def test_disabled_schedule_is_kept():
    assert triggers_of({"schedules": [_schedule(enabled=False)]})["schedules"][0]["enabled"] is False


# --------------------------------------------------------------------------- notifications (N1)


def test_notification_defaults():
    """N1: in-app on and email off for pipeline_deleted, run_failed, run_succeeded, config_updated."""
    assert default_notifications() == {
        "pipeline_deleted": {"in_app": True, "email": False},
        "run_failed": {"in_app": True, "email": False},
        "run_succeeded": {"in_app": True, "email": False},
        "config_updated": {"in_app": True, "email": False},
    }


def test_partial_notifications_are_filled():
    notifications = check_valid(
        doc(notifications={"run_failed": {"email": True}, "config_updated": {"in_app": False}})
    )[0]["notifications"]
    assert notifications["run_failed"] == {"in_app": True, "email": True}
    assert notifications["config_updated"] == {"in_app": False, "email": False}
    assert notifications["pipeline_deleted"] == {"in_app": True, "email": False}


@pytest.mark.parametrize(
    "notifications, path, fragment",
    [
        ({"run_failed": {"email": "yes"}}, "notifications.run_failed.email", "true or false"),
        ({"run_failed": {"sms": True}}, "notifications.run_failed.sms", "Unknown field"),
        ({"run_started": {"email": True}}, "notifications.run_started", "Unknown field"),
        ({"run_failed": True}, "notifications.run_failed", "object"),
    ],
)
def test_notification_rules(notifications, path, fragment):
    """N1: only the four events and the two channels, each a boolean."""
    assert_error(doc(notifications=notifications), path, fragment)
