"""API test tasks on a real worker: JUnit reports and HTTP checks against a real local HTTP server (P6, P7)."""

from __future__ import annotations

import pytest

from pipelines.runs.models import StageRun, TaskRun
from pipelines.runs.start import start_run
from tests.engine_support import log_of, make_pipeline, stage, wait_for
from tests.servers._util import free_port
from tests.test_executors_code_check import gate

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker", "drain_runs")]


def api_test(name="api", **config):
    return {"name": name, "type": "api_test", "config": config}


def junit(passed: int, failed: int = 0, errored: int = 0, skipped: int = 0) -> str:
    cases = (
        [f'<testcase name="ok{i}"/>' for i in range(passed)]
        + [f'<testcase name="bad{i}"><failure message="no"/></testcase>' for i in range(failed)]
        + [f'<testcase name="err{i}"><error message="boom"/></testcase>' for i in range(errored)]
        + [f'<testcase name="skip{i}"><skipped/></testcase>' for i in range(skipped)]
    )
    return f'<?xml version="1.0"?><testsuites><testsuite name="api">{"".join(cases)}</testsuite></testsuites>'


def junit_task(report: str, exit_code: int = 0) -> dict:
    command = f"mkdir -p reports && cat > reports/junit-1.xml <<'EOF'\n{report}\nEOF\nexit {exit_code}"
    return api_test(mode="junit", command=command, junit_path="reports/junit-*.xml")


def run_stage(world, task, **flags):
    pipeline = make_pipeline(world, [stage("Test", task, **flags)])
    return wait_for(start_run(world.users["developer"], pipeline))


@pytest.mark.parametrize(
    "report, exit_code, gated, state, rate",
    [
        (junit(9, 1), 1, True, "succeeded", 90.0),  # pass rate 90 ≥ 90: the gate passes
        (junit(8, 1, 1), 1, True, "failed", 80.0),  # 80 < 90: the gate fails the stage
        (junit(10), 0, True, "succeeded", 100.0),
        (junit(9, 1), 1, False, "failed", 90.0),  # no gate: any failed test fails the task
        (junit(8, 1, skipped=3), 1, True, "failed", 88.89),  # skipped tests are not counted
    ],
)
def test_junit_pass_rate_and_gate(world, report, exit_code, gated, state, rate):
    """P7: pass rate = passed / (tests − skipped) × 100 from the JUnit report; gate "pass rate ≥ 90"."""
    run = run_stage(world, junit_task(report, exit_code), **({"gates": gate(world, "pass_rate", 90)} if gated else {}))
    task = TaskRun.objects.get(name="api")
    assert run.state == state, (task.message, log_of(run, "api"))
    assert task.metrics["pass_rate"] == rate
    if gated:
        stage_run = StageRun.objects.get(run=run)
        assert stage_run.gate_result["passed"] is (state == "succeeded")
        assert stage_run.gate_result["items"][0]["value"] == rate
    else:
        assert task.state == "failed" and "1 test(s) failed" in task.message


def test_junit_counts_from_suite_attributes():
    """A report without test cases is read from its suites' tests/failures/errors/skipped attributes."""
    import tempfile
    from pathlib import Path

    from pipelines.executors.api_test import junit_counts, pass_rate

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.xml"
        path.write_text('<testsuite tests="20" failures="1" errors="1" skipped="4"/>')
        counts = junit_counts([path])
    assert counts == {"tests": 20, "failures": 2, "skipped": 4}
    assert pass_rate(**counts) == 87.5


