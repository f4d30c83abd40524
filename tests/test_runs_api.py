"""Runs REST API (API.md runs rows, "Starting a run (X1)"): the start contract, bad input, permissions on
every URL (A6), run detail without secret values (R4), actions (X2, X5–X7), logs by offset, build
packages and their downloads (X5, K1), history window and filters (X4)."""

from __future__ import annotations

import datetime
import io
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from pipelines import services
from pipelines.models import GateTemplate, Pipeline
from pipelines.runs.logs import LogWriter
from pipelines.runs.models import BuildPackage, LogChunk, Run, StageRun, State, TaskRun
from pipelines.runs.start import start_run
from tests.engine_support import build, make_pipeline, stage
from tests.matrix import check_matrix, expect

pytestmark = pytest.mark.django_db

PARAMS = [
    {"name": "greeting", "type": "string", "default": "hello", "runtime": True},
    {"name": "fixed", "type": "string", "default": "x"},
    {"name": "env", "type": "enum", "choices": ["dev", "prod"], "default": "dev", "runtime": True},
    {"name": "token", "type": "string", "secret": True, "runtime": True, "default": "stored-secret"},
]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def gate_pipeline(world, name="gated"):
    gate = GateTemplate.objects.create(name="No issues", items=[{"metric": "issue_count", "threshold": 0}])
    check = {"name": "lint", "type": "code_check", "config": {"preset": "ruff"}}
    stages = [
        stage("Build", build(), build("docs")),
        stage("Check", build("unit"), check, gates=[{"template": gate.pk}]),
        stage("Always", build("notify"), always_run=True),
    ]
    return make_pipeline(world, stages, name=name)


def simple_pipeline(world, name="web", project=None):
    if project is not None:
        return services.create_pipeline(
            world.users["other_creator"], project, {"name": name, "stages": [stage("Build", build())]}
        )
    return make_pipeline(world, [stage("Build", build())], parameters=PARAMS, name=name)


def api(world, pipeline, rest=""):
    return f"/api/v1/projects/{pipeline.project_id}/pipelines/{pipeline.pk}/runs/{rest}"


def client_for(client, world, actor):
    client.defaults["HTTP_X_AUTH_TOKEN"] = world.token(actor)
    return client


def finish(run, state=State.FAILED, task_state=None):
    """Put a run in a finished state as the engine would."""
    now = timezone.now()
    TaskRun.objects.filter(stage__run=run).update(state=task_state or state, started=now, finished=now, exit_code=1)
    StageRun.objects.filter(run=run).update(state=state, started=now, finished=now)
    Run.objects.filter(pk=run.pk).update(state=state, started=now, finished=now)
    run.refresh_from_db()
    return run


def write_log(task, text, secrets=()):
    writer = LogWriter(task, secrets)
    writer.write(text)
    writer.close()
    task.refresh_from_db()


def add_package(run, name="web-app", version="1.0.0", filename="dist/app.txt", content=b"payload"):
    task = TaskRun.objects.filter(stage__run=run).first()
    package = BuildPackage(
        project_id=run.pipeline.project_id,
        run=run,
        task=task,
        name=name,
        version=version,
        filename=filename,
        size=len(content),
        sha256="ab" * 32,
    )
    package.file.save(f"{name}-{version}.bin", ContentFile(content), save=True)
    return package


# ---- X1: the start contract ---------------------------------------------------------------------------


def test_start_answers_201_with_number_state_and_queue_position(client, world):
    """X1, X3, API.md "Starting a run": 201 with the run and its number; running when a slot is free, else
    queued with its queue position."""
    pipeline = simple_pipeline(world)
    Pipeline.objects.filter(pk=pipeline.pk).update(max_concurrent_runs=1)
    client_for(client, world, "developer")
    body = {"parameters": {"greeting": "hi", "env": "prod"}, "tasks": ["Build/compile"]}
    first = client.post(api(world, pipeline), body, content_type="application/json")
    assert first.status_code == 201, first.content
    data = first.json()
    assert (data["number"], data["state"], data["queue_position"]) == (1, "running", None)
    assert data["stages"][0]["tasks"][0]["state"] == "running"  # handed to a worker in the same transaction
    assert data["parameters"] == {"greeting": "hi", "env": "prod"}
    assert first["Location"] == data["url"] == api(world, pipeline, "1/")
    second = client.post(api(world, pipeline), {}, content_type="application/json").json()
    assert (second["number"], second["state"], second["queue_position"]) == (2, "queued", 1)
    assert [s["name"] for s in second["stages"]] == ["Build"]
    assert second["stages"][0]["tasks"][0]["state"] == "pending"
    third = client.post(api(world, pipeline), {}, content_type="application/json").json()
    assert (third["number"], third["state"], third["queue_position"]) == (3, "queued", 2)


