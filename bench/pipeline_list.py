"""Benchmark of the pipeline list API (not a test): seed N pipelines over M projects, then time
the list page ``GET /projects/{id}/pipelines/`` and ``GET /api/v1/projects/{id}/pipelines/`` through the WSGI
application gunicorn serves (``devops_console.wsgi``: the whole middleware, auth, permission, query and
rendering stack, in process — server time without the network).

    DJANGO_SETTINGS_MODULE=devops_console.settings .venv/bin/python bench/pipeline_list.py \\
        --pipelines 10000 --projects 50 [--database-url postgres://…/bench] [--report docs/benchmarks.md]

Without ``--database-url`` it uses a throwaway SQLite file under ``var/bench/`` (recreated each run).
With it, the database must exist and be empty or a previous bench database: tables are migrated and
the bench rows (projects named ``bench-…``) are replaced. Goal: p95 ≤ 100 ms, constant query count.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from _common import machine_line, write_report

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
BATCH = 1000


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipelines", type=int, default=10_000)
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--runs", type=int, default=100_000, help="run rows spread over the pipelines")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per scenario")
    parser.add_argument("--database-url", help="e.g. postgres://postgres@127.0.0.1:5432/bench")
    parser.add_argument("--report", help="markdown file whose section for this backend is replaced")
    return parser.parse_args(argv)


def configure(args) -> None:
    """Environment before Django reads its settings: a throwaway var dir, the database, test host."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devops_console.settings")
    if not args.database_url:
        shutil.rmtree(BENCH_DIR, ignore_errors=True)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    os.environ["DEVOPS_VAR_DIR"] = str(BENCH_DIR)
    os.environ["ALLOWED_HOSTS"] = "testserver"
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
        os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 50)
        os.environ.setdefault("FIELD_ENCRYPTION_KEY", "hUq0A0SRn7t8bXvZ1qxz0oU2w0k1tgMZ4Zf7Q2yXe6Y=")
    import django

    django.setup()


# --- seeding --------------------------------------------------------------------------------------


def sample_definition(name: str) -> dict:
    """A realistic small definition, normalized by the validator once and reused."""
    from pipelines.definition import DefinitionContext, validate_definition

    raw = {
        "name": name,
        "description": "Builds, checks and ships the service",
        "parameters": [
            {"name": "releaseversion", "type": "auto_increment", "default": "1.0.0", "runtime": True},
            {"name": "env", "type": "enum", "choices": "dev,staging,prod", "default": "dev", "runtime": True},
        ],
        "stages": [
            {"name": "Build", "tasks": [{"name": "compile", "type": "build", "config": {
                "commands": "make build VERSION=${releaseversion}", "artifacts": ["dist/*"], "package": "svc",
                "version": "${releaseversion}"}}]},
            {"name": "Check", "parallel": True, "tasks": [
                {"name": "lint", "type": "code_check", "config": {"preset": "ruff", "command": "ruff check ."}},
                {"name": "unit", "type": "build", "config": {"commands": "make test ENV=${env}"}}]},
            {"name": "Approve", "manual": True,
             "tasks": [{"name": "wait", "type": "delay", "config": {"seconds": 60}}]},
        ],
        "triggers": {"push": {"enabled": True, "branches": {"include": ["main", "release/*"]}}},
    }  # fmt: skip
    definition, _secrets = validate_definition(raw, DefinitionContext())
    return definition


