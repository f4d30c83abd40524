"""Run pages (X1 start dialog, X2 live run page, X4 history, X5 actions and packages, X6, X7) and ANSI log
rendering; permissions on every page (A6)."""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pipelines import services
from pipelines.models import Pipeline
from pipelines.permissions import create_defaults
from pipelines.runs import ansi
from pipelines.runs.models import Run, StageRun, State, TaskRun
from pipelines.runs.start import start_run
from tests.engine_support import build, make_pipeline, stage
from tests.matrix import check_matrix, expect
from tests.test_runs_api import _task, add_package, finish, gate_pipeline, media, runs, simple_pipeline, write_log

pytestmark = pytest.mark.django_db
__all__ = ["media", "runs"]  # fixtures shared with the API tests


def page(pipeline, rest=""):
    return f"/projects/{pipeline.project_id}/pipelines/{pipeline.pk}/{rest}"


# ---- ANSI (X2) ------------------------------------------------------------------------------------------


def test_ansi_escapes_html_and_renders_colours():
    assert (
        ansi.render("<script>alert('x')</script> & co") == "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co"
    )
    assert ansi.render("\x1b[31mred\x1b[0m plain") == '<span class="ansi-fg-1">red</span> plain'
    assert (
        ansi.render("\x1b[1;92mok\x1b[22m!")
        == '<span class="ansi-bold ansi-fg-10">ok</span><span class="ansi-fg-10">!</span>'
    )
    assert ansi.render("\x1b[38;5;208mx\x1b[48;2;1;2;3my") == (
        '<span style="color:#ff8700">x</span><span style="color:#ff8700;background-color:#010203">y</span>'
    )
    assert ansi.render("\x1b[31m<b>\x1b[m") == '<span class="ansi-fg-1">&lt;b&gt;</span>'
    assert ansi.render("\x1b[2Kline\x1b]0;title\x07\x07 end\r\n") == "line end\n"  # other escapes dropped


def test_ansi_state_carries_across_pieces():
    html, state = ansi.to_html("\x1b[33;4mwarn")
    assert state == "4;33" and html == '<span class="ansi-underline ansi-fg-3">warn</span>'
    assert ansi.to_html("ing\x1b[0m.", state) == ('<span class="ansi-underline ansi-fg-3">ing</span>.', "")
    assert ansi.to_html("x", '"><script>')[0] == "x"  # a forged state is ignored
    assert ansi.plain("\x1b[1mbold\x1b[0m") == "bold"


# ---- permissions (A6) on every page -----------------------------------------------------------------------


def page_urls(runs, other=False):
    p = runs["other"] if other else runs["pipeline"]
    failed = runs["other_run"] if other else runs["failed"]
    queued = runs["other_run"] if other else runs["queued"]
    waiting = runs["other_run"] if other else runs["waiting"]
    task = _task(failed, "compile")
    package = runs["other_package"] if other else runs["package"]
    review = task if other else _task(waiting, "review")
    ship = task.stage if other else StageRun.objects.get(run=waiting, name="Ship")
    run = f"runs/{failed.number}/"
    return [
        ("GET", page(p, "run/"), "start"),
        ("POST", page(p, "run/"), "start_post"),
        ("GET", page(p, "runs/"), "read"),
        ("GET", page(p, run), "read"),
        ("GET", page(p, run + "live/"), "read"),
        ("GET", page(p, f"{run}tasks/{task.pk}/log/"), "read"),
        ("GET", page(p, f"{run}tasks/{task.pk}/log/download/"), "read"),
        ("GET", page(p, f"{run}packages/{package.pk}/download/"), "read"),
        ("GET", page(p, f"{run}packages/download/"), "read"),
        ("POST", page(p, f"runs/{queued.number}/stop/"), "act"),
        ("POST", page(p, f"{run}retry/"), "act"),
        ("POST", page(p, f"{run}fresh/"), "act"),
        ("POST", page(p, f"{run}tasks/{task.pk}/rerun/"), "act"),
        ("POST", page(p, f"runs/{waiting.number}/stages/{ship.pk}/confirm/"), "act"),
        ("POST", page(p, f"runs/{waiting.number}/tasks/{review.pk}/approve/"), "review"),
        ("POST", page(p, f"runs/{waiting.number}/tasks/{review.pk}/reject/"), "review"),
    ]


