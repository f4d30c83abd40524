"""Acceptance test of the service endpoint pages in Chromium (SPEC §2): create a Generic Git endpoint with a
CA bundle (E1), see a field-level error and fix it (E6), verify it against a REAL Git server over HTTPS and a
REAL Docker registry (E7: the "Normal" badge), create a Kubernetes endpoint from an uploaded kubeconfig, and
check that no secret reaches a page (E5); then scope (E3), a refused delete (E8) and a viewer's view."""

from __future__ import annotations

import re

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from playwright.sync_api import expect

from devops_console.core import services as core_services
from devops_console.core.models import Membership, Project, Role
from endpoints.models import EndpointUsage, ServiceEndpoint
from tests.browser import assert_no_browser_errors, login
from tests.browser import screenshot as _screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KUBE_TOKEN = "kube-browser-Token-7731"


def kubeconfig() -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "prod",
            "clusters": [{"name": "prod", "cluster": {"server": "https://10.0.0.1:6443"}}],
            "users": [{"name": "deployer", "user": {"token": KUBE_TOKEN}}],
            "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "deployer"}}],
        }
    )


def screenshot(page, name: str):
    """Full-page screenshot from the top (the sticky top bar would otherwise be drawn mid-page)."""
    page.evaluate("window.scrollTo(0, 0)")
    return _screenshot(page, name)


def open_create_form(page, type_label: str):
    page.get_by_test_id("create-endpoint").get_by_role("button", name="Create Endpoint").click()
    menu = page.get_by_test_id("create-endpoint").locator(".dropdown-menu")
    expect(menu).to_be_visible()
    with page.expect_navigation():
        menu.get_by_role("link", name=re.compile(type_label)).click()
    return page.get_by_test_id("endpoint-form")


def submit(page, form):
    with page.expect_navigation():
        form.get_by_test_id("endpoint-submit").click()


def verify_and_expect_normal(page):
    page.get_by_test_id("verify-button").click()  # htmx swaps just the status block
    status = page.get_by_test_id("endpoint-status")
    expect(status.locator(".status-badge")).to_have_text("Normal", timeout=20_000)
    expect(status.locator(".status-badge")).to_have_class(re.compile(r"\bstatus-normal\b"))


