"""Engine benchmark (issue 5): trigger → first task process started (p50/p95) and trivial one-task runs
per second, each measured in the same session against the floor — a bare Celery task starting the same
subprocess. Writes a section into docs/benchmarks.md.

    .venv/bin/python bench/engine.py [--samples 40] [--throughput 60]

Uses a throwaway SQLite database and embedded Redis under var/bench-engine/ and starts its own workers.
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


def make_pipeline(stamp_dir: Path):
    from django.contrib.auth import get_user_model

    from devops_console.core.services import create_project
    from pipelines import services

    user = get_user_model().objects.create_user("bench", password="x")
    project = create_project(user, "bench")
    command = f"date +%s.%N > {stamp_dir}/run-${{PIPELINE_NUMBER}}"
    pipeline = services.create_pipeline(user, project, {"name": "trivial", "stages": [
        {"name": "S", "tasks": [{"name": "t", "type": "build", "config": {"commands": command}}]}]})
    pipeline.max_concurrent_runs = 20
    pipeline.save(update_fields=["max_concurrent_runs"])
    return user, pipeline


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
        engine_ms.append((wait_file(stamp_dir / f"run-{run.number}") - t0) * 1000)
        stamp = stamp_dir / f"floor-{i}"
        t0 = time.time()
        floor_app.send_task("floor.spawn", args=[str(stamp)], queue="floor")
        floor_ms.append((wait_file(stamp) - t0) * 1000)
    return engine_ms, floor_ms


def throughput(user, pipeline, stamp_dir, floor_app, count):
    from pipelines.runs.models import Run
    from pipelines.runs.start import start_run

    t0 = time.monotonic()
    for _ in range(count):
        start_run(user, pipeline)
    while Run.objects.filter(pipeline=pipeline, state__in=["queued", "running"]).exists():
        time.sleep(0.01)
    engine_rate = count / (time.monotonic() - t0)
    t0 = time.monotonic()  # like the engine's clock, it includes sending (the engine's includes start_run)
    results = [floor_app.send_task("floor.spawn", args=[str(stamp_dir / f"tp-{i}")], queue="floor")
               for i in range(count)]
    for result in results:
        result.get(timeout=60)
    floor_rate = count / (time.monotonic() - t0)
    return engine_rate, floor_rate


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--throughput", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2, help="processes per worker (engine and floor alike)")
    parser.add_argument("--database-url", help="e.g. postgres://postgres@127.0.0.1:5432/bench (default: SQLite)")
    args = parser.parse_args()
    setup_env(args.database_url)
    processes, broker = start_processes(args.concurrency)
    try:
        from celery import Celery

        floor_app = Celery("client", broker=broker, backend=broker)
        stamp_dir = Path(tempfile.mkdtemp(prefix="bench-engine-"))
        user, pipeline = make_pipeline(stamp_dir)
        engine_ms, floor_ms = latency(user, pipeline, stamp_dir, floor_app, args.samples)
        engine_rate, floor_rate = throughput(user, pipeline, stamp_dir, floor_app, args.throughput)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    report(engine_ms, floor_ms, engine_rate, floor_rate, args)


def report(engine_ms, floor_ms, engine_rate, floor_rate, args):
    lines = [
        "## Engine: trigger → first process, and trivial runs per second",
        "",
        f"Measured by `bench/engine.py --samples {args.samples} --throughput {args.throughput}` on "
        f"{os.cpu_count()} cores, SQLite + embedded Redis, one worker with 2 processes (and a floor worker with 2).",
        "The floor is a bare Celery task that starts the same subprocess (`bash -c 'date … > file'`).",
        "",
        "| measure | engine | floor | goal |",
        "|---|---|---|---|",
        f"| start → process p50 | {statistics.median(engine_ms):.0f} ms | {statistics.median(floor_ms):.0f} ms "
        f"| ≤ 150 ms |",
        f"| start → process p95 | {pct(engine_ms, 95):.0f} ms | {pct(floor_ms, 95):.0f} ms | |",
        f"| one-task runs per second | {engine_rate:.1f} | {floor_rate:.1f} | ≥ ⅓ of the floor "
        f"({'met' if engine_rate >= floor_rate / 3 else 'not met'}) |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    docs = ROOT / "docs" / "benchmarks.md"
    docs.parent.mkdir(exist_ok=True)
    existing = docs.read_text() if docs.exists() else "# Benchmarks\n\n"
    marker = "## Engine: trigger → first process"
    if marker in existing:
        head, _sep, tail = existing.partition(marker)
        rest = tail.split("\n## ", 1)
        existing = head + (("## " + rest[1]) if len(rest) > 1 else "")
    docs.write_text(existing.rstrip() + "\n\n" + text)


if __name__ == "__main__":
    main()
