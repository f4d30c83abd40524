"""Issue 5's end-to-end acceptance on a real Celery worker: build (checkout from the real Git server,
package uploaded) → parallel code check + API test with a quality gate (a passing and a failing
variant) → manual stage with a review → host-group deploy over SSH to a real sshd. Logs, states,
packages and metrics are checked along the way (X1–X9, P5–P7, K1, R3, R6)."""

from __future__ import annotations

import pytest

from pipelines import services
from pipelines.models import GateTemplate
from pipelines.runs import engine
from pipelines.runs.models import BuildPackage, StageRun, TaskRun
from pipelines.runs.start import start_run
from tests.engine_support import log_of, task_states, wait_for
from tests.test_executors_checkout import git_endpoint, make_repo
from tests.test_executors_deploy import host_group

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker", "drain_runs")]
DEPLOY_COMMANDS = 'cp "$DEPLOY_PACKAGE" "$HOME/deployed-app.py" && echo deployed ${releaseversion}'
JUNIT = '<testsuite tests="2" failures="0"><testcase name="home"/><testcase name="login"/></testsuite>'


def definition(endpoint, repository, gate):
    check = {"name": "lint", "type": "code_check", "config": {"preset": "ruff", "source": "app"}}
    api = {
        "name": "api",
        "type": "api_test",
        "config": {
            "mode": "junit",
            "source": "app",
            "command": f"printf '%s' '{JUNIT}' > report.xml",
            "junit_path": "report.xml",
        },
    }
    return {
        "name": "web-app",
        "sources": [
            {"kind": "git", "alias": "app", "endpoint": endpoint.pk, "repository": repository, "default_branch": "main"}
        ],
        "parameters": [{"name": "releaseversion", "type": "auto_increment", "default": "1.0.0", "runtime": True}],
        "stages": [
            {
                "name": "Build",
                "tasks": [
                    {
                        "name": "compile",
                        "type": "build",
                        "config": {
                            "source": "app",
                            "commands": "mkdir -p dist && cp app.py dist/ && echo built ${releaseversion}",
                            "artifacts": ["dist/*"],
                            "package": "web",
                            "version": "${releaseversion}",
                        },
                    }
                ],
            },
            {"name": "Verify", "parallel": True, "tasks": [check, api], "gates": [{"template": gate.pk}]},
            {
                "name": "Approve",
                "manual": True,
                "tasks": [
                    {"name": "review", "type": "manual_review", "config": {"reviewers": ["manager"], "mode": "any"}}
                ],
            },
            {
                "name": "Deploy",
                "tasks": [
                    {
                        "name": "ship",
                        "type": "deploy",
                        "config": {
                            "target": "host_group",
                            "host_group": "web-hosts",
                            "package": "web",
                            "commands": DEPLOY_COMMANDS,
                        },
                    }
                ],
            },
        ],
    }


@pytest.fixture
def gate(world):
    return GateTemplate.objects.create(
        project=world.project,
        name="Release bar",
        items=[{"metric": "issue_count", "threshold": 0}, {"metric": "pass_rate", "threshold": 90}],
    )


def test_build_check_review_and_deploy_end_to_end(world, git_server, sshd_server, gate):
    code = "print('web-app')\n"
    repository = make_repo(git_server, {"app.py": code})
    endpoint = git_endpoint(world, git_server, repository)
    host_group(world, [sshd_server])
    pipeline = services.create_pipeline(
        world.users["developer"], world.project, definition(endpoint, repository.removesuffix(".git"), gate)
    )
    run = start_run(world.users["developer"], pipeline)

    run = wait_for(run, states={"waiting"}, timeout=90)  # X6: waits at the manual stage
    assert task_states(run) == {
        "Build/compile": "succeeded",
        "Verify/lint": "succeeded",
        "Verify/api": "succeeded",
        "Approve/review": "pending",
        "Deploy/ship": "pending",
    }
    assert "built 1.0.0" in log_of(run, "compile")
    package = BuildPackage.objects.get(run=run)
    assert (package.name, package.version, package.filename) == ("web", "1.0.0", "dist/app.py")
    assert TaskRun.objects.get(stage__run=run, name="lint").metrics["issue_count"] == 0
    assert TaskRun.objects.get(stage__run=run, name="api").metrics["pass_rate"] == 100
    assert StageRun.objects.get(run=run, name="Verify").gate_result["passed"] is True

    assert engine.confirm_stage(run, StageRun.objects.get(run=run, name="Approve"), world.users["tester"])
    review = TaskRun.objects.get(stage__run=run, name="review")
    wait_for(run, what=lambda r: TaskRun.objects.get(pk=review.pk).state == "waiting")
    assert engine.review(run, review, world.users["developer"], True) == "not_reviewer"  # X7: named reviewers
    assert engine.review(run, review, world.users["manager"], True) == "approved"

    run = wait_for(run, timeout=90)
    assert run.state == "succeeded", task_states(run)
    assert "deployed 1.0.0" in log_of(run, "ship")
    assert sshd_server.read("deployed-app.py") == code  # the package reached the host
    assert run.sources["app"]["commit_id"] and run.commit_id == run.sources["app"]["commit_id"]


def test_failing_gate_stops_the_run_before_review_and_deploy(world, git_server, sshd_server, gate):
    """P7: a lint error makes the code check report issues; the gate (issue count ≤ 0) fails the stage."""
    repository = make_repo(git_server, {"app.py": "import os\nprint('web-app')\n"})
    endpoint = git_endpoint(world, git_server, repository)
    host_group(world, [sshd_server])
    pipeline = services.create_pipeline(
        world.users["developer"], world.project, definition(endpoint, repository.removesuffix(".git"), gate)
    )
    run = wait_for(start_run(world.users["developer"], pipeline), timeout=90)
    assert run.state == "failed"
    assert TaskRun.objects.get(stage__run=run, name="lint").metrics["issue_count"] >= 1
    verify = StageRun.objects.get(run=run, name="Verify")
    assert verify.state == "failed" and verify.gate_result["passed"] is False
    assert task_states(run)["Approve/review"] == "skipped" and task_states(run)["Deploy/ship"] == "skipped"
    assert not sshd_server.exists("deployed-app.py")
