"""Checkout of a task's source from a REAL Git server over HTTPS, on a real Celery worker (K1, X1, R2, E3,
E5, beyond: preflight). The helpers here are shared by the other ``test_executors_*`` modules."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from endpoints.models import AuditEntry, Credential
from endpoints.services import create_endpoint
from pipelines.runs.models import BuildPackage, Run
from pipelines.runs.start import start_run
from tests.engine_support import build, log_of, make_pipeline, stage, task_states, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker", "drain_runs")]


def make_repo(git_server, files: dict[str, str], *, message: str = "Add files", tags=()) -> str:
    """A new bare repository on the server whose ``main`` holds ``files`` in one commit; its path."""
    path = f"t/{uuid.uuid4().hex[:10]}.git"
    bare = git_server.repo_path(path)
    git_server.git("init", "-q", "--bare", "--initial-branch=main", bare)
    git_server.git("-C", bare, "config", "http.receivepack", "true")
    work = tempfile.mkdtemp(prefix="work-")
    try:
        git_server.git("init", "-q", "--initial-branch=main", work)
        for name, content in files.items():
            os.makedirs(os.path.dirname(os.path.join(work, name)), exist_ok=True)
            with open(os.path.join(work, name), "w") as fh:
                fh.write(content)
        git_server.git("add", "-A", cwd=work)
        git_server.git("commit", "-q", "-m", message, cwd=work)
        for tag in tags:
            git_server.git("tag", tag, cwd=work)
        git_server.git("push", "-q", bare, "main", *tags, cwd=work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path


def git_endpoint(world, git_server, path: str = "org/app.git", *, actor: str = "developer", scope: str = "public"):
    data = {
        "name": f"git-{uuid.uuid4().hex[:8]}",
        "type": "git",
        "url": git_server.repo_url(path),
        "username": git_server.username,
        "password": git_server.password,
        "scope": scope,
        "ca_bundle": git_server.ca_pem,
    }
    return create_endpoint(world.users[actor], world.project, data)


def git_source(endpoint, repository: str = "org/app", alias: str = "app") -> dict:
    return {"kind": "git", "alias": alias, "endpoint": endpoint.pk, "repository": repository, "default_branch": "main"}


def sha_of(git_server, path: str, ref: str) -> str:
    return git_server.git("-C", git_server.repo_path(path), "rev-parse", f"{ref}^{{commit}}").strip()


def test_build_checks_out_a_branch_reads_a_file_and_uploads_a_package(world, git_server):
    """K1, R2: the build runs in a checkout of the run's branch; its commit is recorded on the run and in
    run.sources; the endpoint's use is audited once per run although two parallel tasks used it."""
    endpoint = git_endpoint(world, git_server)
    commands = "cat app.py; echo commit=${app_COMMIT_ID}; mkdir dist; cp app.py dist/"
    pipeline = make_pipeline(
        world,
        [
            stage(
                "Build",
                build(source="app", commands=commands, artifacts=["dist/*"], package="web-app", version="1.0"),
                build("lint", source="app", commands="test -f README.md"),
                parallel=True,
            )
        ],
        sources=[git_source(endpoint)],
    )
    run = wait_for(start_run(world.users["developer"], pipeline))
    text = log_of(run, "compile")
    assert run.state == "succeeded", (task_states(run), text)
    main = sha_of(git_server, "org/app.git", "main")
    assert "print('hello')" in text and f"commit={main}" in text
    assert f"checked out org/app main {main}" in text
    assert run.commit_id == main and run.commit_message == "Add app"
    assert run.sources["app"] == {"repository": "org/app", "source_branch": "main", "tag": "", "commit_id": main}
    package = BuildPackage.objects.get(run=run)
    assert package.file.read() == b"print('hello')\n"
    uses = AuditEntry.objects.filter(endpoint=endpoint, action=AuditEntry.Action.USE)
    assert [u.detail for u in uses] == [f"{pipeline.name} #1"]


def test_build_checks_out_a_tag(world, git_server):
    """X1: a run on a tag checks out that tag (the peeled commit)."""
    endpoint = git_endpoint(world, git_server)
    pipeline = make_pipeline(
        world, [stage("Build", build(source="app", commands="cat VERSION"))], sources=[git_source(endpoint)]
    )
    run = wait_for(start_run(world.users["developer"], pipeline, tag="v1.0.0"))
    text = log_of(run, "compile")
    assert run.state == "succeeded", text
    tagged = sha_of(git_server, "org/app.git", "v1.0.0")
    assert "1.0.0" in text and f"checked out org/app v1.0.0 {tagged}" in text
    assert run.sources["app"]["tag"] == "v1.0.0" and run.sources["app"]["commit_id"] == tagged


