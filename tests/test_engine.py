"""The execution engine on a real Celery worker and real Redis (X1–X9, R3, R4, R6, K1)."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from urllib.parse import quote

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from pipelines.models import Pipeline
from pipelines.runs import engine
from pipelines.runs.models import BuildPackage, Run, StageRun, TaskRun
from pipelines.runs.start import start_run
from tests.engine_support import build, log_of, make_pipeline, stage, task_states, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker", "drain_runs")]


def test_build_runs_commands_logs_and_uploads_a_package(world):
    """K1, X2: a build task runs its commands, logs them and uploads matched artifacts as packages."""
    pipeline = make_pipeline(
        world,
        [
            stage(
                "Build",
                build(
                    commands="echo hello from ${PIPELINE_NUMBER}; mkdir -p dist; echo payload > dist/app.txt",
                    artifacts=["dist/*"],
                    package="web-app",
                    version="1.${PIPELINE_NUMBER}",
                ),
            )
        ],
    )
    run = wait_for(start_run(world.users["developer"], pipeline))
    assert run.state == "succeeded", task_states(run)
    assert "hello from 1" in log_of(run, "compile")
    package = BuildPackage.objects.get(run=run)
    assert (package.name, package.version, package.filename) == ("web-app", "1.1", "dist/app.txt")
    assert package.file.read() == b"payload\n"


def test_failure_stops_the_run_and_skips_later_stages(world):
    pipeline = make_pipeline(world, [stage("A", build(commands="exit 3")), stage("B", build("later"))])
    run = wait_for(start_run(world.users["developer"], pipeline))
    assert run.state == "failed"
    assert task_states(run) == {"A/compile": "failed", "B/later": "skipped"}
    assert TaskRun.objects.get(name="compile").exit_code == 3


def test_parallel_stage_runs_tasks_at_the_same_time(world):
    """P5: tasks of a parallel stage run concurrently."""
    marker = "date +%s.%N > start; sleep 1.5; date +%s.%N > end; cat start end"
    pipeline = make_pipeline(world, [stage("P", build("a", marker), build("b", marker), parallel=True)])
    run = wait_for(start_run(world.users["developer"], pipeline))
    assert run.state == "succeeded"
    a, b = (list(map(float, log_of(run, n).split())) for n in ("a", "b"))
    assert a[0] < b[1] and b[0] < a[1]  # the two intervals overlap


def test_manual_stage_waits_for_confirmation(world):
    """X6: the run waits at a manual stage until a user with execute permission confirms."""
    pipeline = make_pipeline(world, [stage("Build", build()), stage("Deploy", build("ship"), manual=True)])
    run = wait_for(start_run(world.users["developer"], pipeline), states={"waiting"})
    deploy = StageRun.objects.get(run=run, name="Deploy")
    assert deploy.state == "waiting" and task_states(run)["Deploy/ship"] == "pending"
    assert engine.confirm_stage(run, deploy, world.users["tester"])
    run = wait_for(run)
    assert run.state == "succeeded" and StageRun.objects.get(pk=deploy.pk).confirmed_by == world.users["tester"]


def test_delay_waits_without_a_worker_then_continues(world):
    """X7: a delay task waits the configured time (state waiting, no process)."""
    pipeline = make_pipeline(
        world, [stage("S", {"name": "pause", "type": "delay", "config": {"seconds": 2}}, build("after"))]
    )
    started = time.monotonic()
    run = wait_for(start_run(world.users["developer"], pipeline), states={"waiting"})
    assert TaskRun.objects.get(name="pause").pid is None
    run = wait_for(run)
    assert run.state == "succeeded" and time.monotonic() - started >= 2


@pytest.mark.parametrize(
    "mode, votes, outcome",
    [
        ("any", [("manager", True)], "succeeded"),
        ("all", [("manager", True), ("tester", True)], "succeeded"),
        ("all", [("manager", True), ("tester", False)], "failed"),
    ],
)
def test_manual_review(world, mode, votes, outcome):
    """X7: named reviewers approve (any one or all); a rejection fails the run."""
    review = {"name": "review", "type": "manual_review", "config": {"reviewers": ["manager", "tester"], "mode": mode}}
    pipeline = make_pipeline(world, [stage("S", review, build("after"))])
    run = wait_for(start_run(world.users["developer"], pipeline), states={"waiting"})
    task = TaskRun.objects.get(name="review")
    assert engine.review(run, task, world.users["viewer"], True) == "not_reviewer"
    for actor, approve in votes:
        engine.review(run, task, world.users[actor], approve)
    assert wait_for(run).state == outcome


def test_stop_kills_the_whole_process_group(world, tmp_path):
    """X2: stop kills the task's process group (children too) and marks the run stopped."""
    pids = tmp_path / "pids"
    pipeline = make_pipeline(
        world,
        [
            stage(
                "S", build(commands=f"sleep 300 & echo $! >> {pids}; sleep 300 & echo $! >> {pids}; echo started; wait")
            )
        ],
    )
    run = start_run(world.users["developer"], pipeline)
    wait_for(run, what=lambda r: pids.exists() and len(pids.read_text().split()) == 2)
    assert engine.stop_run(run)
    run = wait_for(run)
    assert run.state == "stopped" and task_states(run) == {"S/compile": "stopped"}
    deadline = time.monotonic() + 15
    alive = [int(p) for p in pids.read_text().split()]
    while alive and time.monotonic() < deadline:
        alive = [
            p for p in alive if os.path.exists(f"/proc/{p}") and "Z" not in open(f"/proc/{p}/stat").read().split()[2]
        ]
        time.sleep(0.2)
    assert alive == []
    assert not engine.stop_run(run)  # stopping a finished run changes nothing


