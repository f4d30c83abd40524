"""A newcomer's first look: the demo pipelines from ``seed_demo`` run on a real worker — the simple ones
green, ``release`` through its gate and sub-pipeline up to the manual approval stage."""

import pytest
from django.core.management import call_command

from pipelines.models import Pipeline
from pipelines.runs.models import StageRun
from pipelines.runs.start import start_run
from tests.engine_support import task_states, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker", "drain_runs")]


def test_demo_pipelines_run():
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    assert sorted(Pipeline.objects.values_list("name", flat=True)) == ["nightly-report", "release", "web-app"]
    for name in ("web-app", "nightly-report"):
        pipeline = Pipeline.objects.get(name=name)
        run = wait_for(start_run(pipeline.creator, pipeline), timeout=60)
        assert run.state == "succeeded", (name, task_states(run))
    release = Pipeline.objects.get(name="release")
    run = wait_for(start_run(release.creator, release), states={"waiting", "failed"}, timeout=90)
    assert run.state == "waiting", task_states(run)
    states = task_states(run)
    assert [states[k] for k in ("Build/package", "Verify/lint", "Verify/api", "Report/nightly")] == ["succeeded"] * 4
    assert StageRun.objects.get(run=run, name="Verify").gate_result["passed"] is True
    assert StageRun.objects.get(run=run, name="Approve").state == "waiting"
