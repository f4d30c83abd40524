"""Code check tasks on a real worker against repositories on a REAL Git server, and quality gates (P6, P7)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from pipelines.models import GateTemplate
from pipelines.runs.models import StageRun, TaskRun
from pipelines.runs.start import start_run
from tests.engine_support import build, log_of, make_pipeline, stage, task_states, wait_for
from tests.test_executors_checkout import git_endpoint, git_source, make_repo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker", "drain_runs")]


def code_check(name="lint", **config):
    return {"name": name, "type": "code_check", "config": config}


def gate(world, metric="issue_count", threshold=0):
    template = GateTemplate.objects.create(
        project=world.project, name=f"{metric} {threshold}", items=[{"metric": metric, "threshold": threshold}]
    )
    return [{"template": template.pk}]


def ruff_pipeline(world, git_server, files, source="app", **stage_flags):
    endpoint = git_endpoint(world, git_server, make_repo(git_server, files))
    return make_pipeline(
        world,
        [stage("Check", code_check(preset="ruff", source=source), **stage_flags)],
        sources=[git_source(endpoint, "t/app")],
    )


def test_ruff_finds_a_lint_error_and_the_gate_fails_the_stage(world, git_server):
    """P7: ruff on a repository with an unused import → issue_count ≥ 1; gate "issue count ≤ 0" fails."""
    files = {"app.py": "import os\n\nprint('hi')\n", "pkg/util.py": "def f():\n    unused = 1\n"}
    pipeline = ruff_pipeline(world, git_server, files, gates=gate(world))
    run = wait_for(start_run(world.users["developer"], pipeline))
    task = TaskRun.objects.get(stage__run=run, name="lint")
    text = log_of(run, "lint")
    assert task.state == "succeeded", text  # the check itself worked: the gate decides
    assert task.metrics["issue_count"] >= 2
    assert "F401" in text and "F841" in text and "top rules" in text
    assert run.state == "failed"
    gate_result = StageRun.objects.get(run=run).gate_result
    assert gate_result["passed"] is False
    item = gate_result["items"][0]
    assert (item["metric"], item["threshold"], item["value"]) == ("issue_count", 0, task.metrics["issue_count"])


def test_ruff_on_a_clean_repository_passes_the_gate(world, git_server):
    """P7: no issue → issue_count 0 and the same gate passes."""
    pipeline = ruff_pipeline(world, git_server, {"app.py": "print('clean')\n"}, gates=gate(world))
    run = wait_for(start_run(world.users["developer"], pipeline))
    assert run.state == "succeeded", log_of(run, "lint")
    assert TaskRun.objects.get(name="lint").metrics == {"issue_count": 0}
    assert StageRun.objects.get(run=run).gate_result["passed"] is True


def test_the_repository_ruff_configuration_applies(world, git_server):
    """P6: a repository's own ruff.toml is honoured (here it ignores F401); without a ``source`` the check
    runs on the pipeline's first code source."""
    files = {"app.py": "import os\nimport sys\n", "ruff.toml": '[lint]\nignore = ["F401"]\n'}
    pipeline = ruff_pipeline(world, git_server, files, source="")
    run = wait_for(start_run(world.users["developer"], pipeline))
    assert "checked out t/app main" in log_of(run, "lint")
    assert run.state == "succeeded" and TaskRun.objects.get(name="lint").metrics == {"issue_count": 0}


def test_flake8_preset_fails_clearly_when_flake8_is_missing(world):
    """P6: the flake8 preset needs flake8 on the worker; without it the task fails with that reason."""
    if importlib.util.find_spec("flake8") is not None:
        pytest.skip("flake8 is installed here")
    pipeline = make_pipeline(world, [stage("Check", code_check(preset="flake8"))])
    run = wait_for(start_run(world.users["developer"], pipeline))
    assert run.state == "failed"
    assert TaskRun.objects.get(name="lint").message == "flake8 is not installed on the worker."


SARIF = {
    "version": "2.1.0",
    "runs": [
        {
            "tool": {"driver": {"name": "custom"}},
            "results": [
                {"ruleId": "SEC001", "message": {"text": "hard-coded secret"}},
                {"ruleId": "SEC001", "message": {"text": "another"}},
                {"ruleId": "STY9", "message": {"text": "accepted"}, "suppressions": [{"kind": "inSource"}]},
            ],
        },
        {"tool": {"driver": {"name": "other"}}, "results": [{"ruleId": "X1", "message": {"text": "x"}}]},
    ],
}


def test_custom_command_writing_sarif(world):
    """P6: a custom check's SARIF report is counted (suppressed results excluded) across runs[]."""
    command = f"mkdir -p out && cat > out/report.sarif <<'EOF'\n{json.dumps(SARIF)}\nEOF"
    pipeline = make_pipeline(
        world, [stage("Check", code_check(preset="custom", command=command, sarif_path="out/report.sarif"))]
    )
    run = wait_for(start_run(world.users["developer"], pipeline))
    assert run.state == "succeeded", log_of(run, "lint")
    assert TaskRun.objects.get(name="lint").metrics == {"issue_count": 3}
    assert "SEC001 ×2" in log_of(run, "lint")


@pytest.mark.parametrize(
    "command, reason",
    [("exit 4", "exited with 4"), ("true", "No SARIF report"), ("echo '{nope' > r.sarif", "not valid JSON")],
)
def test_custom_check_that_cannot_report_fails(world, command, reason):
    """P6: the check fails when its command fails or its report is missing or unreadable."""
    pipeline = make_pipeline(
        world, [stage("Check", code_check(preset="custom", command=command, sarif_path="r.sarif"))]
    )
    run = wait_for(start_run(world.users["developer"], pipeline))
    assert run.state == "failed" and reason in TaskRun.objects.get(name="lint").message


@pytest.mark.parametrize("metric", ["issue_count", "pass_rate"])
def test_gate_fails_when_its_stage_ran_no_matching_task(world, metric):
    """P7: a gate whose stage did not run the matching code-check or API-test task fails."""
    pipeline = make_pipeline(world, [stage("Build", build(), gates=gate(world, metric, 0))])
    run = wait_for(start_run(world.users["developer"], pipeline))
    assert task_states(run) == {"Build/compile": "succeeded"}
    assert run.state == "failed"
    item = StageRun.objects.get(run=run).gate_result["items"][0]
    assert (item["metric"], item["value"], item["passed"]) == (metric, None, False)