PAGE_EXPECT = {
    "start": expect(200, anonymous=302, participant=403, viewer=403),
    "start_post": expect(302, anonymous=302, participant=403, viewer=403),
    "read": expect(200, anonymous=302),
    "act": expect(302, anonymous=302, participant=403, viewer=403),
    "review": expect(302, anonymous=302),  # a non-reviewer is sent back with the reason (X7)
}


def test_permission_matrix_over_every_run_page(world, runs):
    """A6: viewers read runs but cannot open the run dialog, start, stop, retry or confirm (403); outsiders
    and members on another project's pages get 404; anonymous users go to the login page."""
    for (method, url, kind), (_m, other_url, _k) in zip(page_urls(runs), page_urls(runs, other=True), strict=True):
        data = {"tasks": ["Build/compile"]} if kind == "start_post" else None
        check_matrix(world, method, url, PAGE_EXPECT[kind], data=data, other_url=other_url)


# ---- X1: the start dialog ------------------------------------------------------------------------------


def test_start_dialog_groups_tasks_and_locks_gate_and_always_run_tasks(client, world):
    pipeline = gate_pipeline(world)
    client.force_login(world.users["developer"])
    html = client.get(page(pipeline, "run/")).content.decode()
    boxes = dict(re.findall(r'data-task="([^"]+)"\s+((?:checked)?(?: disabled)?)', html))
    assert boxes == {
        "Build/compile": "checked",
        "Build/docs": "checked",
        "Check/unit": "checked",
        "Check/lint": "checked disabled",
        "Always/notify": "checked disabled",
    }
    assert html.count('data-testid="picker-stage"') == 3
    assert 'name="tag"' not in html  # no repository source: no tags (X1)


def test_start_dialog_offers_tags_only_for_repository_sources(client, world):
    definition = {**simple_pipeline(world).definition, "name": "repo"}
    definition["sources"] = [
        {"kind": "git", "alias": "app", "endpoint": 1, "repository": "org/app", "default_branch": "dev"}
    ]
    pipeline = Pipeline.objects.create(
        project=world.project, name="repo", creator=world.users["creator"], definition=definition
    )
    create_defaults(pipeline)
    client.force_login(world.users["developer"])
    html = client.get(page(pipeline, "run/")).content.decode()
    assert 'name="tag"' in html and 'name="ref_kind"' in html and 'value="dev"' in html


def test_start_dialog_parameters_and_redirect(client, world):
    pipeline = simple_pipeline(world)
    client.force_login(world.users["developer"])
    html = client.get(page(pipeline, "run/")).content.decode()
    assert re.search(
        r'<select name="param__env"[^>]*>\s*<option value="dev" selected>dev</option>\s*<option value="prod">', html
    )
    assert 'name="param__fixed"' not in html  # not a runtime parameter
    assert 'type="password" name="param__token"' in html and "stored-secret" not in html
    response = client.post(
        page(pipeline, "run/"),
        {"branch": "", "tasks": ["Build/compile"], "param__greeting": "hey", "param__env": "prod", "param__token": ""},
    )
    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == page(pipeline, "runs/1/")
    assert run.parameters == {"greeting": "hey", "env": "prod"} and not run.secrets.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"param__env": "staging", "tasks": ["Build/compile"]}, "param__env"),
        ({"param__env": "dev"}, "tasks"),  # nothing selected
    ],
)
def test_start_dialog_field_errors(client, world, data, field):
    pipeline = simple_pipeline(world)
    client.force_login(world.users["developer"])
    response = client.post(page(pipeline, "run/"), data)
    assert response.status_code == 200 and f'data-field-error="{field}"' in response.content.decode()
    assert not Run.objects.exists()


def test_start_dialog_deselection_keeps_gate_tasks(client, world):
    pipeline = gate_pipeline(world)
    client.force_login(world.users["developer"])
    client.post(page(pipeline, "run/"), {"tasks": ["Check/unit"]})
    assert Run.objects.get().selected_tasks == ["Always/notify", "Check/lint", "Check/unit"]


# ---- X2: the run page ------------------------------------------------------------------------------------


