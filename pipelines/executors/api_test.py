"""API test task (P6, P7): report ``pass_rate`` (percent 0–100), ``tests`` and ``failures`` for the gates.

* ``junit``: check out the source (if any), run the command there, read the JUnit XML report(s) at
  ``junit_path`` (a path or glob; ``<testsuites>`` or ``<testsuite>`` roots). Counted per ``<testcase>``
  (failure, error, skipped children), or from the suites' ``tests/failures/errors/skipped`` attributes
  when a report lists no test cases. pass rate = passed / (tests − skipped) × 100.
* ``http``: built-in checks with requests — method, URL, expected status, optional body text — with a
  10 s timeout each. Redirects are followed by hand (at most 5) and every hop is refused when it
  resolves to a link-local or cloud-metadata address (``endpoints.connectors._net``).

When does the task fail? Always when the check itself cannot be done: the command fails (a non-zero
exit that the report's failed tests do not explain), the report is missing or unreadable, no test ran,
or an HTTP check meets a transport error (refused, timeout, TLS, address not allowed). Failed tests:
as in CodeArts, any failed test fails the task — unless the task's stage has a quality gate with a
pass-rate item, in which case the task succeeds with its metrics and the gate's threshold decides
(otherwise any threshold below 100 % could never matter: a failed task fails its stage before the
stage's gates are evaluated).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urljoin

import requests
from django.conf import settings
from django.utils.translation import gettext as _

from endpoints.connectors import ConnectorError
from endpoints.connectors._http import describe_request_error
from endpoints.connectors._net import check_url_allowed
from pipelines.executors import checkout as checkouts
from pipelines.executors.base import Outcome, Stopped
from pipelines.models import GateTemplate
from pipelines.runs.models import State

CHECK_TIMEOUT = 10
MAX_REDIRECTS = 5
MAX_BODY_BYTES = 1024 * 1024
MAX_REPORT_BYTES = 50 * 1024 * 1024


class ReportError(Exception):
    pass


def _int(value) -> int:
    try:
        return max(0, int(float(value or 0)))
    except (TypeError, ValueError):
        return 0


def junit_counts(paths: list[Path]) -> dict:
    """``{"tests", "failures", "skipped"}`` over JUnit XML reports (errors count as failures)."""
    tests = failures = skipped = 0
    for path in paths:
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise ReportError(_("The JUnit report %(name)s is larger than 50 MB.") % {"name": path.name})
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as exc:
            message = _("%(name)s is not valid JUnit XML (%(error)s).") % {"name": path.name, "error": exc}
            raise ReportError(message) from None
        if root.tag not in ("testsuites", "testsuite"):
            raise ReportError(_("%(name)s is not a JUnit report (no <testsuite>).") % {"name": path.name})
        cases = list(root.iter("testcase"))
        if cases:
            tests += len(cases)
            failures += sum(1 for c in cases if c.find("failure") is not None or c.find("error") is not None)
            skipped += sum(1 for c in cases if c.find("skipped") is not None)
            continue
        suites = [s for s in root.iter("testsuite") if s.find("testsuite") is None]
        for suite in suites:
            tests += _int(suite.get("tests"))
            failures += _int(suite.get("failures")) + _int(suite.get("errors"))
            skipped += _int(suite.get("skipped")) + _int(suite.get("disabled"))
    return {"tests": tests, "failures": failures, "skipped": skipped}


def pass_rate(tests: int, failures: int, skipped: int) -> float | None:
    executed = tests - skipped
    return None if executed <= 0 else round(max(0, executed - failures) * 100 / executed, 2)


def gate_decides(ctx) -> bool:
    """True when the task's stage has a quality gate with a pass-rate item (P7)."""
    gates = ctx.run.snapshot["stages"][ctx.task.stage.index].get("gates") or []
    templates = GateTemplate.objects.filter(pk__in=[g.get("template") for g in gates])
    return any(item.get("metric") == "pass_rate" for t in templates for item in t.items)