def test_secret_runtime_values_never_come_back(client, world):
    """R4: a secret runtime value is accepted, stored apart and never returned."""
    pipeline = simple_pipeline(world)
    client_for(client, world, "developer")
    response = client.post(
        api(world, pipeline), {"parameters": {"token": "s3cr3t-value"}}, content_type="application/json"
    )
    assert response.status_code == 201
    assert b"s3cr3t-value" not in response.content and b"stored-secret" not in response.content
    assert response.json()["secret_parameters"] == ["token"]
    detail = client.get(api(world, pipeline, "1/"))
    assert b"s3cr3t-value" not in detail.content and b"stored-secret" not in detail.content


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"parameters": {"fixed": "y"}}, "parameters.fixed"),  # not a runtime parameter
        ({"parameters": {"env": "staging"}}, "parameters.env"),  # enum outside its list (R5)
        ({"parameters": {"nope": "1"}}, "parameters.nope"),
        ({"tasks": ["Build/missing"]}, "tasks"),
        ({"tasks": "Build/compile"}, "tasks"),
        ({"tag": "v1"}, "tag"),  # tags only for repository sources
        ({"branch": "a b"}, "branch"),
        ({"colour": "red"}, "colour"),
        ([1, 2], "non_field_errors"),
    ],
)
def test_bad_start_input_is_a_400_with_the_field(client, world, body, field):
    pipeline = simple_pipeline(world)
    client_for(client, world, "developer")
    response = client.post(api(world, pipeline), body, content_type="application/json")
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["error_code"].startswith("PIPELINES.400") and field in data["errors"]
    assert not Run.objects.exists()


def test_gate_and_always_run_tasks_are_forced_in(client, world):
    """X1: deselected gate tasks run when a task of their stage runs; always-run stages stay selected."""
    pipeline = gate_pipeline(world)
    client_for(client, world, "developer")
    response = client.post(api(world, pipeline), {"tasks": ["Check/unit"]}, content_type="application/json")
    assert response.status_code == 201, response.content
    run = Run.objects.get()
    assert run.selected_tasks == ["Always/notify", "Check/lint", "Check/unit"]
    selected = {t["name"]: t["selected"] for s in response.json()["stages"] for t in s["tasks"]}
    assert selected == {"compile": False, "docs": False, "unit": True, "lint": True, "notify": True}


# ---- permissions (A6) on every URL --------------------------------------------------------------------


@pytest.fixture
def runs(world):
    """A pipeline with runs in every state an action needs, and the same in the other project."""
    review = {"name": "review", "type": "manual_review", "config": {"reviewers": ["tester"], "mode": "any"}}
    stages = [stage("Build", build()), stage("Gate", review), stage("Ship", build("ship"), manual=True)]
    pipeline = make_pipeline(world, stages, name="matrix")
    Pipeline.objects.filter(pk=pipeline.pk).update(max_concurrent_runs=1)  # X3: the waiting run holds the slot
    creator = world.users["creator"]
    waiting = start_run(creator, pipeline)
    failed = finish(start_run(creator, pipeline))
    queued = start_run(creator, pipeline)
    assert queued.state == State.QUEUED
    Run.objects.filter(pk=waiting.pk).update(state=State.WAITING)
    TaskRun.objects.filter(stage__run=waiting, name="review").update(state=State.WAITING)
    StageRun.objects.filter(run=waiting, name="Ship").update(state=State.WAITING)
    write_log(TaskRun.objects.get(stage__run=failed, name="compile"), "line one\n")
    package = add_package(failed)
    other = simple_pipeline(world, "theirs", project=world.other_project)
    other_run = finish(start_run(world.users["other_creator"], other))
    other_package = add_package(other_run)
    return {
        "pipeline": pipeline,
        "queued": queued,
        "failed": failed,
        "waiting": waiting,
        "package": package,
        "other": other,
        "other_run": other_run,
        "other_package": other_package,
    }


def _task(run, name):
    return TaskRun.objects.get(stage__run=run, name=name)


