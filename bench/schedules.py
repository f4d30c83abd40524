"""Benchmark of scheduled runs (T5; not a test): start delay against the due time, and runs per slot.

Starts its own embedded Redis, two real Celery workers (orchestration and commands) and TWO real beats
(django-celery-beat's database scheduler), creates pipelines whose schedule points fall due over the next
minutes, and measures per slot ``run.created − scheduled_for`` (p50/p95/p99/max), the task's own start
delay, and the number of runs per slot (must be exactly 1 although both beats fire every slot).

    DJANGO_SETTINGS_MODULE=devops_console.settings .venv/bin/python bench/schedules.py \\
        [--scenario 200x1 --scenario 50x4] [--database-url postgres://…/bench] [--report docs/benchmarks.md]

A scenario ``PxK`` is P pipelines with K points each, at K consecutive minutes: 200x1 puts 200 slots on
the same minute (a burst, like every pipeline at 02:00); 50x4 spreads 200 slots over 4 minutes. Without
``--database-url`` it uses a throwaway SQLite file under ``var/bench-schedules/``. Goal: p99 ≤ 1 s late,
exactly one run per slot.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from _common import machine_line, write_report

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench-schedules"
ZONE = "Europe/Berlin"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", action="append", help="PIPELINESxPOINTS (default: 200x1 and 50x4)")
    parser.add_argument("--beats", type=int, default=2)
    parser.add_argument("--orchestrators", type=int, default=2, help="processes of the orchestration worker")
    parser.add_argument("--runners", type=int, default=2, help="processes of the worker running commands")
    parser.add_argument("--database-url", help="e.g. postgres://postgres@127.0.0.1:5432/bench")
    parser.add_argument("--report", help="markdown file whose section for this backend is replaced")
    parser.add_argument("--hold", action="store_true", help="runs wait at a manual stage: no execution load")
    args = parser.parse_args(argv)
    args.scenario = [tuple(int(x) for x in s.lower().split("x")) for s in args.scenario or ["200x1", "50x4"]]
    return args


def configure(args) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devops_console.settings")
    shutil.rmtree(BENCH_DIR, ignore_errors=True)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    os.environ["DEVOPS_VAR_DIR"] = str(BENCH_DIR)
    os.environ["LOG_LEVEL"] = "WARNING"
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
        os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 50)
        os.environ.setdefault("FIELD_ENCRYPTION_KEY", "hUq0A0SRn7t8bXvZ1qxz0oU2w0k1tgMZ4Zf7Q2yXe6Y=")
    import django

    django.setup()


# --- processes ------------------------------------------------------------------------------------


def start_services(args) -> list[subprocess.Popen]:
    """Embedded Redis (unless REDIS_URL), one worker, the beats; all inherit this environment."""
    from celery import Celery
    from django.conf import settings

    from devops_console import embedded_redis
    from devops_console.core.management.commands.serve import RUNNER_NICENESS

    processes = []
    if not os.environ.get("REDIS_URL"):
        processes.append(embedded_redis.start(BENCH_DIR, settings.EMBEDDED_REDIS_SOCKET))
    celery = [sys.executable, "-m", "celery", "-A", "devops_console"]
    log = open(BENCH_DIR / "celery.log", "ab")  # kept open for the children
    # As scripts/run deploys them: an orchestration worker (schedules start runs there) and a command runner.
    workers = (("orchestrator", "celery", args.orchestrators), ("runner", "tasks", args.runners))
    for name, queue, concurrency in workers:
        worker = celery + ["worker", "--pool=prefork", f"--concurrency={concurrency}", "-Q", queue,
                           "-l", "warning", "-n", f"{name}@%h"]  # fmt: skip
        niceness = RUNNER_NICENESS if name == "runner" else 0  # as manage.py serve starts it
        processes.append(subprocess.Popen(worker, cwd=ROOT, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                          preexec_fn=(lambda n=niceness: os.nice(n)) if niceness else None))
    app = Celery("bench", broker=settings.CELERY_BROKER_URL, backend=settings.CELERY_RESULT_BACKEND,
                 set_as_current=False)  # fmt: skip
    deadline = time.monotonic() + 60
    while len(app.control.ping(timeout=0.5) or []) < 2:
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            raise RuntimeError(f"the workers did not start; see {BENCH_DIR / 'celery.log'}")
    for n in range(args.beats):
        beat = celery + ["beat", "-l", "warning", "--pidfile=", "-s", str(BENCH_DIR / f"beat-{n}")]
        processes.append(subprocess.Popen(beat, cwd=ROOT, stdout=log, stderr=log, stdin=subprocess.DEVNULL))
    time.sleep(8)  # the beats load their schedule
    if any(p.poll() is not None for p in processes):
        raise RuntimeError(f"a process exited; see {BENCH_DIR / 'celery.log'}")
    return processes


def stop_all(processes) -> None:
    for process in reversed(processes):
        process.terminate()
    for process in reversed(processes):
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


# --- one scenario ---------------------------------------------------------------------------------


def run_scenario(owner, project, tag: str, n_pipelines: int, n_points: int, hold: bool) -> dict:
    """Create the pipelines with points due from the first whole minute after seeding, wait, measure."""
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from pipelines import services
    from pipelines.runs.models import Run
    from pipelines.triggers.models import ScheduleSlot

    seed_estimate = timedelta(seconds=0.25 * n_pipelines + 20)
    first = (timezone.now() + seed_estimate).replace(second=0, microsecond=0) + timedelta(minutes=1)
    zone = ZoneInfo(ZONE)
    times = [(first + timedelta(minutes=k)).astimezone(zone).strftime("%H:%M") for k in range(n_points)]
    stages = [{"name": "Build", "tasks": [{"name": "noop", "type": "build", "config": {"commands": "true"}}],
               "manual": hold}]  # fmt: skip
    points = [{"enabled": True, "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "time": t} for t in times]
    started = time.perf_counter()
    pipelines = [
        services.create_pipeline(owner, project, {"name": f"{tag}-{i:04d}", "stages": stages,
                                                  "triggers": {"schedules": points, "timezone": ZONE}})
        for i in range(n_pipelines)
    ]  # fmt: skip
    seeded_s = time.perf_counter() - started
    if timezone.now() > first - timedelta(seconds=5):
        raise RuntimeError(f"seeding took {seeded_s:.0f} s, past the first slot; use fewer pipelines")
    expected = n_pipelines * n_points
    last = first + timedelta(minutes=n_points - 1)
    slots = ScheduleSlot.objects.filter(pipeline__in=pipelines)
    deadline = last + timedelta(seconds=120)
    while timezone.now() < deadline:
        if timezone.now() > last + timedelta(seconds=15) and slots.filter(run__isnull=False).count() >= expected:
            break
        time.sleep(1)
    time.sleep(5)  # late duplicates, if any, would show up now
    rows = list(slots.select_related("run"))
    runs = Run.objects.filter(pipeline__in=pipelines, trigger="schedule")
    per_slot = Counter(r.trigger_detail.get("slot") for r in runs)
    run_delays = sorted((r.run.created - r.scheduled_for).total_seconds() for r in rows if r.run)
    return {
        "name": f"{n_pipelines} pipelines × {n_points} point{'s' if n_points > 1 else ''}",
        "expected": expected,
        "slots": len(rows),
        "fired": sum(r.status == "fired" for r in rows),
        "runs": runs.count(),
        "one_run_per_slot": runs.count() == expected and set(per_slot.values()) == {1} and len(rows) == expected,
        "attempts": Counter(r.attempts for r in rows),
        "task": sorted(r.delay for r in rows),
        "run": run_delays,
        "seeded_s": seeded_s,
    }


def pct(values: list[float], p: float) -> float:
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)] if values else float("nan")


# --- reporting ------------------------------------------------------------------------------------


def markdown(args, results: list[dict]) -> str:
    runs = ("wait at a manual first stage (nothing executes)" if args.hold
            else "are one `true` build each, executed by the runner worker")  # fmt: skip
    lines = [
        f"{args.beats} beats (database scheduler), an orchestration worker × {args.orchestrators} and a runner "
        f"worker × {args.runners} processes, embedded Redis; "
        f"points in {ZONE}; the runs {runs}.",
        "",
        machine_line(),
        "",
        "| scenario | slots | runs | exactly 1 run per slot | attempts per slot | run start delay p50 / p95 / "
        "p99 / max (s) | slot claimed after p50 / p99 (s) |",
        "|---|---:|---:|---|---|---|---|",
    ]
    met, missed = [], []
    for r in results:
        d, t = r["run"], r["task"]
        (met if pct(d, 99) <= 1 and r["one_run_per_slot"] else missed).append(f"{r['name']} ({pct(d, 99):.2f} s)")
        attempts = ", ".join(f"{n}: {c}" for n, c in sorted(r["attempts"].items()))
        lines.append(
            f"| {r['name']} | {r['slots']}/{r['expected']} | {r['runs']} | {'yes' if r['one_run_per_slot'] else 'NO'}"
            f" | {attempts} | {pct(d, 50):.3f} / {pct(d, 95):.3f} / {pct(d, 99):.3f} / {d[-1] if d else 0:.3f}"
            f" | {pct(t, 50):.3f} / {pct(t, 99):.3f} |"
        )
    verdict = "; ".join(
        part
        for part in (
            f"**met** for {', '.join(met)}" if met else "",
            f"**NOT met** for {', '.join(missed)}" if missed else "",
        )
        if part
    )
    lines += ["", f"Goal p99 ≤ 1 s late with exactly one run per slot: {verdict}."]
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    configure(args)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from devops_console.core.services import create_project

    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user("bench-owner", password="x" * 20)
    processes = start_services(args)
    try:
        results = []
        for index, (n_pipelines, n_points) in enumerate(args.scenario):
            project = create_project(owner, f"bench-{index}")
            result = run_scenario(owner, project, f"s{index}", n_pipelines, n_points, args.hold)
            d = result["run"]
            print("run start delay by decile (s):", [round(d[int(len(d) * k / 10)], 3) for k in range(10)], flush=True)
            print(f"{result['name']}: p50 {pct(d, 50):.3f} s, p99 {pct(d, 99):.3f} s, runs {result['runs']}/"
                  f"{result['expected']}, one per slot: {result['one_run_per_slot']}", flush=True)  # fmt: skip
            results.append(result)
    finally:
        stop_all(processes)
    body = markdown(args, results)
    print(body)
    if args.report:
        write_report(Path(args.report), "schedules", connection.vendor + ("-held" if args.hold else ""), body)


if __name__ == "__main__":
    main()