def test_run_page_graph_log_and_live_polling(client, world):
    pipeline = make_pipeline(world, [stage("Build", build(), build("pack")), stage("Ship", build("ship"))])
    run = start_run(world.users["developer"], pipeline)
    Run.objects.filter(pk=run.pk).update(state=State.RUNNING, started=timezone.now())
    StageRun.objects.filter(run=run, name="Build").update(state=State.RUNNING)
    compile_task = _task(run, "compile")
    TaskRun.objects.filter(pk=compile_task.pk).update(state=State.RUNNING, started=timezone.now())
    write_log(compile_task, "\x1b[32mgreen <ok>\x1b[0m\npartial")
    client.force_login(world.users["viewer"])
    html = client.get(page(pipeline, f"runs/{run.number}/")).content.decode()
    assert html.count('data-testid="run-stage"') == 2 and 'data-state="running"' in html
    assert 'class="state-badge state-running" data-testid="run-state"' in html
    assert '<span class="ansi-fg-2">green &lt;ok&gt;</span>\n' in html and "partial" not in html  # whole lines only
    assert 'hx-trigger="every 1s"' in html and 'data-testid="run-stop"' not in html  # a viewer cannot stop
    offset = int(re.search(r'data-offset="(\d+)"', html).group(1))
    assert offset == len(b"\x1b[32mgreen <ok>\x1b[0m\n")
    piece = client.get(
        page(pipeline, f"runs/{run.number}/tasks/{compile_task.pk}/log/"), {"offset": offset}
    ).content.decode()
    assert "partial" not in piece and f'data-offset="{offset}"' in piece  # still waiting for the newline
    write_log(compile_task, " line\n")
    piece = client.get(
        page(pipeline, f"runs/{run.number}/tasks/{compile_task.pk}/log/"), {"offset": offset}
    ).content.decode()
    assert piece.startswith('<span class="log-chunk">partial line\n</span>') and 'hx-swap-oob="true"' in piece
    assert 'data-complete="0"' in piece and "hx-get=" in piece
    finish(run, State.SUCCEEDED)
    live = client.get(page(pipeline, f"runs/{run.number}/live/")).content.decode()
    assert 'id="run-live"' in live and "hx-trigger" not in live  # finished: polling stops
    done = client.get(
        page(pipeline, f"runs/{run.number}/tasks/{compile_task.pk}/log/"), {"offset": 10**6}
    ).content.decode()
    assert 'data-complete="1"' in done and "hx-get" not in done


def test_run_page_actions_for_executors(client, world, runs):
    client.force_login(world.users["developer"])
    html = client.get(page(runs["pipeline"], f"runs/{runs['failed'].number}/")).content.decode()
    assert (
        'data-testid="run-retry"' in html and 'data-testid="run-fresh"' in html and 'data-testid="rerun-task"' in html
    )
    assert 'data-testid="run-stop"' not in html and 'data-testid="snapshot-notice"' not in html
    queued = client.get(page(runs["pipeline"], f"runs/{runs['queued'].number}/")).content.decode()
    assert 'data-testid="run-stop"' in queued and 'data-testid="queue-position"' in queued
    waiting = client.get(page(runs["pipeline"], f"runs/{runs['waiting'].number}/")).content.decode()
    assert 'data-testid="confirm-stage"' in waiting and 'data-testid="approve"' not in waiting  # not a reviewer
    client.force_login(world.users["tester"])
    waiting = client.get(page(runs["pipeline"], f"runs/{runs['waiting'].number}/")).content.decode()
    assert 'data-testid="approve"' in waiting and 'data-testid="reject"' in waiting


def test_stop_from_the_page_and_a_finished_run(client, world, runs):
    client.force_login(world.users["developer"])
    response = client.post(page(runs["pipeline"], f"runs/{runs['queued'].number}/stop/"))
    assert response.status_code == 302 and Run.objects.get(pk=runs["queued"].pk).state == "stopped"
    response = client.post(page(runs["pipeline"], f"runs/{runs['failed'].number}/stop/"))
    assert [str(m) for m in get_messages(response.wsgi_request)][-1] == "Run #2 has already finished."


def test_non_reviewer_is_told_why(client, world, runs):
    client.force_login(world.users["manager"])
    waiting = runs["waiting"]
    response = client.post(
        page(runs["pipeline"], f"runs/{waiting.number}/tasks/{_task(waiting, 'review').pk}/approve/")
    )
    assert "named reviewers (tester)" in [str(m) for m in get_messages(response.wsgi_request)][-1]
    assert _task(waiting, "review").state == "waiting"