def run_urls(runs, other=False):
    """(method, url, expectation key) for every runs API URL; ``other`` gives the other project's twin."""
    p = runs["other"] if other else runs["pipeline"]
    failed = runs["other_run"] if other else runs["failed"]
    queued = runs["other_run"] if other else runs["queued"]
    waiting = runs["other_run"] if other else runs["waiting"]
    compile_task = _task(failed, "compile")
    package = runs["other_package"] if other else runs["package"]
    review = compile_task if other else _task(waiting, "review")
    ship = compile_task.stage if other else StageRun.objects.get(run=waiting, name="Ship")
    pre = f"/api/v1/projects/{p.project_id}/pipelines/{p.pk}/runs/"
    return [
        ("GET", pre, "read"),
        ("POST", pre, "start"),
        ("GET", f"{pre}{failed.number}/", "read"),
        ("POST", f"{pre}{queued.number}/stop/", "act"),
        ("POST", f"{pre}{failed.number}/retry/", "act"),
        ("POST", f"{pre}{failed.number}/fresh/", "start"),
        ("POST", f"{pre}{failed.number}/tasks/{compile_task.pk}/rerun/", "act"),
        ("POST", f"{pre}{waiting.number}/stages/{ship.pk}/confirm/", "act"),
        ("POST", f"{pre}{waiting.number}/tasks/{review.pk}/approve/", "review"),
        ("POST", f"{pre}{waiting.number}/tasks/{review.pk}/reject/", "review"),
        ("GET", f"{pre}{failed.number}/tasks/{compile_task.pk}/log/", "read"),
        ("GET", f"{pre}{failed.number}/tasks/{compile_task.pk}/log/download/", "read"),
        ("GET", f"{pre}{failed.number}/packages/", "read"),
        ("GET", f"{pre}{failed.number}/packages/{package.pk}/download/", "read"),
        ("GET", f"{pre}{failed.number}/packages/download/", "read"),
    ]


API_EXPECT = {
    "read": expect(200, anonymous=401),
    "start": expect(201, anonymous=401, participant=403, viewer=403),
    "act": expect(200, anonymous=401, participant=403, viewer=403),
    # named reviewers only (X7): everyone else who sees the run gets 403 with a reason
    "review": expect(403, anonymous=401, tester=200),
}


def test_permission_matrix_over_every_runs_api_url(world, runs):
    """A6: viewers and participants read but cannot start, stop, retry, rerun or confirm (403); outsiders
    and members on another project's URLs get 404; anonymous 401."""
    urls, others = run_urls(runs), run_urls(runs, other=True)
    for (method, url, kind), (_m, other_url, _k) in zip(urls, others, strict=True):
        check_matrix(world, method, url, API_EXPECT[kind], api=True, other_url=other_url)


def test_unknown_run_task_stage_and_package_are_404(client, world, runs):
    client_for(client, world, "developer")
    pre = api(world, runs["pipeline"])
    other_task = _task(runs["other_run"], "compile")
    assert client.get(f"{pre}99/").status_code == 404
    assert client.get(f"{pre}{runs['failed'].number}/tasks/{other_task.pk}/log/").status_code == 404
    assert client.post(f"{pre}{runs['failed'].number}/stages/{other_task.stage_id}/confirm/").status_code == 404
    assert client.get(f"{pre}{runs['failed'].number}/packages/{runs['other_package'].pk}/download/").status_code == 404


# ---- actions (X2, X5–X7) ------------------------------------------------------------------------------


def test_stop_a_finished_run_is_a_409(client, world, runs):
    client_for(client, world, "developer")
    response = client.post(api(world, runs["pipeline"], f"{runs['failed'].number}/stop/"))
    assert response.status_code == 409 and response.json()["error_code"] == "PIPELINES.4090"
    assert "already finished" in response.json()["error_msg"]


def test_stop_then_retry(client, world, runs):
    """X2 stop; X5 retry from the failure: same run, back in the queue."""
    client_for(client, world, "developer")
    run = runs["queued"]
    Run.objects.filter(pk=run.pk).update(state=State.RUNNING)
    StageRun.objects.filter(run=run, index=0).update(state=State.RUNNING)
    TaskRun.objects.filter(stage__run=run, name="compile").update(state=State.RUNNING)
    stopped = client.post(api(world, runs["pipeline"], f"{run.number}/stop/"))
    assert stopped.status_code == 200 and stopped.json()["state"] == "stopped" and stopped.json()["message"]
    retried = client.post(api(world, runs["pipeline"], f"{run.number}/retry/"))
    assert retried.status_code == 200 and retried.json()["state"] == "queued"
    assert retried.json()["number"] == run.number
    again = client.post(api(world, runs["pipeline"], f"{run.number}/retry/"))
    assert again.status_code == 409