@pytest.mark.parametrize(
    "command, reason",
    [
        ("echo broken; exit 3", "exited with 3"),
        ("true", "No JUnit report matched"),
        ("mkdir reports; echo '<nope' > reports/junit-1.xml", "not valid JUnit XML"),
        (f"mkdir reports; echo '{junit(0, skipped=2)}' > reports/junit-1.xml", "No test ran"),
    ],
)
def test_junit_command_or_report_failure_fails_the_task(world, command, reason):
    """P6: a failing command (without failed tests to explain it), a missing or bad report, or no test
    run fails the task."""
    run = run_stage(world, api_test(mode="junit", command=command, junit_path="reports/junit-*.xml"))
    assert run.state == "failed" and reason in TaskRun.objects.get(name="api").message


def http_checks(httpserver, failing: int) -> list[dict]:
    httpserver.expect_request("/health").respond_with_data("status: healthy", status=200)
    httpserver.expect_request("/items", method="POST").respond_with_json({"id": 7}, status=201)
    httpserver.expect_request("/old").respond_with_data("", status=302, headers={"Location": "/health"})
    checks = [{"method": "GET", "url": httpserver.url_for("/health"), "body_contains": "healthy"}] * 6
    checks += [{"method": "POST", "url": httpserver.url_for("/items"), "expected_status": 201}] * 2
    checks += [{"method": "GET", "url": httpserver.url_for("/old"), "body_contains": "healthy"}] * 2
    for index in range(failing):  # status mismatch, then body mismatch
        checks[index] = {"method": "GET", "url": httpserver.url_for("/health"), "expected_status": 204}
        if index % 2:
            checks[index] = {"method": "GET", "url": httpserver.url_for("/health"), "body_contains": "degraded"}
    return checks


@pytest.mark.parametrize("failing, state, rate", [(0, "succeeded", 100.0), (1, "succeeded", 90.0), (2, "failed", 80.0)])
def test_http_checks_pass_rate_and_gate(world, httpserver, failing, state, rate):
    """P7: built-in HTTP checks (status, body text, redirects followed) → pass rate; gate "pass rate ≥ 90"."""
    task = api_test(mode="http", checks=http_checks(httpserver, failing))
    run = run_stage(world, task, gates=gate(world, "pass_rate", 90))
    text = log_of(run, "api")
    assert run.state == state, text
    assert TaskRun.objects.get(name="api").metrics == {"pass_rate": rate, "tests": 10, "failures": failing}
    assert text.count("PASS ") == 10 - failing and text.count("FAIL ") == failing
    if failing:
        assert "HTTP 200, expected 204" in text
    if failing > 1:
        assert "does not contain 'degraded'" in text
    methods = [request.method for request, _response in httpserver.log]
    assert methods.count("POST") == 2 and len(methods) == 12  # the two redirects were followed


def test_http_transport_error_fails_the_task(world, httpserver):
    """P6: a check that cannot reach its URL fails the task, whatever the gate says."""
    httpserver.expect_request("/health").respond_with_data("ok")
    checks = [
        {"method": "GET", "url": httpserver.url_for("/health")},
        {"method": "GET", "url": f"http://127.0.0.1:{free_port()}/down"},
    ]
    run = run_stage(world, api_test(mode="http", checks=checks), gates=gate(world, "pass_rate", 0))
    task = TaskRun.objects.get(name="api")
    assert run.state == "failed" and task.state == "failed"
    assert task.metrics["pass_rate"] == 50.0 and "could not reach" in task.message
    assert "ERROR #2 GET" in log_of(run, "api") and "connection refused" in log_of(run, "api")


def test_http_redirect_to_metadata_address_is_not_followed(world, httpserver):
    """Beyond (SSRF): a redirect to a link-local / cloud-metadata address is refused, not followed."""
    metadata = "http://169.254.169.254/latest/meta-data/"
    httpserver.expect_request("/go").respond_with_data("", status=302, headers={"Location": metadata})
    checks = [{"method": "GET", "url": httpserver.url_for("/go")}, {"method": "GET", "url": metadata}]
    run = run_stage(world, api_test(mode="http", checks=checks))
    text = log_of(run, "api")
    assert run.state == "failed"
    assert text.count("address not allowed: link-local/metadata") == 2