def run(ctx):
    if ctx.config["mode"] == "http":
        return _run_http(ctx)
    config = ctx.config
    try:
        src = checkouts.prepare(ctx, config.get("source"))
    except checkouts.CheckoutFailed as exc:
        ctx.log.line(f"[checkout] {exc}")
        return Outcome(State.FAILED, message=str(exc))
    code = ctx.run_command(config["command"], cwd=src, shell=True, timeout=config["timeout_minutes"] * 60)
    root = src.resolve()
    paths = [p for p in sorted(src.glob(config["junit_path"])) if p.is_file() and root in p.resolve().parents]
    try:
        if not paths:
            raise ReportError(_("No JUnit report matched %(path)s.") % {"path": config["junit_path"]})
        counts = junit_counts(paths)
    except ReportError as exc:
        ctx.log.line(str(exc))
        if code != 0:
            return Outcome(
                State.FAILED, exit_code=code, message=_("The command exited with %(code)s.") % {"code": code}
            )
        return Outcome(State.FAILED, exit_code=code, message=str(exc))
    if code != 0 and not counts["failures"]:
        return Outcome(State.FAILED, exit_code=code, message=_("The command exited with %(code)s.") % {"code": code})
    ctx.log.line(
        f"JUnit: {counts['tests']} test(s), {counts['failures']} failed, {counts['skipped']} skipped "
        f"({len(paths)} report(s))"
    )
    return _outcome(ctx, counts, exit_code=code)


def _outcome(ctx, counts: dict, *, exit_code=None, transport_errors: int = 0) -> Outcome:
    rate = pass_rate(counts["tests"], counts["failures"], counts["skipped"])
    metrics = {"pass_rate": rate if rate is not None else 0.0, "tests": counts["tests"], "failures": counts["failures"]}
    text = _("pass rate %(rate)s%% (%(passed)s of %(run)s passed)") % {
        "rate": metrics["pass_rate"],
        "passed": counts["tests"] - counts["skipped"] - counts["failures"],
        "run": counts["tests"] - counts["skipped"],
    }
    ctx.log.line(text)
    if transport_errors:
        message = _("%(n)s check(s) could not reach their URL; %(rate)s") % {"n": transport_errors, "rate": text}
        return Outcome(State.FAILED, exit_code=exit_code, metrics=metrics, message=message)
    if rate is None:
        return Outcome(State.FAILED, exit_code=exit_code, metrics=metrics, message=_("No test ran."))
    if counts["failures"] and not gate_decides(ctx):
        message = _("%(n)s test(s) failed; %(rate)s") % {"n": counts["failures"], "rate": text}
        return Outcome(State.FAILED, exit_code=exit_code, metrics=metrics, message=message)
    return Outcome(State.SUCCEEDED, exit_code=exit_code, metrics=metrics, message=text)


def _request(session: requests.Session, method: str, url: str) -> tuple[requests.Response, bytes]:
    """One check's request, following redirects by hand; each hop is checked against link-local targets."""
    for _hop in range(MAX_REDIRECTS + 1):
        check_url_allowed(url, settings.ENDPOINT_VERIFY_ALLOW_LINK_LOCAL)
        response = session.request(method, url, timeout=CHECK_TIMEOUT, allow_redirects=False, stream=True)
        location = response.headers.get("Location")
        if response.status_code in (301, 302, 303, 307, 308) and location:
            response.close()
            url = urljoin(url, location)
            if response.status_code == 303 and method != "HEAD":
                method = "GET"
            continue
        body = b"" if method == "HEAD" else response.raw.read(MAX_BODY_BYTES, decode_content=True)
        response.close()
        return response, body
    raise ConnectorError("too many redirects")


def _run_http(ctx) -> Outcome:
    checks = ctx.config.get("checks") or []
    failures = errors = 0
    with requests.Session() as session:
        session.headers["User-Agent"] = "devops-console-api-test/1.0"
        for number, check in enumerate(checks, 1):
            if ctx.stopped():
                raise Stopped
            method, url, expected = check["method"], check["url"], check["expected_status"]
            label = f"#{number} {method} {url}"
            try:
                response, body = _request(session, method, url)
            except ConnectorError as exc:
                errors += 1
                ctx.log.line(f"ERROR {label}: {exc}")
                continue
            except requests.RequestException as exc:
                errors += 1
                ctx.log.line(f"ERROR {label}: {describe_request_error(exc)}")
                continue
            wanted = check.get("body_contains") or ""
            if response.status_code != expected:
                failures += 1
                ctx.log.line(f"FAIL {label}: HTTP {response.status_code}, expected {expected}")
            elif wanted and wanted not in body.decode("utf-8", "replace"):
                failures += 1
                ctx.log.line(f"FAIL {label}: HTTP {response.status_code}, but the body does not contain {wanted!r}")
            else:
                ctx.log.line(f"PASS {label}: HTTP {response.status_code}")
    counts = {"tests": len(checks), "failures": failures + errors, "skipped": 0}
    return _outcome(ctx, counts, transport_errors=errors)
