"""Engine benchmark (issue 5): trigger → first task process started (p50/p95) and trivial one-task runs
per second, each measured in the same session against the floor — a bare Celery task starting the same
subprocess. With --report, writes its table into that file (docs/benchmarks.md).

    .venv/bin/python bench/engine.py [--samples 40] [--throughput 200] [--rounds 3] [--spread 1 --spread 20]
        [--database-url postgres://postgres@127.0.0.1:5432/bench] [--report docs/benchmarks.md]

Throughput is measured in rounds, each an engine measurement followed at once by a floor measurement, and the
goal is judged on the median of the rounds' ratios: on a shared machine the floor alone varies by ±15 % from
one minute to the next, so a ratio needs both sides measured in the same minute.

Uses a throwaway database (SQLite under var/bench-engine/, or the empty PostgreSQL database given) and an
embedded Redis there, and starts its own workers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine_line, write_report

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench-engine"


def setup_env(database_url=None):
    shutil.rmtree(VAR, ignore_errors=True)
    os.environ.update(DEVOPS_VAR_DIR=str(VAR), DJANGO_SETTINGS_MODULE="devops_console.settings")
    os.environ.pop("DATABASE_URL", None)
    if database_url:  # an empty, throwaway database (its tables are created here)
        os.environ.update(DATABASE_URL=database_url, SECRET_KEY="bench-only-" + "x" * 50,
                          FIELD_ENCRYPTION_KEY="hUq0A0SRn7t8bXvZ1qxz0oU2w0k1tgMZ4Zf7Q2yXe6Y=")
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def start_processes(concurrency=2):
    from django.conf import settings

    from devops_console import embedded_redis

    redis = embedded_redis.start(settings.VAR_DIR, settings.EMBEDDED_REDIS_SOCKET)
    broker = f"redis+socket://{settings.EMBEDDED_REDIS_SOCKET}"
    env = dict(os.environ, BENCH_BROKER_URL=broker, PYTHONPATH=str(ROOT))
    celery = [sys.executable, "-m", "celery"]
    worker = subprocess.Popen([*celery, "-A", "devops_console", "worker", "-Q", "celery,tasks", "-c", str(concurrency),
                               "-l", "warning", "-n", "bench@%h"], cwd=ROOT, env=env)
    floor = subprocess.Popen([*celery, "-A", "bench.floor_app", "worker", "-Q", "floor", "-c", str(concurrency),
                              "-l", "warning", "-n", "floor@%h"], cwd=ROOT, env=env)
    from devops_console.celery import app

    deadline = time.monotonic() + 60
    while len(app.control.ping(timeout=0.5) or []) < 2 and time.monotonic() < deadline:
        pass
    return [worker, floor, redis], broker


def make_pipelines(stamp_dir: Path, count: int):
    """``count`` one-task pipelines of one project, each allowing 20 concurrent runs (X3)."""
    from django.contrib.auth import get_user_model

    from devops_console.core.services import create_project
    from pipelines import services
    from pipelines.models import Pipeline

    user = get_user_model().objects.create_user("bench", password="x")
    project = create_project(user, "bench")
    command = f"date +%s.%N > {stamp_dir}/run-${{PIPELINE_ID}}-${{PIPELINE_NUMBER}}"
    pipelines = [
        services.create_pipeline(user, project, {"name": f"trivial-{i}", "stages": [
            {"name": "S", "tasks": [{"name": "t", "type": "build", "config": {"commands": command}}]}]})
        for i in range(count)
    ]  # fmt: skip
    Pipeline.objects.filter(pk__in=[p.pk for p in pipelines]).update(max_concurrent_runs=20)
    return user, list(Pipeline.objects.filter(pk__in=[p.pk for p in pipelines]).order_by("pk"))


def wait_file(path: Path, timeout=30.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return float(path.read_text())
        time.sleep(0.002)
    raise TimeoutError(path)


def latency(user, pipeline, stamp_dir, floor_app, samples):
    from pipelines.runs.start import start_run

    engine_ms, floor_ms = [], []
    for i in range(samples):
        t0 = time.time()
        run = start_run(user, pipeline)
        engine_ms.append((wait_file(stamp_dir / f"run-{pipeline.pk}-{run.number}") - t0) * 1000)
        stamp = stamp_dir / f"floor-{i}"
        t0 = time.time()
        floor_app.send_task("floor.spawn", args=[str(stamp)], queue="floor")
        floor_ms.append((wait_file(stamp) - t0) * 1000)
    return engine_ms, floor_ms


def throughput(user, pipelines, count):
    """Runs per second: ``count`` runs started round-robin on ``pipelines`` until all have finished."""
    from pipelines.runs.models import Run
    from pipelines.runs.start import start_run

    t0 = time.monotonic()
    for i in range(count):
        start_run(user, pipelines[i % len(pipelines)])
    while Run.objects.filter(pipeline__in=pipelines, state__in=["queued", "running"]).exists():
        time.sleep(0.02)
    return count / (time.monotonic() - t0)


def floor_throughput(floor_app, stamp_dir, count):
    t0 = time.monotonic()  # like the engine's clock, it includes sending (the engine's includes start_run)
    results = [floor_app.send_task("floor.spawn", args=[str(stamp_dir / f"tp-{i}")], queue="floor")
               for i in range(count)]
    for result in results:
        result.get(timeout=60)
    return count / (time.monotonic() - t0)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--throughput", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="engine/floor pairs per spread (median ratio judged)")
    parser.add_argument("--concurrency", type=int, default=2, help="processes per worker (engine and floor alike)")
    parser.add_argument("--spread", type=int, action="append",
                        help="pipelines the throughput runs are spread over (repeatable; default 1 and 20)")
    parser.add_argument("--database-url", help="e.g. postgres://postgres@127.0.0.1:5432/bench (default: SQLite)")
    parser.add_argument("--report", type=Path, help="write the results into this Markdown file (docs/benchmarks.md)")
    args = parser.parse_args()
    spreads = args.spread or [1, 20]
    setup_env(args.database_url)
    processes, broker = start_processes(args.concurrency)
    try:
        from celery import Celery

        floor_app = Celery("client", broker=broker, backend=broker, set_as_current=False)
        stamp_dir = Path(tempfile.mkdtemp(prefix="bench-engine-"))
        user, pipelines = make_pipelines(stamp_dir, max(spreads))
        engine_ms, floor_ms = latency(user, pipelines[0], stamp_dir, floor_app, args.samples)
        rates = []
        for spread in spreads:  # each against a floor measured right after it, in the same conditions
            rounds = [(throughput(user, pipelines[:spread], args.throughput),
                       floor_throughput(floor_app, stamp_dir, args.throughput)) for _ in range(args.rounds)]
            rates.append((spread, rounds))
        from django.db import connection

        machine, vendor = machine_line(), connection.vendor
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    body = report(engine_ms, floor_ms, rates, args, machine)
    print(body)
    if args.report:
        write_report(args.report, "engine", vendor, body)


def report(engine_ms, floor_ms, rates, args, machine) -> str:
    lines = [
        f"`bench/engine.py --samples {args.samples} --throughput {args.throughput} --rounds {args.rounds} "
        f"--concurrency {args.concurrency}`. " + machine,
        "",
        "| measure | engine | floor | ratio per round | goal |",
        "|---|---:|---:|---|---|",
        f"| start → process p50 / p95 | {statistics.median(engine_ms):.0f} / {pct(engine_ms, 95):.0f} ms "
        f"| {statistics.median(floor_ms):.0f} / {pct(floor_ms, 95):.0f} ms | "
        f"| p50 ≤ 150 ms ({'met' if statistics.median(engine_ms) <= 150 else 'not met'}) |",
    ]
    for spread, rounds in rates:
        where = "one pipeline (X3 queue: 20 run, the rest wait)" if spread == 1 else f"{spread} pipelines"
        ratios = [rate / floor for rate, floor in rounds]
        median = statistics.median(ratios)
        lines.append(
            f"| one-task runs per second, {where} (median of {len(rounds)}) "
            f"| {statistics.median(r for r, _ in rounds):.1f} | {statistics.median(f for _, f in rounds):.1f} "
            f"| {' / '.join(f'{r:.2f}' for r in ratios)} "
            f"| median ratio ≥ ⅓: {median:.2f} ({'met' if median >= 1 / 3 else 'not met'}) |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