def test_create_three_endpoints_fix_an_error_and_verify(
    page, live_server, tmp_path, git_server, docker_registry, compiled_translations
):
    user = get_user_model().objects.create_user(username="alice", password="alice-Secret-1")
    project = core_services.create_project(user, "Payments", "Card payments")
    base = live_server.url
    login(page, base, "alice", "alice-Secret-1")

    # Settings › General › Service Endpoints: empty at first, every type offered.
    page.goto(f"{base}/projects/{project.pk}/")
    page.get_by_test_id("project-sidebar").get_by_test_id("nav-endpoints").click()
    expect(page).to_have_url(f"{base}/projects/{project.pk}/settings/endpoints/")
    expect(page.get_by_test_id("endpoints-empty")).to_be_visible()
    screenshot(page, "endpoints-01-empty")

    # --- Generic Git with a CA bundle; first an http:// URL, refused at the URL field.
    form = open_create_form(page, "Generic Git")
    expect(page.locator("main h1")).to_contain_text("Generic Git")
    form.locator("input[name=name]").fill("app-repo")
    http_url = git_server.repo_url("org/app.git").replace("https://", "http://").replace("127.0.0.1", "git.example")
    form.locator("input[name=url]").fill(http_url)
    form.locator("input[name=username]").fill(git_server.username)
    form.locator("input[name=password]").fill(git_server.password)
    form.get_by_text("Public (all project members)").click()
    form.get_by_test_id("advanced").locator("summary").click()
    form.locator("textarea[name=ca_bundle]").fill(git_server.ca_pem)
    screenshot(page, "endpoints-02-git-form")
    submit(page, form)
    error = form.locator('[data-field-error="url"]')
    expect(error).to_contain_text("https://")
    expect(form.locator("input[name=url]")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(form.locator("input[name=password]")).to_have_value("")  # a secret is never rendered back (E5)
    expect(form.locator('[data-reenter="password"]')).to_be_visible()
    expect(form.locator("textarea[name=ca_bundle]")).to_contain_text("BEGIN CERTIFICATE")  # plain fields are kept
    assert not ServiceEndpoint.objects.exists()
    screenshot(page, "endpoints-03-git-url-error")

    form.locator("input[name=url]").fill(git_server.repo_url("org/app.git"))
    form.locator("input[name=password]").fill(git_server.password)
    submit(page, form)
    git = ServiceEndpoint.objects.get(name="app-repo")
    expect(page).to_have_url(f"{base}/projects/{project.pk}/settings/endpoints/{git.pk}/")
    expect(page.get_by_role("alert")).to_contain_text("app-repo")
    expect(page.get_by_test_id("endpoint-status").locator(".status-badge")).to_have_text("Never checked")
    assert git.ca_bundle.strip() == git_server.ca_pem.strip() and git.scope == "public"
    verify_and_expect_normal(page)
    expect(page.get_by_test_id("status-detail")).to_be_visible()
    screenshot(page, "endpoints-04-git-verified")
    git.refresh_from_db()
    assert git.status == 0 and git.checked_at is not None

    # --- Docker repository against the real registry: first without a password (required), then fixed.
    page.get_by_role("link", name="Service Endpoints").first.click()
    form = open_create_form(page, "Docker repository")
    form.locator("input[name=name]").fill("images")
    form.locator("input[name=url]").fill(docker_registry.url)
    form.locator("input[name=username]").fill(docker_registry.username)
    submit(page, form)
    expect(form.locator('[data-field-error="password"]')).to_contain_text("required")
    expect(form.locator("input[name=url]")).to_have_value(docker_registry.url)  # plain fields are kept
    form.locator("input[name=password]").fill(docker_registry.password)
    submit(page, form)
    docker = ServiceEndpoint.objects.get(name="images")
    expect(page).to_have_url(f"{base}/projects/{project.pk}/settings/endpoints/{docker.pk}/")
    verify_and_expect_normal(page)
    screenshot(page, "endpoints-05-docker-verified")

    # --- Kubernetes from an uploaded kubeconfig file.
    page.goto(f"{base}/projects/{project.pk}/settings/endpoints/")
    form = open_create_form(page, "Kubernetes")
    form.locator("input[name=name]").fill("prod-cluster")
    form.locator("input[name=url]").fill("https://api.prod.example:6443")
    config_file = tmp_path / "config"
    config_file.write_text(kubeconfig())
    form.locator("input[name=kubeconfig_file]").set_input_files(str(config_file))
    screenshot(page, "endpoints-06-kubernetes-form")
    submit(page, form)
    kube = ServiceEndpoint.objects.get(name="prod-cluster")
    expect(page).to_have_url(f"{base}/projects/{project.pk}/settings/endpoints/{kube.pk}/")
    assert kube.credential.secret == kubeconfig()
    expect(page.get_by_test_id("endpoint-fields").locator('[data-field="kubeconfig"]')).to_contain_text("set · updated")
    screenshot(page, "endpoints-07-kubernetes-detail")

    # The list: three endpoints, two verified Normal, one never checked; the dropdown lists every type.
    page.get_by_test_id("project-sidebar").get_by_test_id("nav-endpoints").click()
    table = page.get_by_test_id("endpoint-table")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.locator('tr[data-endpoint="app-repo"] .status-badge')).to_have_text("Normal")
    expect(table.locator('tr[data-endpoint="images"] .status-badge')).to_have_text("Normal")
    expect(table.locator('tr[data-endpoint="prod-cluster"] .status-badge')).to_have_text("Never checked")
    screenshot(page, "endpoints-08-list")
    page.get_by_test_id("create-endpoint").get_by_role("button").click()
    expect(page.get_by_test_id("create-endpoint").locator(".dropdown-item")).to_have_count(9)
    screenshot(page, "endpoints-09-create-menu")
    page.keyboard.press("Escape")

    # Edit: the secret is not shown, "set · updated" is; leaving it empty keeps it.
    page.goto(f"{base}/projects/{project.pk}/settings/endpoints/{git.pk}/edit/")
    form = page.get_by_test_id("endpoint-form")
    expect(form.locator("input[name=password]")).to_have_value("")
    expect(form.locator('[data-field="password"] [data-secret-state]')).to_contain_text("set · updated")
    screenshot(page, "endpoints-10-git-edit")
    submit(page, form)
    git.refresh_from_db()
    assert git.credential.secret == git_server.password

    # Credentials page lists the three credentials created with the endpoints.
    page.get_by_test_id("project-sidebar").get_by_test_id("nav-credentials").click()
    expect(page.get_by_test_id("credential-table").locator("tbody tr")).to_have_count(3)
    screenshot(page, "endpoints-11-credentials")

    for secret in (git_server.password, docker_registry.password, KUBE_TOKEN):
        assert secret not in page.content()
    page.get_by_test_id("create-credential").get_by_role("button").click()
    with page.expect_navigation():
        page.get_by_test_id("create-credential").get_by_role("link", name="Kubeconfig").click()
    expect(page.get_by_test_id("credential-form").locator("input[name=secret_file]")).to_be_visible()
    screenshot(page, "endpoints-12-credential-new-kubeconfig")

    # Permissions (E3): the Docker endpoint becomes custom, shared with bob, a viewer.
    bob = get_user_model().objects.create_user(username="bob", password="bob-Secret-1")
    Membership.objects.create(project=project, user=bob, role=Role.VIEWER)
    page.goto(f"{base}/projects/{project.pk}/settings/endpoints/{docker.pk}/")
    with page.expect_navigation():
        page.get_by_test_id("endpoint-permissions").click()
    perms = page.get_by_test_id("permissions-form")
    perms.get_by_label("Custom (listed members)").check()
    perms.get_by_label("bob · Viewer").check()
    screenshot(page, "endpoints-13-permissions")
    with page.expect_navigation():
        perms.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("endpoint-scope")).to_contain_text("bob")

    # Delete refused while a pipeline task uses the endpoint (E8).
    EndpointUsage.objects.create(
        endpoint=git,
        content_type=ContentType.objects.get_for_model(Project),
        object_id=1,
        label="web-app › Build › compile",
    )
    page.goto(f"{base}/projects/{project.pk}/settings/endpoints/{git.pk}/")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_test_id("delete-endpoint").click()
    expect(page.get_by_test_id("delete-refused")).to_contain_text("web-app › Build › compile")
    assert ServiceEndpoint.objects.filter(pk=git.pk).exists()
    screenshot(page, "endpoints-14-delete-refused")
    page.browser_errors[:] = [e for e in page.browser_errors if "HTTP 409" not in e]  # the refusal itself

    # bob sees the endpoint shared with him, without Edit / Delete / Permissions; Verify needs only "use".
    page.context.clear_cookies()
    login(page, base, "bob", "bob-Secret-1")
    page.goto(f"{base}/projects/{project.pk}/settings/endpoints/")
    expect(page.get_by_test_id("endpoint-table").locator("tbody tr")).to_have_count(2)  # public git + custom docker
    page.goto(f"{base}/projects/{project.pk}/settings/endpoints/{docker.pk}/")
    expect(page.get_by_test_id("endpoint-name")).to_contain_text("images")
    for test_id in ("edit-endpoint", "delete-endpoint", "endpoint-permissions"):
        expect(page.get_by_test_id(test_id)).to_have_count(0)
    expect(page.get_by_test_id("verify-button")).to_be_visible()
    screenshot(page, "endpoints-15-viewer-detail")
    assert_no_browser_errors(page)