def seed_runs(n_runs: int, user) -> None:
    """Run rows (each with one stage) spread evenly over the pipelines: the list shows every pipeline's last run."""
    from pipelines.models import Pipeline
    from pipelines.runs.models import Run, StageRun

    ids = list(Pipeline.objects.filter(project__name__startswith="bench-").values_list("pk", flat=True))
    per = max(1, n_runs // max(len(ids), 1))
    for start in range(0, len(ids), BATCH // per or 1):
        rows = [Run(pipeline_id=pk, number=n, state="succeeded" if n % 5 else "failed", branch="main",
                    commit_id=f"{pk:08x}{n:032x}"[:40], triggered_by=user if n % 3 == 0 else None)
                for pk in ids[start:start + (BATCH // per or 1)] for n in range(1, per + 1)]  # fmt: skip
        created = Run.objects.bulk_create(rows)
        if created and created[0].pk is None:
            created = list(Run.objects.filter(pipeline_id__in={r.pipeline_id for r in rows}).order_by("pk"))
        StageRun.objects.bulk_create([StageRun(run=r, index=0, name="Build", state=r.state) for r in created])


def seed(n_pipelines: int, n_projects: int):
    """Projects ``bench-NN`` owned by ``bench-owner``; ``bench`` is a developer in all of them."""
    from django.contrib.auth import get_user_model

    from devops_console.core import services as core_services
    from devops_console.core.models import ApiToken, Membership, Project, Role

    User = get_user_model()
    Project.objects.filter(name__startswith="bench-").delete()
    User.objects.filter(username__in=["bench", "bench-owner"]).delete()
    owner = User.objects.create_user("bench-owner")
    user = User.objects.create_user("bench")
    projects = [core_services.create_project(owner, f"bench-{i:03d}") for i in range(n_projects)]
    for project in projects:  # before the pipelines exist: the membership signal has nothing to sync
        Membership.objects.create(project=project, user=user, role=Role.DEVELOPER)
    seed_pipelines(projects, n_pipelines, owner, user)
    _token, raw = ApiToken.issue(user, "bench")
    return projects, raw, user


def seed_pipelines(projects, n_pipelines, owner, user) -> None:
    from pipelines.models import Pipeline, PipelineFollow, PipelineVersion

    template = sample_definition("svc")
    for start in range(0, n_pipelines, BATCH):
        rows = []
        for i in range(start, min(start + BATCH, n_pipelines)):
            name = f"service-{i:05d}"
            creator = user if i % 7 == 0 else owner
            rows.append(Pipeline(project=projects[i % len(projects)], name=name, description="Builds the service",
                                 creator=creator, definition={**template, "name": name}))  # fmt: skip
        created = Pipeline.objects.bulk_create(rows)
        if created[0].pk is None:  # backends that do not return ids
            created = list(Pipeline.objects.filter(name__in=[p.name for p in rows]).order_by("pk"))
        PipelineVersion.objects.bulk_create(
            [PipelineVersion(pipeline=p, number=1, definition=p.definition, author=p.creator) for p in created]
        )
        PipelineFollow.objects.bulk_create([PipelineFollow(pipeline=p, user=user) for p in created[::10]])


# --- measuring ------------------------------------------------------------------------------------


def wsgi_get(app, url: str, headers: dict) -> tuple[int, bytes]:
    """One GET through the WSGI application as a WSGI server does it: build the environ, consume the
    body, close the response (which ends the request: signals, connection handling)."""
    from django.test.client import RequestFactory

    environ = RequestFactory().get(url, **headers).environ
    status = []
    response = app(environ, lambda s, h, exc_info=None: status.append(int(s.split()[0])))
    try:
        body = b"".join(response)
    finally:
        response.close()
    return status[0], body


def measure(app, headers: dict, urls: list[str], n: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    wsgi_get(app, urls[0], headers)  # warm-up (imports, the token's last_used_at write)
    counts = set()
    for url in urls[: min(len(urls), 10)]:
        with CaptureQueriesContext(connection) as ctx:
            status, body = wsgi_get(app, url, headers)
            assert status == 200, body[:300]
        counts.add(len(ctx.captured_queries))
    times, cpu = [], []
    for i in range(n):
        started, started_cpu = time.perf_counter(), time.process_time()
        status, body = wsgi_get(app, urls[i % len(urls)], headers)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert status == 200, body[:300]
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[max(0, int(len(times) * 0.95) - 1)],
        "max": times[-1],
        "cpu": statistics.median(cpu),
        "queries": sorted(counts),
    }


def scenarios(projects) -> dict[str, list[str]]:
    base = [f"/api/v1/projects/{p.pk}/pipelines/" for p in projects]
    pages = [f"/projects/{p.pk}/pipelines/" for p in projects]
    return {
        "page /projects/{id}/pipelines/ (50 rows)": pages,
        "page ?filter=last_run_by_me": [f"{u}?filter=last_run_by_me" for u in pages],
        "list, first page (25)": base,
        "list, ?filter=last_run_by_me": [f"{u}?filter=last_run_by_me" for u in base],
        "list, page_size=100": [f"{u}?page_size=100" for u in base],
        "list, last page": [f"{u}?page=last" for u in base],
        "list, ?search=": [f"{u}?search=service-00" for u in base],
        "list, ?filter=mine": [f"{u}?filter=mine" for u in base],
    }


# --- reporting ------------------------------------------------------------------------------------


def markdown(args, results: dict, seeded_s: float) -> str:
    per_project = args.pipelines // max(args.projects, 1)
    lines = [
        f"{args.pipelines:,} pipelines over {args.projects} projects (~{per_project} per project) with "
        f"{args.runs:,} runs, "
        f"{args.requests} requests per scenario; seeding took {seeded_s:.1f} s.",
        "",
        machine_line(),
        "",
        "| scenario | p50 ms | p95 ms | max ms | app CPU p50 ms | queries per request |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, r in results.items():
        queries = ", ".join(str(q) for q in r["queries"])
        lines.append(f"| {name} | {r['p50']:.1f} | {r['p95']:.1f} | {r['max']:.1f} | {r['cpu']:.1f} | {queries} |")
    worst = max(r["p95"] for r in results.values())
    constant = all(len(r["queries"]) == 1 for r in results.values())
    verdict = "met" if worst <= 100 and constant else "NOT met"
    lines += ["", f"Goal p95 ≤ 100 ms with a constant query count: **{verdict}** (worst p95 {worst:.1f} ms)."]
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    configure(args)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    projects, token, user = seed(args.pipelines, args.projects)
    seed_runs(args.runs, user)
    seeded_s = time.perf_counter() - started
    client = Client()
    client.force_login(user)  # the list pages use the session; the API the token
    cookie = "; ".join(f"{key}={morsel.value}" for key, morsel in client.cookies.items())
    headers = {"HTTP_X_AUTH_TOKEN": token, "HTTP_COOKIE": cookie}
    from devops_console.wsgi import application  # as gunicorn loads it (after the seeding's garbage is gone)

    results = {name: measure(application, headers, urls, args.requests) for name, urls in scenarios(projects).items()}
    body = markdown(args, results, seeded_s)
    print(body)
    if args.report:
        write_report(Path(args.report), "pipeline_list", connection.vendor, body)


if __name__ == "__main__":
    main()