def test_retry_notice_shows_what_changed(client, world, runs):
    """X5: retry runs the snapshot; when the pipeline changed since, the page says so and what changed."""
    pipeline = runs["pipeline"]
    definition = {**pipeline.definition, "stages": [*pipeline.definition["stages"], stage("Extra", build("more"))]}
    services.update_pipeline(world.users["developer"], pipeline, definition)
    client.force_login(world.users["developer"])
    html = client.get(page(pipeline, f"runs/{runs['failed'].number}/")).content.decode()
    assert 'data-testid="snapshot-notice"' in html and "stage Extra added" in html


def test_fresh_run_from_the_page(client, world, runs):
    client.force_login(world.users["developer"])
    response = client.post(page(runs["pipeline"], f"runs/{runs['failed'].number}/fresh/"))
    newest = Run.objects.filter(pipeline=runs["pipeline"]).order_by("-number").first()
    assert response["Location"] == page(runs["pipeline"], f"runs/{newest.number}/") and newest.number == 4


def test_packages_newest_ten_on_the_page(client, world):
    pipeline = simple_pipeline(world)
    run = finish(start_run(world.users["developer"], pipeline), State.SUCCEEDED)
    for i in range(12):
        add_package(run, version=f"2.0.{i}")
    client.force_login(world.users["viewer"])
    html = client.get(page(pipeline, f"runs/{run.number}/")).content.decode()
    assert html.count('data-testid="package"') == 10 and "newest 10 of 12" in html
    assert 'data-testid="download-all"' in html and "2.0.11" in html and ">2.0.1<" not in html


def test_control_tasks_show_no_log(client, world):
    pipeline = make_pipeline(world, [stage("S", {"name": "pause", "type": "delay", "config": {"seconds": 5}})])
    run = start_run(world.users["developer"], pipeline)
    client.force_login(world.users["developer"])
    html = client.get(page(pipeline, f"runs/{run.number}/?task={_task(run, 'pause').pk}")).content.decode()
    assert "Delay and manual-review tasks have no log." in html and 'data-testid="log"' not in html
    log = page(pipeline, f"runs/{run.number}/tasks/{_task(run, 'pause').pk}/log/")
    assert client.get(log).status_code == 404


# ---- X4: history ----------------------------------------------------------------------------------------


def _aged(world, pipeline, days, **fields):
    run = start_run(world.users[fields.pop("actor", "developer")], pipeline)
    Run.objects.filter(pk=run.pk).update(created=timezone.now() - datetime.timedelta(days=days), **fields)
    return run


def numbers(html):
    return [int(n) for n in re.findall(r'data-testid="run-row" data-number="(\d+)"', html)]


def test_history_window_shortcuts_and_filters(client, world):
    pipeline = simple_pipeline(world)
    _aged(world, pipeline, 1, state=State.FAILED)
    _aged(world, pipeline, 10, actor="tester")
    _aged(world, pipeline, 20, trigger="push")
    client.force_login(world.users["viewer"])
    url = page(pipeline, "runs/")
    html = client.get(url).content.decode()
    assert numbers(html) == [1]  # X4: the last 7 days by default
    assert all(f'data-testid="shortcut-{d}"' in html for d in (7, 14, 31))
    assert numbers(client.get(url, {"days": 14}).content.decode()) == [2, 1]
    assert numbers(client.get(url, {"days": 31}).content.decode()) == [3, 2, 1]
    assert numbers(client.get(url, {"days": 31, "user": "tester"}).content.decode()) == [2]
    assert numbers(client.get(url, {"days": 31, "trigger": "push"}).content.decode()) == [3]
    assert numbers(client.get(url, {"days": 31, "state": "failed"}).content.decode()) == [1]
    today = timezone.localdate()
    refused = client.get(url, {"since": (today - datetime.timedelta(days=40)).isoformat(), "until": today.isoformat()})
    body = refused.content.decode()
    assert refused.status_code == 200 and 'data-testid="range-error"' in body and "at most 31 days" in body
    assert numbers(body) == []


def test_history_query_count_is_constant(client, world):
    pipeline = simple_pipeline(world)
    Pipeline.objects.filter(pk=pipeline.pk).update(max_concurrent_runs=1)  # the first run runs, the others queue
    client.force_login(world.users["viewer"])
    url = page(pipeline, "runs/")

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    for actor in ("developer", "tester", "manager"):
        start_run(world.users[actor], pipeline)
    few = count()
    for i in range(12):
        start_run(world.users[("developer", "tester", "operator")[i % 3]], pipeline)
    assert count() == few
    html = client.get(url).content.decode()
    assert len(numbers(html)) == 15 and html.count('class="state-badge state-pending"') == 14  # one stage each