def test_twenty_simultaneous_starts(world):
    """X3: 20 simultaneous starts → numbers 1..20 gap-free, 5 running, 15 queued in order, none lost."""
    pipeline = make_pipeline(world, [stage("S", build(commands="sleep 30"))])
    errors, barrier = [], threading.Barrier(20)

    def starter():
        try:
            barrier.wait()
            start_run(world.users["developer"], pipeline)
        except Exception as exc:  # noqa: BLE001 — collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=starter) for _ in range(20)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    deadline = time.monotonic() + 20
    while Run.objects.filter(state="running").count() < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    runs = list(Run.objects.filter(pipeline=pipeline).order_by("number"))
    assert [r.number for r in runs] == list(range(1, 21))
    assert [r.number for r in runs if r.state == "running"] == [1, 2, 3, 4, 5]
    assert [r.state for r in runs[5:]] == ["queued"] * 15
    from pipelines.runs.start import queue_position

    assert [queue_position(r) for r in runs[5:]] == list(range(1, 16))
    for run in runs:
        engine.stop_run(run)


def test_queued_run_starts_when_a_slot_frees(world):
    """X3: with a limit of 1 (per pipeline), the second run waits in the queue and starts when the first ends."""
    pipeline = make_pipeline(world, [stage("S", build(commands="sleep 1"))])
    Pipeline.objects.filter(pk=pipeline.pk).update(max_concurrent_runs=1)
    first = start_run(world.users["developer"], pipeline)
    second = start_run(world.users["developer"], pipeline)
    assert wait_for(first).state == "succeeded" and wait_for(second).state == "succeeded"
    second.refresh_from_db()
    assert second.started >= first.finished


def test_auto_increment_with_concurrent_runs(world):
    """R6: each fresh run takes the next version; 5 concurrent runs never share one."""
    pipeline = make_pipeline(
        world,
        [stage("S", build(commands="echo v=${releaseversion}"))],
        parameters=[{"name": "releaseversion", "type": "auto_increment", "default": "1.0.0", "runtime": True}],
    )
    barrier, numbers = threading.Barrier(5), []

    def starter():
        barrier.wait()
        numbers.append(start_run(world.users["developer"], pipeline).parameters["releaseversion"])
        connection.close()

    threads = [threading.Thread(target=starter) for _ in range(5)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(numbers) == ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4"]
    pipeline.refresh_from_db()
    assert pipeline.definition["parameters"][0]["default"] == "1.0.5"
    run = wait_for(Run.objects.get(pipeline=pipeline, number=1))
    assert "v=" + run.parameters["releaseversion"] in log_of(run, "compile")


SECRET = "Sup3r-Secret/Value+42"


def test_secret_is_masked_in_every_encoding(world):
    """R4: the value, its base64, URL-encoded and JSON-escaped forms, and a value split across writes."""
    b64 = base64.b64encode(SECRET.encode()).decode()
    commands = "; ".join(
        [
            'echo "raw=$token"',
            f"echo 'b64={b64}'",
            f"echo 'url={quote(SECRET, safe='')}'",
            f"echo 'json={json.dumps(SECRET)[1:-1]}'",
            'printf "split=%s" "${token:0:7}"; sleep 1; printf "%s\\n" "${token:7}"',
        ]
    )
    pipeline = make_pipeline(
        world,
        [stage("S", build(commands=commands))],
        parameters=[{"name": "token", "type": "string", "default": SECRET, "secret": True}],
    )
    run = wait_for(start_run(world.users["developer"], pipeline))
    text = log_of(run, "compile")
    assert run.state == "succeeded", text
    for form in (SECRET, b64, quote(SECRET, safe=""), json.dumps(SECRET)[1:-1], SECRET[:7] + SECRET[7:]):
        assert form not in text
    assert text.count("******") >= 5 and "split=" in text


def test_bad_start_requests_change_nothing(world):
    """X1 bad input: non-runtime value, enum value outside its list, unknown task, tag without repo source."""
    pipeline = make_pipeline(
        world,
        [stage("S", build())],
        parameters=[
            {"name": "fixed", "type": "string", "default": "a"},
            {"name": "env", "type": "enum", "choices": ["dev", "prod"], "default": "dev", "runtime": True},
        ],
    )
    for kwargs, field in [
        ({"parameters": {"fixed": "b"}}, "parameters.fixed"),
        ({"parameters": {"env": "qa"}}, "parameters.env"),
        ({"tasks": ["S/nope"]}, "tasks"),
        ({"tag": "v1"}, "tag"),
    ]:
        with pytest.raises(ValidationError) as exc:
            start_run(world.users["developer"], pipeline, **kwargs)
        assert field in exc.value.message_dict
    assert not Run.objects.exists()
