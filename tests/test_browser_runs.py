"""Browser acceptance test of running a pipeline on a real worker (X1, X2, X5; seed 002 §1.4–1.5).

A developer opens the run dialog, sets a runtime parameter and starts the run; the run page shows the
build's log growing live (the parameter's value first, then a line every 0.3 s, with ANSI colours) without
a reload; Stop stops it; Retry from failure runs it again (stopped again to finish quickly); the history
lists the run. Screenshots go to test-artifacts/runs-*.png.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from pipelines.runs.models import Run
from tests.browser import assert_no_browser_errors, login, screenshot
from tests.engine_support import build, make_pipeline, stage

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker", "drain_runs"),
]

COMMANDS = (
    "echo \"greeting is ${greeting}\"; printf '\\033[1;32mcoloured output\\033[0m\\n'; "
    'i=1; while [ $i -le 66 ]; do echo "tick $i"; i=$((i+1)); sleep 0.3; done'
)


def log_text(page) -> str:
    return page.get_by_test_id("log").inner_text()


def wait_for_line(page, text: str, timeout: float = 15.0) -> float:
    """Wait until ``text`` is in the log panel; return when it appeared (monotonic)."""
    expect(page.get_by_test_id("log")).to_contain_text(text, timeout=timeout * 1000)
    return time.monotonic()


def test_run_with_parameter_live_log_stop_and_retry(page, live_server, world):
    params = [
        {"name": "greeting", "type": "string", "default": "hello", "runtime": True},
        {"name": "target", "type": "enum", "choices": ["dev", "prod"], "default": "dev", "runtime": True},
    ]
    pipeline = make_pipeline(
        world,
        [stage("Build", build("compile", COMMANDS)), stage("Ship", build("ship"))],
        parameters=params,
        name="live-app",
    )
    page.on("dialog", lambda dialog: dialog.accept())  # "Stop this run?"
    login(page, live_server.url, "developer", "pw-developer")

    # X1: the run dialog with the runtime parameters
    page.goto(f"/projects/{pipeline.project_id}/pipelines/{pipeline.pk}/run/")
    form = page.get_by_test_id("start-form")
    expect(form.locator('[data-task="Build/compile"]')).to_be_checked()
    form.locator("input[name=param__greeting]").fill("hi-from-the-browser")
    form.locator("select[name=param__target]").select_option("prod")
    screenshot(page, "runs-1-start-dialog")
    with page.expect_navigation():
        page.get_by_test_id("start-run").click()
    run = Run.objects.get(pipeline=pipeline)
    assert run.parameters["greeting"] == "hi-from-the-browser" and run.parameters["target"] == "prod"
    expect(page).to_have_url(re.compile(rf"/runs/{run.number}/$"))

    # X2: the log grows live without a reload
    page.evaluate("window.__sameDocument = true")
    wait_for_line(page, "greeting is hi-from-the-browser", timeout=30)
    expect(page.locator("[data-testid=log] .ansi-bold.ansi-fg-2")).to_have_text("coloured output")
    expect(page.get_by_test_id("run-state")).to_have_text("Running")
    seen = wait_for_line(page, "tick 5")
    later = wait_for_line(page, "tick 15")
    assert later - seen < 3.0 + 3.0  # ticks 5→15 take 3 s; each line shows within about a second
    assert page.evaluate("window.__sameDocument") is True  # no reload: appended by htmx polling
    expect(page.locator('[data-testid=run-task][data-task="compile"]')).to_have_attribute("data-state", "running")
    screenshot(page, "runs-2-live-log")

    # X2: stop
    page.get_by_test_id("run-stop").click()
    expect(page.get_by_test_id("run-state")).to_have_text("Stopped", timeout=15_000)
    expect(page.locator('[data-testid=run-task][data-task="ship"]')).to_have_attribute("data-state", "skipped")
    run.refresh_from_db()
    assert run.state == "stopped"
    wait_for_line(page, "[stopped]")
    screenshot(page, "runs-3-stopped")

    # X5: retry from the failure runs the same run again
    page.get_by_test_id("run-retry").click()
    expect(page.get_by_test_id("run-state")).to_have_text(re.compile("Queued|Running"))
    expect(page.get_by_test_id("run-state")).to_have_text("Running", timeout=20_000)
    before = log_text(page).count("greeting is hi-from-the-browser")
    expect(page.get_by_test_id("log")).to_contain_text(re.compile(r"\[stopped\][\s\S]*tick 3"), timeout=20_000)
    assert log_text(page).count("greeting is hi-from-the-browser") >= before
    assert Run.objects.get(pk=run.pk).number == run.number and Run.objects.count() == 1  # the same run
    screenshot(page, "runs-4-retried")
    page.get_by_test_id("run-stop").click()
    expect(page.get_by_test_id("run-state")).to_have_text("Stopped", timeout=15_000)

    # X4: the history lists it
    page.get_by_test_id("history-link").click()
    row = page.locator('[data-testid=run-row][data-number="1"]')
    expect(row).to_contain_text("Stopped")
    expect(row.locator(".state-badge.state-stopped").first).to_be_visible()
    screenshot(page, "runs-5-history")
    assert_no_browser_errors(page)
