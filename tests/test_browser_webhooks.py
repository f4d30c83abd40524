"""The Webhooks page in Chromium (T1, T4, T6): configure a push trigger with a path exclude on the
execution-plan tab, generate a secret (shown once), send a delivery that must not trigger to the live
server, read its reason and per-file verdicts in the delivery log (decided by a real worker), and use the
dry-run form."""

from __future__ import annotations

import re
import time

import pytest
import requests
from playwright.sync_api import expect

from pipelines.models import Pipeline
from pipelines.triggers.models import Delivery, WebhookSecret
from tests.browser import assert_no_browser_errors, login
from tests.browser import screenshot as _screenshot
from tests.engine_support import build, make_pipeline, stage

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("celery_worker", "drain_runs")]


def screenshot(page, name: str):
    page.evaluate("window.scrollTo(0, 0)")
    return _screenshot(page, name)


def test_webhooks_page_delivery_log_and_dry_run(page, live_server, world):
    pipeline = make_pipeline(world, [stage("Build", build())], name="web-app")
    base = f"/projects/{world.project.pk}/pipelines/{pipeline.pk}/settings/"
    login(page, live_server.url, "developer", "pw-developer")

    # the execution plan: on push to main, except when only docs/ changed
    page.goto(base + "triggers/")
    form = page.get_by_test_id("triggers-form")
    form.locator("[data-trigger=push] input[name=push_enabled]").check()
    form.locator("textarea[name=push_branches_include]").fill("main\nrelease/*")
    form.locator("textarea[name=push_paths_exclude]").fill("docs/")
    with page.expect_navigation():
        form.get_by_role("button", name="Save execution plan").click()
    expect(page.locator(".alert-success")).to_contain_text("Saved")
    pipeline = Pipeline.objects.get(pk=pipeline.pk)
    assert pipeline.definition["triggers"]["push"]["paths"]["exclude"] == ["docs/"]

    # the Webhooks page: URLs with copy buttons, then a new secret, shown once
    page.goto(base + "webhooks/")
    urls = page.get_by_test_id("webhook-urls")
    expect(urls.locator("[data-provider=gitlab] code")).to_have_text(
        f"{live_server.url}/webhooks/gitlab/{pipeline.pk}/"
    )
    expect(urls.locator("[data-provider=github] button[data-copy]")).to_be_visible()
    expect(page.get_by_test_id("secret-state")).to_contain_text("No secret yet")
    with page.expect_navigation():
        page.get_by_test_id("generate-secret").click()
    secret = page.locator("#new-secret-value").inner_text().strip()
    assert secret.startswith("whsec_")
    screenshot(page, "webhooks-secret-shown-once")

    # a push that only touches docs/ (GitLab style, files listed), sent to the live server
    body = {
        "object_kind": "push", "ref": "refs/heads/main", "before": "a" * 40, "after": "b" * 40,
        "user_username": "dev", "total_commits_count": 1,
        "commits": [{"id": "b" * 40, "message": "Docs", "added": ["docs/new.md"], "modified": ["docs/index.md"],
                     "removed": []}],
    }  # fmt: skip
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret, "X-Gitlab-Event-UUID": "browser-1"}
    response = requests.post(
        f"{live_server.url}/webhooks/gitlab/{pipeline.pk}/", json=body, headers=headers, timeout=10
    )
    assert response.status_code == 202, response.text
    wrong = requests.post(f"{live_server.url}/webhooks/gitlab/{pipeline.pk}/", json=body, timeout=10,
                          headers={**headers, "X-Gitlab-Token": "guess"})  # fmt: skip
    assert wrong.status_code == 401
    deadline = time.monotonic() + 30
    while Delivery.objects.filter(pipeline=pipeline, status="accepted").exists() and time.monotonic() < deadline:
        time.sleep(0.2)

    page.reload()
    expect(page.get_by_test_id("secret-state")).to_contain_text("A secret is set")
    expect(page.get_by_test_id("new-secret")).to_have_count(0)  # shown once; the reload generated nothing
    assert WebhookSecret.objects.get(pipeline=pipeline).secret == secret
    assert secret not in page.content()
    log = page.get_by_test_id("delivery-log")
    row = log.locator("tr[data-status=not_triggered]")
    expect(row.get_by_test_id("delivery-reason")).to_contain_text(
        "branch main is in the include list [main, release/*], but every changed file (2) is excluded by "
        "paths.exclude [docs/]"
    )
    row.locator("summary").click()
    expect(row.locator("tr[data-verdict=excluded]")).to_have_count(2)
    expect(log.locator("tr[data-status=unauthorized]")).to_contain_text("X-Gitlab-Token header does not match")
    screenshot(page, "webhooks-delivery-log")

    # the dry run: the same matching, answered in place (htmx)
    dry = page.get_by_test_id("dry-run-form")
    dry.locator("select[name=event]").select_option("push")
    dry.locator("input[name=branch]").fill("main")
    dry.locator("textarea[name=files]").fill("src/app.py\ndocs/index.md")
    dry.get_by_role("button", name="Try the rules").click()
    verdict = page.get_by_test_id("dry-run-verdict")
    expect(verdict).to_have_attribute("data-triggered", "true")
    expect(verdict).to_contain_text("Would start a run")
    expect(page.get_by_test_id("dry-run-reason")).to_contain_text("1 of 2 changed files are outside paths.exclude")
    dry = page.get_by_test_id("dry-run-form")
    dry.locator("input[name=branch]").fill("feature/x")
    dry.get_by_role("button", name="Try the rules").click()
    expect(page.get_by_test_id("dry-run-verdict")).to_have_attribute("data-triggered", "false")
    expect(page.get_by_test_id("dry-run-reason")).to_have_text(
        re.compile(r"branch feature/x is not in the include list \[main, release/\*\]")
    )
    page.get_by_test_id("dry-run").scroll_into_view_if_needed()
    screenshot(page, "webhooks-dry-run")
    assert_no_browser_errors(page)
