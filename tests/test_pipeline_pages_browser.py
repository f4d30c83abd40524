"""The pipeline pages in Chromium: list with follow (htmx), the pipeline page, every configure tab (the
permission cascade through htmx, A4), the create flow (P2). Screenshots land in ``test-artifacts/``."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pipelines import services
from tests.browser import assert_no_browser_errors, login
from tests.browser import screenshot as _screenshot
from tests.test_pipeline_pages import SECRET, sample_definition

pytestmark = [pytest.mark.browser]


def screenshot(page, name):
    page.evaluate("window.scrollTo(0, 0)")
    return _screenshot(page, name)


@pytest.fixture
def pipelines(world):
    developer, manager = world.users["developer"], world.users["manager"]
    main = services.create_pipeline(developer, world.project, sample_definition())
    services.create_pipeline(manager, world.project, {"name": "nightly-report", "stages": []})
    services.update_pipeline(developer, main, {"description": "Builds and checks the web app"}, partial=True)
    return main


def test_list_page_and_tabs(page, live_server, world, pipelines):
    pipeline = pipelines
    login(page, live_server.url, "manager", "pw-manager")
    page.goto("/pipelines/")
    table = page.get_by_test_id("pipeline-table")
    expect(table.locator("tr[data-pipeline]")).to_have_count(2)
    follow = page.get_by_test_id(f"follow-{pipeline.pk}")
    follow.get_by_role("button").click()
    expect(page.get_by_test_id(f"follow-{pipeline.pk}").locator('[data-following="1"]')).to_be_visible()
    screenshot(page, "pipelines-list")

    page.goto(f"/projects/{world.project.pk}/pipelines/?filter=mine")
    expect(page.get_by_test_id("pipeline-table").locator("tr[data-pipeline]")).to_have_count(1)
    screenshot(page, "pipelines-project-list-mine")

    base = f"/projects/{world.project.pk}/pipelines/{pipeline.pk}/"
    page.goto(base)
    expect(page.get_by_test_id("workflow-stage")).to_have_count(2)
    screenshot(page, "pipeline-page")

    for tab in ("basic", "parameters", "triggers", "notifications", "history"):
        page.goto(base + f"settings/{tab}/")
        expect(page.locator(f'[data-tab="{tab}"].active')).to_be_visible()
        assert SECRET not in page.content()
        screenshot(page, f"pipeline-settings-{tab}")

    page.goto(base + "settings/history/2/")
    expect(page.get_by_test_id("version-diff")).to_contain_text("Builds and checks the web app")
    screenshot(page, "pipeline-settings-diff")

    page.goto(base + "settings/permissions/")
    tester = page.locator("#perm-role-tester")
    expect(tester.locator('input[name="role-tester-execute"]')).to_be_checked()
    tester.locator('input[name="role-tester-delete"]').check()  # A4: delete on -> modify and execute on
    expect(page.locator("#perm-role-tester").locator('input[name="role-tester-modify"]')).to_be_checked()
    page.locator("#perm-role-tester").locator('input[name="role-tester-execute"]').uncheck()  # -> all off
    expect(page.locator("#perm-role-tester").locator('input[name="role-tester-delete"]')).not_to_be_checked()
    expect(page.locator("#perm-role-tester").locator('input[name="role-tester-modify"]')).not_to_be_checked()
    expect(page.locator("#perm-role-tester").locator('input[name="role-tester-view"]')).to_be_disabled()
    screenshot(page, "pipeline-settings-permissions")
    assert_no_browser_errors(page)


def test_parameter_form_and_create_flow(page, live_server, world, pipelines):
    pipeline = pipelines
    login(page, live_server.url, "developer", "pw-developer")
    page.goto(f"/projects/{world.project.pk}/pipelines/{pipeline.pk}/settings/parameters/?edit=token")
    form = page.get_by_test_id("parameter-form")
    expect(form.locator('input[name="secret_value"]')).to_be_visible()
    expect(form.locator('input[name="secret_value"]')).to_have_value("")
    expect(form.locator('input[name="default"]')).to_be_hidden()
    screenshot(page, "pipeline-settings-parameter-edit")
    page.goto(f"/projects/{world.project.pk}/pipelines/{pipeline.pk}/settings/parameters/")
    form = page.get_by_test_id("parameter-form")
    form.locator('input[name="name"]').fill("env")
    form.locator('select[name="type"]').select_option("enum")
    expect(form.locator('input[name="choices"]')).to_be_visible()
    form.locator('input[name="choices"]').fill("dev, prod")
    form.locator('input[name="default"]').fill("qa")
    with page.expect_navigation():
        form.get_by_role("button", name="Add parameter").click()
    expect(page.locator('[data-field-error="default"]')).to_contain_text("one of the choices")
    screenshot(page, "pipeline-settings-parameter-error")

    page.goto(f"/projects/{world.project.pk}/pipelines/new/")
    form = page.get_by_test_id("create-form")
    expect(form.get_by_test_id("git-fields")).to_be_hidden()
    form.get_by_label("Generic Git").check()
    expect(form.get_by_test_id("git-fields")).to_be_visible()
    form.get_by_test_id("load-branches").click()  # htmx: no endpoint chosen -> a field error, no page change
    expect(page.locator('#branch-box [data-field-error="default_branch"]')).to_be_visible()
    screenshot(page, "pipeline-create-step1")
    form.get_by_label("None").check()
    form.locator('input[name="name"]').fill("api-service")
    with page.expect_navigation():
        form.get_by_test_id("next").click()
    expect(page.get_by_test_id("template-choices")).to_be_visible()
    screenshot(page, "pipeline-create-step2")
    with page.expect_navigation():
        page.get_by_test_id("create").click()
    assert "/pipelines/" in page.url and "/new/" not in page.url
    screenshot(page, "pipeline-created")
    assert_no_browser_errors(page)