def test_rerun_confirm_and_review_refusals(client, world, runs):
    client_for(client, world, "developer")
    pre = api(world, runs["pipeline"])
    waiting, failed = runs["waiting"], runs["failed"]
    review = _task(waiting, "review")
    # X7: a non-reviewer with execute permission gets a 403 with a clear reason
    refused = client.post(f"{pre}{waiting.number}/tasks/{review.pk}/approve/")
    assert refused.status_code == 403 and "named reviewers (tester)" in refused.json()["error_msg"]
    # rerun needs a finished run; control tasks have no rerun
    assert client.post(f"{pre}{waiting.number}/tasks/{_task(waiting, 'compile').pk}/rerun/").status_code == 409
    assert client.post(f"{pre}{failed.number}/tasks/{_task(failed, 'review').pk}/rerun/").status_code == 409
    # confirm: only a waiting manual stage
    ship = StageRun.objects.get(run=failed, name="Ship")
    assert client.post(f"{pre}{failed.number}/stages/{ship.pk}/confirm/").status_code == 409
    ship = StageRun.objects.get(run=waiting, name="Ship")
    confirmed = client.post(f"{pre}{waiting.number}/stages/{ship.pk}/confirm/")
    assert confirmed.status_code == 200
    assert {s["name"]: s["confirmed_by"] for s in confirmed.json()["stages"]}["Ship"] == "developer"


def test_named_reviewer_approves(client, world, runs):
    """X7: the named reviewer approves; the review task succeeds."""
    client_for(client, world, "tester")
    waiting = runs["waiting"]
    review = _task(waiting, "review")
    response = client.post(api(world, runs["pipeline"], f"{waiting.number}/tasks/{review.pk}/approve/"))
    assert response.status_code == 200, response.content
    task = {t["name"]: t for s in response.json()["stages"] for t in s["tasks"]}["review"]
    assert task["state"] == "succeeded" and task["approvals"] == {"tester": "approved"}
    assert task["reviewers"] == ["tester"] and task["has_log"] is False and task["log_url"] is None


def test_a_named_reviewer_with_view_only_may_review(client, world):
    """X7: being named a reviewer is the right to review, even for a role without execute (A6: the viewer
    still cannot stop or retry)."""
    review = {"name": "review", "type": "manual_review", "config": {"reviewers": ["viewer"], "mode": "any"}}
    pipeline = make_pipeline(world, [stage("Gate", review)], name="reviewed")
    run = start_run(world.users["developer"], pipeline)
    Run.objects.filter(pk=run.pk).update(state=State.WAITING)
    TaskRun.objects.filter(stage__run=run).update(state=State.WAITING)
    client_for(client, world, "viewer")
    assert client.post(api(world, pipeline, f"{run.number}/stop/")).status_code == 403
    response = client.post(api(world, pipeline, f"{run.number}/tasks/{_task(run, 'review').pk}/reject/"))
    assert response.status_code == 200 and response.json()["message"] == "Rejected: the run fails."
    assert _task(run, "review").state == "failed"


def test_fresh_run_uses_the_latest_configuration_and_same_values(client, world):
    """X5: a fresh run is a new record with the latest configuration, the same branch and runtime values."""
    pipeline = simple_pipeline(world)
    run = finish(start_run(world.users["developer"], pipeline, parameters={"env": "prod", "greeting": "hey"}))
    definition = {**pipeline.definition, "stages": [stage("Build", build()), stage("Test", build("unit"))]}
    services.update_pipeline(world.users["developer"], pipeline, definition)
    client_for(client, world, "developer")
    response = client.post(api(world, pipeline, f"{run.number}/fresh/"))
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["number"] == 2 and data["parameters"] == {"greeting": "hey", "env": "prod"}
    assert [s["name"] for s in data["stages"]] == ["Build", "Test"] and data["snapshot_changed"] is False


