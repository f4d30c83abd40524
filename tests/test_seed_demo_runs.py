"""A newcomer's first look: every demo pipeline from ``seed_demo`` runs green on a real worker."""

import pytest
from django.core.management import call_command

from pipelines.models import Pipeline
from pipelines.runs.start import start_run
from tests.engine_support import task_states, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker", "drain_runs")]


def test_every_demo_pipeline_succeeds():
    call_command("seed_demo")
    for p in Pipeline.objects.all():
        run = wait_for(start_run(p.creator, p), timeout=60)
        assert run.state == "succeeded", (p.name, task_states(run))