def test_a_moved_branch_still_builds_the_commit_resolved_at_start(world, git_server):
    """X5: every task of a run uses the commit resolved when it started, even after a push."""
    path = make_repo(git_server, {"v.txt": "one\n"})
    endpoint = git_endpoint(world, git_server, path)
    first = sha_of(git_server, path, "main")
    pipeline = make_pipeline(
        world,
        [
            stage("Wait", {"name": "pause", "type": "delay", "config": {"seconds": 1}}),
            stage("B", build(source="app", commands="cat v.txt")),
        ],
        sources=[git_source(endpoint, path)],
    )
    run = start_run(world.users["developer"], pipeline)
    work = tempfile.mkdtemp(prefix="work-")
    try:
        git_server.git("clone", "-q", git_server.repo_path(path), work)
        with open(os.path.join(work, "v.txt"), "w") as fh:
            fh.write("two\n")
        git_server.git("commit", "-qam", "Two", cwd=work)
        git_server.git("push", "-q", "origin", "main", cwd=work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    run = wait_for(run)
    assert run.state == "succeeded", log_of(run, "compile")
    assert "one" in log_of(run, "compile") and run.sources["app"]["commit_id"] == first


def _process_table() -> list[tuple[int, str, str]]:
    rows = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open(f"/proc/{pid}/environ", "rb") as fh:
                environ = fh.read().decode("utf-8", "replace")
        except OSError:
            continue
        rows.append((int(pid), cmdline, environ))
    return rows


def test_password_is_never_in_the_log_or_a_process_list_while_cloning(world, git_server):
    """E5: the endpoint's password is in no command line or environment of any process while git clones,
    and never in the task's log."""
    endpoint = git_endpoint(world, git_server)
    pipeline = make_pipeline(
        world, [stage("Build", build(source="app", commands="git log -1 --format=%s"))], sources=[git_source(endpoint)]
    )
    password, seen, leaks, done = git_server.password, [], [], threading.Event()

    def watch():
        while not done.is_set():
            for pid, cmdline, environ in _process_table():
                if "clone" in cmdline or "remote-https" in cmdline:
                    seen.append(cmdline)
                if password in cmdline or (password in environ and pid != os.getpid()):
                    leaks.append(cmdline)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    git_server.delay = 0.3
    watcher.start()
    try:
        run = wait_for(start_run(world.users["developer"], pipeline))
    finally:
        done.set()
        watcher.join()
        git_server.delay = 0.0
    text = log_of(run, "compile")
    assert run.state == "succeeded", text
    assert any("clone" in c for c in seen), "git clone was never observed running"
    assert leaks == []
    assert password not in text and git_server.username + ":" not in text
    assert "Add app" in text  # the user's commands see the checkout's history


def test_unknown_branch_or_tag_is_refused_at_start(world, git_server):
    """X1 bad input: an unknown branch (or tag) is refused with a field error; no run is created."""
    endpoint = git_endpoint(world, git_server)
    pipeline = make_pipeline(world, [stage("Build", build(source="app"))], sources=[git_source(endpoint)])
    for kwargs, field in (({"branch": "no-such-branch"}, "branch"), ({"tag": "v9.9.9"}, "tag")):
        with pytest.raises(ValidationError) as exc:
            start_run(world.users["developer"], pipeline, **kwargs)
        assert field in exc.value.message_dict
        assert "does not exist" in exc.value.message_dict[field][0]
    assert not Run.objects.exists()


def test_preflight_fails_a_run_whose_starter_may_not_use_an_endpoint(world, git_server):
    """Beyond (E3 at run time): a private endpoint of the developer cannot be used by a tester's run; the
    run fails at once, naming the endpoint, and no task executes."""
    endpoint = git_endpoint(world, git_server, scope="private")
    pipeline = make_pipeline(world, [stage("Build", build(source="app"))], sources=[git_source(endpoint)])
    run = wait_for(start_run(world.users["tester"], pipeline))
    assert run.state == "failed"
    assert endpoint.name in run.error and "tester may not use" in run.error
    assert task_states(run) == {"Build/compile": "skipped"}
    assert not AuditEntry.objects.filter(endpoint=endpoint, action=AuditEntry.Action.USE).exists()


def test_preflight_fails_a_run_whose_endpoint_credential_expired(world, git_server):
    """Beyond (E4, E7 overdue): an expired credential fails the run before any task, naming endpoint and date."""
    endpoint = git_endpoint(world, git_server)
    pipeline = make_pipeline(world, [stage("Build", build(source="app"))], sources=[git_source(endpoint)])
    yesterday = timezone.localdate() - timezone.timedelta(days=1)
    Credential.objects.filter(pk=endpoint.credential_id).update(expires_at=yesterday)
    run = wait_for(start_run(world.users["developer"], pipeline))
    assert run.state == "failed"
    assert endpoint.name in run.error and f"expired on {yesterday.isoformat()}" in run.error
    assert task_states(run) == {"Build/compile": "skipped"}