def test_detail_shows_snapshot_changed(client, world):
    pipeline = make_pipeline(
        world,
        [stage("Build", build(commands="echo ${v}"))],
        parameters=[{"name": "v", "type": "auto_increment", "default": "1.0.0", "runtime": True}],
    )
    run = start_run(world.users["developer"], pipeline)
    client_for(client, world, "viewer")
    detail = client.get(api(world, pipeline, f"{run.number}/")).json()
    assert detail["snapshot_changed"] is False  # the auto-increment value moved on: not a change (R6)
    assert detail["parameters"] == {"v": "1.0.0"}
    pipeline.refresh_from_db()
    changed = {**pipeline.definition, "stages": [stage("Build", build(commands="echo other ${v}"))]}
    services.update_pipeline(world.users["developer"], pipeline, changed)
    detail = client.get(api(world, pipeline, f"{run.number}/")).json()
    assert detail["snapshot_changed"] is True and detail["snapshot_changes"] == ["task Build/compile changed"]


# ---- logs ---------------------------------------------------------------------------------------------


def test_log_by_offset(client, world):
    """X2: text from a byte offset, the next offset, and complete once the task finished."""
    pipeline = simple_pipeline(world)
    run = start_run(world.users["developer"], pipeline)
    task = _task(run, "compile")
    TaskRun.objects.filter(pk=task.pk).update(state=State.RUNNING)
    write_log(task, "héllo\nworld\n")
    client_for(client, world, "viewer")
    url = api(world, pipeline, f"{run.number}/tasks/{task.pk}/log/")
    first = client.get(url).json()
    size = len("héllo\nworld\n".encode())
    assert first == {"text": "héllo\nworld\n", "next_offset": size, "complete": False, "size": size}
    middle = client.get(url, {"offset": len("héllo\n".encode())}).json()
    assert middle["text"] == "world\n" and middle["next_offset"] == size
    write_log(task, "more\n")
    tail = client.get(url, {"offset": size}).json()
    assert tail["text"] == "more\n" and tail["next_offset"] == size + 5 and tail["complete"] is False
    TaskRun.objects.filter(pk=task.pk).update(state=State.SUCCEEDED)
    end = client.get(url, {"offset": size + 5}).json()
    assert end == {"text": "", "next_offset": size + 5, "complete": True, "size": size + 5}
    assert client.get(url, {"offset": "-1"}).status_code == 400
    assert client.get(url, {"offset": "abc"}).status_code == 400


def test_log_is_masked_and_control_tasks_have_none(client, world):
    """R4: the log is stored masked; X5: delay and manual-review tasks have no log (404)."""
    stages = [stage("S", build(), {"name": "pause", "type": "delay", "config": {"seconds": 5}})]
    pipeline = make_pipeline(world, stages)
    run = finish(start_run(world.users["developer"], pipeline), State.SUCCEEDED)
    write_log(_task(run, "compile"), "token=hunter2-secret ok\n", secrets=["hunter2-secret"])
    client_for(client, world, "developer")
    text = client.get(api(world, pipeline, f"{run.number}/tasks/{_task(run, 'compile').pk}/log/")).json()["text"]
    assert "hunter2-secret" not in text and "ok" in text
    download = client.get(api(world, pipeline, f"{run.number}/tasks/{_task(run, 'compile').pk}/log/download/"))
    assert download.streaming and b"".join(download.streaming_content).decode() == text
    assert 'filename="web-1-S-compile.log"' in download["Content-Disposition"]
    pause = _task(run, "pause")
    assert client.get(api(world, pipeline, f"{run.number}/tasks/{pause.pk}/log/")).status_code == 404
    assert client.get(api(world, pipeline, f"{run.number}/tasks/{pause.pk}/log/download/")).status_code == 404


def test_log_download_streams_chunks(client, world):
    pipeline = simple_pipeline(world)
    run = finish(start_run(world.users["developer"], pipeline))
    task = _task(run, "compile")
    for i in range(5):
        LogChunk.objects.create(task=task, offset=i * 6, text=f"part{i}\n")
    client_for(client, world, "developer")
    response = client.get(api(world, pipeline, f"{run.number}/tasks/{task.pk}/log/download/"))
    chunks = list(response.streaming_content)
    assert len(chunks) == 5 and b"".join(chunks) == b"part0\npart1\npart2\npart3\npart4\n"


# ---- build packages (X5, K1) --------------------------------------------------------------------------


