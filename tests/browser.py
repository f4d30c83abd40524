"""pytest plugin: Playwright (sync API) driving Debian's Chromium against pytest-django's ``live_server``.

Load it with ``pytest_plugins = ["tests.browser"]`` (root conftest) or ``-p tests.browser``.

* ``browser``           -- session-scoped headless Chromium (``/usr/bin/chromium``); the tests that use it are
                           skipped when that binary is missing, and only then
* ``page``              -- a fresh browser context per test (1280x800, 10 s timeouts, ``base_url`` = live server);
                           records uncaught JS errors and failed requests, screenshots itself when the test fails
* ``compiled_translations`` -- compiles ``locale/*/LC_MESSAGES/*.po`` when a ``.mo`` is missing or stale
* ``login(page, live_server_url, username, password)`` -- logs in through the login form
* ``screenshot(page, name)`` -- full-page PNG in ``test-artifacts/`` (git-ignored); returns its path
* ``assert_no_browser_errors(page)`` -- no uncaught JS error, no 4xx/5xx response (CSS, JS, icon fonts, pages)

Mark browser tests with ``pytest.mark.browser``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

# Playwright's sync API keeps an asyncio event loop "running" in the main thread (it switches greenlets, and
# the running loop is per thread), so from the first browser call on Django believes every ORM call in a test
# body comes from async code and raises SynchronousOnlyOperation. The ORM calls here are plain synchronous
# ones in the test thread: disable the check (this is what Django documents the variable for).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

__all__ = [
    "ARTIFACTS_DIR",
    "CHROMIUM",
    "assert_no_browser_errors",
    "browser",
    "compiled_translations",
    "login",
    "page",
    "screenshot",
]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS_DIR = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
    "--no-first-run",
]
TIMEOUT_MS = 10_000
VIEWPORT = {"width": 1280, "height": 800}

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser() -> Browser:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install chromium) for browser tests")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so ``page`` knows at teardown whether the test failed."""
    report = yield
    setattr(item, f"_browser_report_{report.when}", report)
    return report


@pytest.fixture
def page(request, browser: Browser, live_server) -> Page:
    """A new context per test (no cookies leak between tests); ``page.goto("/login/")`` works (base_url)."""
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    new_page = context.new_page()
    new_page.browser_errors = []  # read by assert_no_browser_errors
    _record_errors(new_page, new_page.browser_errors)
    try:
        yield new_page
    finally:
        report = getattr(request.node, "_browser_report_call", None)
        if report is not None and report.failed and not new_page.is_closed():
            try:
                screenshot(new_page, "FAILED-" + request.node.name)
            except Exception:  # noqa: BLE001 - a failure screenshot must never hide the real error
                pass
        context.close()


def _record_errors(page: Page, errors: list[str]) -> None:
    def on_response(response):
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            errors.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def on_request_failed(request):
        if request.failure != "net::ERR_ABORTED":  # a navigation that replaced the page cancels its requests
            errors.append(f"request failed: {request.url} ({request.failure})")

    page.on("pageerror", lambda exc: errors.append(f"uncaught JS error: {exc}"))
    page.on("response", on_response)
    page.on("requestfailed", on_request_failed)


def login(page: Page, live_server_url: str, username: str, password: str) -> None:
    """Log in through the login form; fails with the form's error when the credentials are refused."""
    login_url = f"{live_server_url}/login/"
    if not page.url.startswith(login_url):
        page.goto(login_url)
    form = page.get_by_test_id("login-form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    if page.url.startswith(login_url):
        errors = page.locator("[data-form-error], [data-field-error]").all_inner_texts()
        raise AssertionError(f"login as {username!r} failed: {errors or 'still on the login page'}")


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as ``test-artifacts/<name>.png`` and return its path."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS_DIR / (re.sub(r"[^\w.-]+", "_", name).strip("_") + ".png")
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_no_browser_errors(page: Page) -> None:
    """No uncaught JavaScript error and no failed or 4xx/5xx request (stylesheets, scripts, fonts, pages)."""
    assert not page.browser_errors, "\n".join(page.browser_errors)


@pytest.fixture(scope="session")
def compiled_translations() -> None:
    """Compile the .po catalogues when a .mo is missing or older than its .po (``scripts/install`` does it too),
    and drop Django's cached catalogues so this process (and its live server thread) sees the new ones."""
    from django.conf import settings
    from django.core.management import call_command
    from django.utils.translation.reloader import translation_file_changed

    stale = [
        po.with_suffix(".mo")
        for locale_dir in settings.LOCALE_PATHS
        for po in Path(locale_dir).glob("*/LC_MESSAGES/*.po")
        if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
    if stale:
        call_command("compile_translations", verbosity=0)
        translation_file_changed(sender=None, file_path=stale[0])
