"""Acceptance test of Services › Templates in Chromium (SPEC §9): from a project to the template list, the
workflow of a system template (read-only, M1), "Generate pipeline" in two steps (M3) landing on the new
pipeline's page, then a copy edited as YAML with an R8 error shown by path, fixed, and followed."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from devops_console.core import services as core_services
from endpoints import services as endpoint_services
from pipelines.models import Pipeline
from templates_app import system_templates
from templates_app.models import PipelineTemplate
from tests.browser import login
from tests.browser import screenshot as _screenshot
from tests.test_templates_support import KUBECONFIG

pytestmark = [pytest.mark.browser]


def screenshot(page, name: str):
    page.evaluate("window.scrollTo(0, 0)")
    return _screenshot(page, name)


def test_generate_from_a_system_template_and_edit_a_copy(page, live_server):
    system_templates.load()  # a transactional test flushes the migrated rows
    user = get_user_model().objects.create_user(username="alice", password="alice-Secret-1")
    project = core_services.create_project(user, "Shop", "Web shop")
    common = {"scope": "public"}
    git = endpoint_services.create_endpoint(
        user,
        project,
        {
            "name": "shop-repo",
            "type": "git",
            "url": "https://git.example/shop.git",
            "username": "u",
            "password": "pw-123456",
            **common,
        },
    )
    endpoint_services.create_endpoint(
        user,
        project,
        {
            "name": "prod-cluster",
            "type": "kubernetes",
            "url": "https://prod.example:6443",
            "kubeconfig": KUBECONFIG,
            **common,
        },
    )
    base = live_server.url
    login(page, base, "alice", "alice-Secret-1")

    # From the project: the Templates card opens the list for generating into this project.
    page.goto(f"{base}/projects/{project.pk}/")
    with page.expect_navigation():
        page.get_by_test_id("project-templates").get_by_role("link").click()
    expect(page.get_by_test_id("from-project")).to_contain_text("Shop")
    with page.expect_navigation():
        page.get_by_test_id("template-tabs").get_by_role("link", name="System").click()
    rows = page.get_by_test_id("template-table").locator("tbody tr")
    expect(rows).to_have_count(5)
    expect(page.get_by_test_id("edit")).to_have_count(0)  # system templates are read-only (M1)
    screenshot(page, "templates-01-list")

    # The workflow of "Docker image build → deploy": stages as columns.
    row = page.locator('tr[data-template="Docker image build → deploy"]')
    with page.expect_navigation():
        row.get_by_role("link", name="Docker image build → deploy").click()
    expect(page.get_by_test_id("template-workflow").locator(".workflow-stage")).to_have_count(3)
    expect(page.locator('.workflow-task[data-task="Release review"]')).to_be_visible()
    screenshot(page, "templates-02-detail")

    # Generate: step 1 the project, step 2 name, source and the Kubernetes endpoint.
    with page.expect_navigation():
        page.get_by_test_id("generate").first.click()
    step = page.get_by_test_id("generate-project")
    step.locator("select[name=project]").select_option(str(project.pk))
    with page.expect_navigation():
        step.get_by_role("button").click()
    form = page.get_by_test_id("generate-form")
    form.locator("input[name=name]").fill("shop-web")
    form.locator("select[name=endpoint]").select_option(label="shop-repo")
    form.locator("input[name=repository]").fill("org/shop")
    screenshot(page, "templates-03-generate")
    with page.expect_navigation():
        form.get_by_role("button", name="Create pipeline").click()
    expect(form.locator('[data-field-error="deploy_endpoint"]')).to_be_visible()  # still to choose
    form.locator("select[name=deploy_endpoint]").select_option(label="prod-cluster")
    with page.expect_navigation():
        form.get_by_role("button", name="Create pipeline").click()
    pipeline = Pipeline.objects.get(name="shop-web")
    expect(page).to_have_url(f"{base}/projects/{project.pk}/pipelines/{pipeline.pk}/")
    assert pipeline.creator == user and pipeline.definition["sources"][0]["endpoint"] == git.pk

    # Copy it: the copy opens as YAML; a host group parameter is refused by path (R8), then fixed.
    page.goto(f"{base}/templates/{PipelineTemplate.objects.get(key='docker-image').pk}/")
    with page.expect_navigation():
        page.get_by_test_id("copy").click()
    form = page.get_by_test_id("template-form")
    definition = form.locator("textarea[name=definition]")
    original = definition.input_value()
    definition.fill(original.replace("parameters:\n", "parameters:\n- {name: hosts, type: host_group}\n", 1))
    with page.expect_navigation():
        form.get_by_role("button", name="Save").click()
    expect(form.locator('[data-field-error="definition"]').first).to_contain_text(
        re.compile(r"parameters\[0\]\.type: Template parameters can be string, enum or auto-increment")
    )
    screenshot(page, "templates-04-yaml-error")
    definition.fill(original)
    form.locator("input[name=name]").fill("Our image pipeline")
    with page.expect_navigation():
        form.get_by_role("button", name="Save").click()
    expect(page.locator("main h1")).to_contain_text("Our image pipeline")
    page.get_by_test_id("follow").click()
    expect(page.get_by_test_id("unfollow")).to_be_visible()
    page.goto(f"{base}/templates/?followed=1")
    expect(page.get_by_test_id("template-table").locator("tbody tr")).to_have_count(1)
    screenshot(page, "templates-05-followed")