def test_packages_list_download_and_zip_of_the_newest_ten(client, world):
    pipeline = simple_pipeline(world)
    run = finish(start_run(world.users["developer"], pipeline), State.SUCCEEDED)
    packages = [add_package(run, version=f"1.0.{i}", content=f"v{i}".encode()) for i in range(12)]
    for i, package in enumerate(packages):  # distinct creation times, oldest first
        BuildPackage.objects.filter(pk=package.pk).update(created=timezone.now() - datetime.timedelta(minutes=20 - i))
    client_for(client, world, "viewer")
    listing = client.get(api(world, pipeline, f"{run.number}/packages/")).json()
    assert listing["count"] == 12
    first = listing["results"][0]
    assert (first["name"], first["version"], first["filename"], first["size"]) == (
        "web-app",
        "1.0.11",
        "dist/app.txt",
        3,
    )
    assert first["sha256"] == "ab" * 32 and first["task"] == "compile"
    download = client.get(first["download_url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"v11"
    assert 'filename="app.txt"' in download["Content-Disposition"]
    archive = client.get(api(world, pipeline, f"{run.number}/packages/download/"))
    assert archive.status_code == 200 and archive["Content-Type"] == "application/zip"
    assert archive.streaming  # written while it is sent
    with zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content))) as z:
        names = z.namelist()
        assert len(names) == 10 and names[0] == "web-app-1.0.11/dist/app.txt"
        assert "web-app-1.0.1/dist/app.txt" not in names and z.read("web-app-1.0.2/dist/app.txt") == b"v2"


def test_zip_of_a_run_without_packages_is_404(client, world):
    pipeline = simple_pipeline(world)
    run = finish(start_run(world.users["developer"], pipeline))
    client_for(client, world, "developer")
    assert client.get(api(world, pipeline, f"{run.number}/packages/download/")).status_code == 404
    assert client.get(api(world, pipeline, f"{run.number}/packages/")).json()["count"] == 0


# ---- history (X4) -------------------------------------------------------------------------------------


def _aged(pipeline, world, days, **fields):
    run = start_run(world.users[fields.pop("actor", "developer")], pipeline)
    Run.objects.filter(pk=run.pk).update(created=timezone.now() - datetime.timedelta(days=days), **fields)
    return run.number


def test_history_default_window_range_and_filters(client, world):
    pipeline = simple_pipeline(world)
    recent = _aged(pipeline, world, 0, state=State.FAILED)
    six = _aged(pipeline, world, 6, trigger="schedule", actor="tester")
    eight = _aged(pipeline, world, 8, state=State.SUCCEEDED)
    old = _aged(pipeline, world, 40)
    client_for(client, world, "viewer")
    url = api(world, pipeline)

    def numbers(**query):
        response = client.get(url, query)
        assert response.status_code == 200, response.content
        return [r["number"] for r in response.json()["results"]]

    assert numbers() == [six, recent]  # X4: the last 7 days by default
    today = timezone.localdate()
    assert numbers(since=(today - datetime.timedelta(days=30)).isoformat()) == [eight, six, recent]
    assert numbers(days=14) == [eight, six, recent]
    assert numbers(state="failed") == [recent]
    assert numbers(trigger="schedule") == [six]
    assert numbers(user="tester") == [six]
    far = client.get(url, {"since": (today - datetime.timedelta(days=45)).isoformat(), "until": today.isoformat()})
    assert far.status_code == 400 and "31 days" in far.json()["errors"]["since"][0]
    assert numbers(until=(today - datetime.timedelta(days=35)).isoformat()) == [old]  # the 7 days up to then
    assert client.get(url, {"since": today.isoformat(), "until": "2000-01-01"}).status_code == 400
    assert client.get(url, {"state": "bogus"}).status_code == 400
    assert client.get(url, {"since": "yesterday"}).status_code == 400


def test_history_queue_positions(client, world):
    pipeline = simple_pipeline(world)
    Pipeline.objects.filter(pk=pipeline.pk).update(max_concurrent_runs=1)
    for _ in range(3):
        start_run(world.users["developer"], pipeline)
    client_for(client, world, "developer")
    results = client.get(api(world, pipeline)).json()["results"]
    assert [(r["number"], r["queue_position"]) for r in results] == [(3, 2), (2, 1), (1, None)]


def test_schema_lists_the_runs_api(client, world):
    client.force_login(world.users["viewer"])
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/runs/{number}/tasks/{task_run_id}/log/" in schema.content
