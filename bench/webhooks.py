"""Webhook benchmark (issue 6): deliveries per second against 1,000 pipelines with realistic filters and
50 changed files each — the receiver (HTTP, token check, dedupe, record) and the decision (T4 matching of
every changed file, recording per-file verdicts). Deliveries that match start a run; the Celery sends are
replaced by no-ops so the numbers are the console's own work. Writes a section into docs/benchmarks.md.

    .venv/bin/python bench/webhooks.py [--pipelines 1000] [--deliveries 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench-webhooks"
SECRET = "bench-webhook-secret"
TRIGGERS = {
    "push": {
        "enabled": True,
        "branches": {"include": ["main", "release/*"], "exclude": ["release/old-*"]},
        "paths": {"include": ["src/**", "api/"], "exclude": ["docs/", "**/*.md"]},
    }
}


def setup():
    shutil.rmtree(VAR, ignore_errors=True)
    os.environ.update(
        DEVOPS_VAR_DIR=str(VAR), DJANGO_SETTINGS_MODULE="devops_console.settings", ALLOWED_HOSTS="testserver"
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(count: int) -> list[int]:
    from django.contrib.auth import get_user_model

    from devops_console.core.services import create_project
    from pipelines import services
    from pipelines.models import Pipeline
    from pipelines.triggers.models import WebhookSecret

    user = get_user_model().objects.create_user("bench")
    projects = [create_project(user, f"p{i}") for i in range(10)]
    template = services.create_pipeline(
        user,
        projects[0],
        {
            "name": "template",
            "triggers": TRIGGERS,
            "stages": [{"name": "S", "tasks": [{"name": "t", "type": "build", "config": {"commands": "true"}}]}],
        },
    )
    rows = [
        Pipeline(project=projects[i % 10], name=f"web-{i}", creator=user, definition=template.definition)
        for i in range(count - 1)
    ]
    Pipeline.objects.bulk_create(rows, batch_size=500)
    from pipelines import permissions

    for pipeline in Pipeline.objects.exclude(pk=template.pk).select_related("project"):
        permissions.create_defaults(pipeline)  # bulk_create skips it: the creator may execute (A6)
    pipelines = list(Pipeline.objects.values_list("pk", flat=True))
    WebhookSecret.objects.bulk_create([WebhookSecret(pipeline_id=pk, secret=SECRET) for pk in pipelines])
    return pipelines


def payload(index: int) -> bytes:
    """A GitLab push with 50 changed files over 5 commits; every third touches src/ (it triggers)."""
    files = [f"docs/page-{index}-{n}.md" for n in range(49)]
    files.append(f"src/module_{index}.py" if index % 3 == 0 else f"README-{index}.md")
    commits = [
        {
            "id": uuid.uuid4().hex,
            "message": "change",
            "added": files[n * 10 : (n + 1) * 10],
            "modified": [],
            "removed": [],
        }
        for n in range(5)
    ]
    return json.dumps(
        {
            "object_kind": "push",
            "ref": "refs/heads/main",
            "before": "0" * 40,
            "after": uuid.uuid4().hex,
            "user_username": "dev",
            "commits": commits,
            "total_commits_count": 5,
        }
    ).encode()


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def run(pipelines: list[int], deliveries: int):
    from django.test import Client

    from pipelines.triggers import deliveries as service
    from pipelines.triggers.models import Delivery

    client, received = Client(), []
    with mock.patch("celery.app.task.Task.apply_async"):
        start = time.perf_counter()
        for index in range(deliveries):
            t0 = time.perf_counter()
            response = client.post(
                f"/webhooks/gitlab/{pipelines[index % len(pipelines)]}/",
                payload(index),
                content_type="application/json",
                HTTP_X_GITLAB_TOKEN=SECRET,
                HTTP_X_GITLAB_EVENT="Push Hook",
                HTTP_X_GITLAB_EVENT_UUID=str(uuid.uuid4()),
            )
            assert response.status_code == 202, response.content
            received.append((time.perf_counter() - t0) * 1000)
        receive_rate = deliveries / (time.perf_counter() - start)
        ids = list(Delivery.objects.filter(status="accepted").values_list("pk", flat=True))
        decided = []
        start = time.perf_counter()
        for pk in ids:
            t0 = time.perf_counter()
            service.process(pk)
            decided.append((time.perf_counter() - t0) * 1000)
        decide_rate = len(ids) / (time.perf_counter() - start)
    verdicts = dict(
        Delivery.objects.values_list("status").annotate(n=__import__("django.db.models").db.models.Count("pk"))
    )
    return received, receive_rate, decided, decide_rate, verdicts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument("--deliveries", type=int, default=1000)
    args = parser.parse_args()
    setup()
    pipelines = seed(args.pipelines)
    received, receive_rate, decided, decide_rate, verdicts = run(pipelines, args.deliveries)
    lines = [
        "## Webhooks: deliveries per second — `bench/webhooks.py`",
        "",
        f"{args.pipelines} pipelines over 10 projects with push filters (branches include/exclude, paths include "
        f"`src/**`, `api/`, exclude `docs/`, `**/*.md`); {args.deliveries} GitLab push deliveries, 50 changed files "
        "each, every third touching `src/` (those start a run; Celery sends are no-ops). SQLite, one process, "
        f"{os.cpu_count()} cores. Rerun: `.venv/bin/python bench/webhooks.py`.",
        "",
        "| step | per second | p50 ms | p95 ms | goal |",
        "|---|---:|---:|---:|---|",
        f"| receive (token, parse, dedupe, record, 202) | {receive_rate:.0f} | {statistics.median(received):.1f} | "
        f"{pct(received, 95):.1f} | |",
        f"| decide (T4 over 50 files, per-file verdicts, start run if matched) | {decide_rate:.0f} | "
        f"{statistics.median(decided):.1f} | {pct(decided, 95):.1f} | ≥ 300 deliveries/s |",
        "",
        "The two steps run in different processes (the web server answers, a Celery worker decides), so the slower "
        f"one bounds a deployment with one of each: **{min(receive_rate, decide_rate):.0f} deliveries/s — goal "
        f"{'met' if min(receive_rate, decide_rate) >= 300 else 'not met'}**. Both steps one after the other in a "
        f"single process: {1 / (1 / receive_rate + 1 / decide_rate):.0f}/s.",
        "",
        f"Verdicts: {verdicts}.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    docs = ROOT / "docs" / "benchmarks.md"
    existing = docs.read_text()
    marker = "## Webhooks: deliveries per second"
    if marker in existing:
        head, _sep, tail = existing.partition(marker)
        rest = tail.split("\n## ", 1)
        existing = head + (("## " + rest[1]) if len(rest) > 1 else "")
    docs.write_text(existing.rstrip() + "\n\n" + text)


if __name__ == "__main__":
    main()
