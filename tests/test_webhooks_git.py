"""Webhooks against a REAL Git server over HTTPS (T1, T4, T6, A6, R2): a real git client pushes, the hook
arrives without a file list, the receiver computes the changed files from the repository (temporary bare
repository, askpass credentials) and a real Celery worker decides and starts the run."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from django.test import Client

from pipelines import services
from pipelines.executors.runner import system_values
from pipelines.triggers import changes, deliveries
from pipelines.triggers.models import Delivery
from tests.engine_support import build, log_of, make_pipeline, stage, task_states, wait_for
from tests.test_executors_checkout import git_endpoint, git_source, make_repo, sha_of

TRIGGERS = {
    "push": {"enabled": True, "branches": {"include": ["main"], "exclude": []},
             "paths": {"include": [], "exclude": ["docs/"]}},
    "tag": {"enabled": True, "tags": {"include": ["v*"], "exclude": []}},
    "merge_request": {"enabled": True, "events": ["created", "updated", "merged", "reopened"],
                      "branches": {"include": ["main"], "exclude": []}, "paths": {"include": ["src/"], "exclude": []}},
}  # fmt: skip


class GitClient:
    """A developer's git: HTTPS with the server's CA, credentials in a 0600 credential store (never in a URL)."""

    def __init__(self, tmp: Path, git_server):
        self.home = tmp / "home"
        self.home.mkdir()
        ca = tmp / "ca.pem"
        ca.write_text(git_server.ca_pem)
        store = self.home / "credentials"
        host = git_server.base_url.split("://", 1)[1]
        store.write_text(f"https://{git_server.username}:{git_server.password}@{host}\n")
        store.chmod(0o600)
        self.env = {
            "PATH": os.environ.get("PATH", os.defpath), "HOME": str(self.home), "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0", "GIT_SSL_CAINFO": str(ca), "LC_ALL": "C",
            "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.test",
            "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.test",
        }  # fmt: skip
        self.helper = ["-c", f"credential.helper=store --file={store}"]
        self.work = tmp / "work"

    def git(self, *args: str) -> str:
        result = subprocess.run(["git", *self.helper, *args], cwd=self.work if self.work.exists() else None,
                                env=self.env, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def commit(self, files: dict[str, str], message: str) -> str:
        for name, content in files.items():
            (self.work / name).parent.mkdir(parents=True, exist_ok=True)
            (self.work / name).write_text(content)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


def hook(pipeline, provider: str, body: dict, headers: dict):
    return Client().post(f"/webhooks/{provider}/{pipeline.pk}/", json.dumps(body), content_type="application/json",
                         headers=headers)  # fmt: skip


def decided(delivery_pk: int, timeout: float = 60) -> Delivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = Delivery.objects.select_related("run").get(pk=delivery_pk)
        if delivery.status != "accepted":
            return delivery
        time.sleep(0.2)
    raise AssertionError(f"delivery {delivery_pk} was not processed")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker", "drain_runs")
def test_real_push_without_a_file_list_is_decided_from_the_repository(world, git_server, tmp_path):
    """T1, T4, T6, A6, R2: path exclude docs/; a docs-only push is not triggered, a push touching src/ is,
    both computed from the repository because the hooks omit the files; the worker starts the run."""
    path = make_repo(git_server, {"src/app.py": "print('v1')\n", "docs/index.md": "# docs\n"})
    endpoint = git_endpoint(world, git_server, path)
    commands = "cat src/app.py; echo commit=${COMMIT_ID} branch=${app_SOURCE_BRANCH}"
    pipeline = make_pipeline(
        world,
        [stage("Build", build(source="app", commands=commands))],
        sources=[git_source(endpoint, path)],
        triggers=TRIGGERS,
    )
    secret = deliveries.generate_secret(pipeline).secret
    client = GitClient(tmp_path, git_server)
    client.git("clone", "-q", git_server.repo_url(path), str(client.work))
    first = client.git("rev-parse", "HEAD")

    docs_only = client.commit({"docs/guide.md": "# guide\n"}, "Document the guide")
    client.git("push", "-q", "origin", "main")
    assert sha_of(git_server, path, "main") == docs_only
    body = {
        "event": "push",
        "branch": "main",
        "before": first,
        "commit": docs_only,
        "sender": "dev",
        "delivery_id": "d-1",
    }
    response = hook(pipeline, "generic", body, {"X-Webhook-Secret": secret})
    assert response.status_code == 202, response.content
    delivery = decided(response.json()["delivery"])
    assert delivery.status == "not_triggered", delivery.reason
    assert "every changed file (1) is excluded by paths.exclude [docs/]" in delivery.reason
    assert delivery.files == [{"path": "docs/guide.md", "verdict": "excluded"}] and delivery.run is None

    client.commit({"docs/guide.md": "# guide v2\n"}, "More docs")
    code = client.commit({"src/app.py": "print('v2')\n"}, "Ship v2")
    client.git("push", "-q", "origin", "main")
    gitlab = {
        "object_kind": "push", "ref": "refs/heads/main", "before": docs_only, "after": code, "checkout_sha": code,
        "user_username": "dev", "commits": [{"id": code, "message": "Ship v2\n"}], "total_commits_count": 2,
    }  # fmt: skip
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret, "X-Gitlab-Event-UUID": "uuid-2"}
    response = hook(pipeline, "gitlab", gitlab, headers)
    assert response.status_code == 202, response.content
    delivery = decided(response.json()["delivery"])
    assert delivery.status == "triggered", delivery.reason
    assert {f["path"]: f["verdict"] for f in delivery.files} == {"docs/guide.md": "excluded", "src/app.py": "included"}
    run = wait_for(delivery.run)
    text = log_of(run, "compile")
    assert run.state == "succeeded", (task_states(run), text)
    assert "print('v2')" in text and f"commit={code} branch=main" in text
    assert run.trigger == "push" and run.triggered_by == pipeline.creator and run.commit_id == code
    assert run.commit_message == "Ship v2" and run.sources["app"]["commit_id"] == code
    assert run.trigger_detail["provider"] == "gitlab" and run.trigger_detail["delivery_id"] == "uuid-2"
    assert hook(pipeline, "gitlab", gitlab, headers).json()["status"] == "duplicate"

    client.git("tag", "v2.0")
    client.git("push", "-q", "origin", "v2.0")
    tag = {"object_kind": "tag_push", "ref": "refs/tags/v2.0", "before": "0" * 40, "after": code, "checkout_sha": code}
    response = hook(pipeline, "gitlab", tag, {"X-Gitlab-Event": "Tag Push Hook", "X-Gitlab-Token": secret})
    delivery = decided(response.json()["delivery"])
    assert delivery.status == "triggered", delivery.reason
    assert delivery.run.trigger == "tag" and delivery.run.tag == "v2.0" and delivery.run.commit_id == code


@pytest.mark.django_db
def test_changed_files_of_new_branches_and_merge_requests(world, git_server, tmp_path):
    """The repository answers what the payload omitted: a new branch's commits not on the default branch, a
    merge request's diff against its target, a merged request's merge commit."""
    path = make_repo(git_server, {"src/app.py": "v1\n", "README.md": "r\n"})
    endpoint = git_endpoint(world, git_server, path)
    pipeline = make_pipeline(
        world, [stage("B", build(source="app"))], sources=[git_source(endpoint, path)], triggers=TRIGGERS
    )
    client = GitClient(tmp_path, git_server)
    client.git("clone", "-q", git_server.repo_url(path), str(client.work))
    client.git("checkout", "-q", "-b", "feature/x")
    client.commit({"src/new.py": "n\n"}, "New module")
    head = client.commit({"docs/a.md": "a\n"}, "Docs")
    client.git("push", "-q", "origin", "feature/x")
    push = {"kind": "push", "branch": "feature/x", "before": "0" * 40, "commit": head}
    assert changes.changed_files(pipeline, "generic", push) == (["docs/a.md", "src/new.py"], "")
    mr = {"kind": "merge_request", "target_branch": "main", "source_branch": "feature/x", "action": "created",
          "commit": head, "number": "7"}  # fmt: skip
    assert changes.changed_files(pipeline, "generic", mr) == (["docs/a.md", "src/new.py"], "")
    decision = deliveries.decide_delivery(pipeline, "generic", {**mr, "files": None, "files_unknown": "omitted"})
    assert decision.triggered and decision.rule == "merge_request.paths.include"  # MR paths include src/
    # through the receiver: the run records the merge request (R2 <alias>_SOURCE/TARGET_BRANCH, COMMIT_ID)
    secret = deliveries.generate_secret(pipeline).secret
    body = {"event": "merge_request", "target_branch": "main", "source_branch": "feature/x", "action": "opened",
            "commit": head, "number": 7, "sender": "dev"}  # fmt: skip
    response = hook(pipeline, "generic", body, {"X-Webhook-Secret": secret})
    assert deliveries.process(response.json()["delivery"]) == "triggered"
    run = Delivery.objects.get(pk=response.json()["delivery"]).run
    assert run.trigger == "merge_request" and run.branch == "feature/x"
    assert run.trigger_detail["mr_number"] == "7" and run.trigger_detail["mr_event"] == "created"
    values = system_values(run)
    assert values["app_SOURCE_BRANCH"] == "feature/x" and values["app_TARGET_BRANCH"] == "main"
    assert values["COMMIT_ID"] == values["app_COMMIT_ID"] == head
    client.git("checkout", "-q", "main")
    client.git("merge", "-q", "--no-ff", "-m", "Merge feature/x", "feature/x")
    client.git("push", "-q", "origin", "main")
    merged = {**mr, "action": "merged", "commit": client.git("rev-parse", "HEAD")}
    assert changes.changed_files(pipeline, "generic", merged) == (["docs/a.md", "src/new.py"], "")
    # a commit that is gone → no files (the caller then matches on branches alone)
    gone = {**push, "before": "1" * 40, "files": None}
    files, why = changes.changed_files(pipeline, "generic", gone)
    assert files is None and "1111111111" in why


@pytest.mark.django_db
def test_unreachable_repository_matches_on_branches_alone(world, git_server):
    """Step 4 fallback: the files cannot be computed → the branch rule alone decides, and the reason says why."""
    endpoint = git_endpoint(world, git_server)
    data = {"url": "https://127.0.0.1:9/org/app.git", "password": "x"}
    from endpoints.services import update_endpoint

    update_endpoint(world.users["developer"], endpoint, data)
    pipeline = make_pipeline(
        world, [stage("B", build(source="app"))], sources=[git_source(endpoint)], triggers=TRIGGERS
    )
    services.update_pipeline(pipeline.creator, pipeline, {"triggers": TRIGGERS}, partial=True)
    event = {"kind": "push", "branch": "main", "before": "a" * 40, "commit": "b" * 40, "files": None,
             "files_unknown": "the delivery did not list the changed files"}  # fmt: skip
    decision = deliveries.decide_delivery(pipeline, "generic", event)
    assert decision.triggered and decision.rule == "push.branches.include"
    assert "paths not checked: the changed files cannot be computed: unreachable" in decision.reason
