"""Acceptance test of the foundation: log in, create a project, add a member, switch to Chinese — in Chromium."""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from devops_console.core.models import Membership, Project, Role
from tests.browser import assert_no_browser_errors, login, screenshot

pytestmark = pytest.mark.browser


def test_login_create_project_add_member_switch_to_chinese(page, live_server, compiled_translations):
    User = get_user_model()
    User.objects.create_user(username="alice", password="alice-Secret-1")
    User.objects.create_user(username="bob", password="bob-Secret-1")
    base = live_server.url

    # Log in through the login form.
    page.goto(f"{base}/login/")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    screenshot(page, "foundation-01-login")
    login(page, base, "alice", "alice-Secret-1")
    expect(page.get_by_test_id("user-menu")).to_contain_text("alice")
    screenshot(page, "foundation-02-home")

    # Projects › New project: an empty name is refused at the field, then the project is created.
    page.get_by_test_id("nav-projects").click()
    expect(page).to_have_url(f"{base}/projects/")
    screenshot(page, "foundation-03-projects-empty")
    page.get_by_test_id("new-project").click()
    expect(page).to_have_url(f"{base}/projects/new/")
    form = page.get_by_test_id("project-form")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(form.locator('[data-field-error="name"]')).to_have_text("This field is required.")
    expect(form.locator("input[name=name]")).to_have_class(re.compile(r"\bis-invalid\b"))
    screenshot(page, "foundation-04-project-form-error")
    assert not Project.objects.exists()

    form.locator("input[name=name]").fill("Payments")
    form.locator("textarea[name=description]").fill("Card payments service")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    project = Project.objects.get(name="Payments")
    expect(page).to_have_url(f"{base}/projects/{project.pk}/")
    expect(page.locator("main h1")).to_have_text("Payments")
    expect(page.get_by_role("alert")).to_contain_text("Payments")
    screenshot(page, "foundation-05-project-created")

    # Settings › General › Members: add bob as Tester.
    sidebar = page.get_by_test_id("project-sidebar")
    sidebar.get_by_test_id("nav-members").click()
    expect(page).to_have_url(f"{base}/projects/{project.pk}/settings/members/")
    add_form = page.get_by_test_id("add-member-form")
    add_form.locator("input[name=username]").fill("bob")
    add_form.locator("select[name=role]").select_option(label="Tester")
    with page.expect_navigation():
        add_form.locator("button[type=submit]").click()
    bob_row = page.get_by_test_id("members-table").locator('tr[data-member="bob"]')
    expect(bob_row).to_be_visible()
    expect(bob_row.locator("select[name=role]")).to_have_value(Role.TESTER)
    expect(page.get_by_test_id("members-table").locator('tr[data-member="alice"]')).to_contain_text("Project creator")
    expect(page.get_by_role("alert")).to_contain_text("bob")
    screenshot(page, "foundation-06-member-added")
    assert Membership.objects.get(project=project, user__username="bob").role == Role.TESTER

    # User menu › language: 中文 — the navigation is now in Chinese.
    page.get_by_test_id("user-menu").click()
    language = page.get_by_test_id("language-select")
    expect(language).to_be_visible()
    screenshot(page, "foundation-07-user-menu")
    with page.expect_navigation():
        language.select_option(label="中文")
    expect(page).to_have_url(f"{base}/projects/{project.pk}/settings/members/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_test_id("topnav")).to_contain_text("流水线")
    expect(page.get_by_test_id("project-sidebar")).to_contain_text("成员")
    screenshot(page, "foundation-08-chinese")

    assert_no_browser_errors(page)
