"""The webhook receiver, the delivery log and the execution-plan API (T1–T4, T6, A6) with the providers'
sample payloads (tests/data/webhooks). The matching itself: test_trigger_matching; against a real Git
server and worker: test_webhooks_git."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from django.test import Client

from pipelines.runs.models import Run
from pipelines.triggers import deliveries, providers
from pipelines.triggers.models import Delivery
from tests.engine_support import build, make_pipeline, stage

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data" / "webhooks"
MAIN = {"include": ["main", "master"], "exclude": []}
PUSH_TRIGGERS = {
    "push": {"enabled": True, "branches": MAIN, "paths": {"include": [], "exclude": ["docs/"]}},
    "tag": {"enabled": True, "tags": {"include": ["v*"], "exclude": []}},
    "merge_request": {"enabled": True, "events": ["created", "updated", "merged", "reopened"], "branches": MAIN,
                      "paths": {"include": [], "exclude": []}},
}  # fmt: skip


def sample(name: str) -> bytes:
    return (DATA / f"{name}.json").read_bytes()


@pytest.fixture
def pipeline(world):
    return make_pipeline(world, [stage("Build", build())], triggers=PUSH_TRIGGERS)


@pytest.fixture
def secret(pipeline) -> str:
    return deliveries.generate_secret(pipeline).secret


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def auth_headers(provider: str, body: bytes, secret: str) -> dict:
    return {
        "github": {"X-Hub-Signature-256": sign(body, secret)},
        "gitlab": {"X-Gitlab-Token": secret},
        "gitee": {"X-Gitee-Token": secret},
        "codeup": {"X-Codeup-Token": secret},
        "generic": {"X-Webhook-Secret": secret},
    }[provider]


EVENT_HEADERS = {
    "github-push": ("github", {"X-GitHub-Event": "push"}),
    "github-create-tag": ("github", {"X-GitHub-Event": "create"}),
    "github-pull-request": ("github", {"X-GitHub-Event": "pull_request"}),
    "gitlab-push": ("gitlab", {"X-Gitlab-Event": "Push Hook"}),
    "gitlab-tag-push": ("gitlab", {"X-Gitlab-Event": "Tag Push Hook"}),
    "gitlab-merge-request": ("gitlab", {"X-Gitlab-Event": "Merge Request Hook"}),
    "gitee-push": ("gitee", {"X-Gitee-Event": "Push Hook"}),
    "gitee-tag-push": ("gitee", {"X-Gitee-Event": "Tag Push Hook"}),
    "gitee-merge-request": ("gitee", {"X-Gitee-Event": "Merge Request Hook"}),
    "codeup-push": ("codeup", {"X-Codeup-Event": "Push Hook"}),
    "codeup-tag-push": ("codeup", {"X-Codeup-Event": "Tag Push Hook"}),
    "codeup-merge-request": ("codeup", {"X-Codeup-Event": "Merge Request Hook"}),
    "generic-push": ("generic", {}),
}


def post(pipeline, provider, body: bytes, headers: dict, content_type="application/json"):
    return Client().post(f"/webhooks/{provider}/{pipeline.pk}/", body, content_type=content_type, headers=headers)


# --------------------------------------------------------------------------------------------- parsing

PARSED = {
    # sample: (kind, ref, files (None: unknown), sender, action)
    "github-push": (
        "push",
        "main",
        ["docs/index.md", "src/parser.py", "README.md", "src/old.py"],
        "baxterthehacker",
        "",
    ),
    "github-create-tag": ("tag", "v1.2.0", None, "baxterthehacker", ""),
    "github-pull-request": ("merge_request", "main", None, "baxterthehacker", "created"),
    "gitlab-push": ("push", "master", ["locale/ca.po", "CHANGELOG", "app/controllers/application.rb"], "jsmith", ""),
    "gitlab-tag-push": ("tag", "v1.0.0", None, "jsmith", ""),
    "gitlab-merge-request": ("merge_request", "master", None, "root", "created"),
    "gitee-push": ("push", "change_commitlint_config", ["README.md"], "robot", ""),
    "gitee-tag-push": ("tag", "v1.0.0", None, "robot", ""),
    "gitee-merge-request": ("merge_request", "master", None, "robot", "created"),
    "codeup-push": ("push", "master", None, "Codeup", ""),  # Codeup's commits carry no file lists
    "codeup-tag-push": ("tag", "v1.0.0", None, "Codeup", ""),
    "codeup-merge-request": ("merge_request", "master", None, "codeup", "created"),
    "generic-push": ("push", "main", ["src/parser.py", "docs/index.md"], "ci-bot", ""),
}


@pytest.mark.parametrize("name", sorted(PARSED))
def test_sample_payloads_parse_into_one_internal_event(name):
    """T1–T3: every provider's push, tag and merge request samples read into one shape."""
    provider, headers = EVENT_HEADERS[name]
    event = providers.parse(provider, headers, sample(name))
    kind, ref, files, sender, action = PARSED[name]
    assert (event.kind, event.ref, event.sender, event.action) == (kind, ref, sender, action)
    assert event.files == files
    assert event.delivery_id


def test_deleted_branch_and_tag_pushes_never_trigger():
    data = json.loads(sample("github-push"))
    data.update(deleted=True, after="0" * 40, commits=[], head_commit=None)
    event = providers.parse("github", {"X-GitHub-Event": "push"}, json.dumps(data).encode())
    assert event.kind == "push" and event.deleted
    decision = deliveries.decide(PUSH_TRIGGERS, deliveries.to_event(event.as_dict(), event.files))
    assert not decision.triggered and "branch main was deleted" in decision.reason
    data = json.loads(sample("gitlab-tag-push"))
    data["after"] = "0" * 40
    event = providers.parse("gitlab", {"X-Gitlab-Event": "Tag Push Hook"}, json.dumps(data).encode())
    assert event.kind == "tag" and event.deleted


def test_merge_request_actions_map_to_the_four_events():
    def action(provider, headers, name, **changes):
        data = json.loads(sample(name))
        for path, value in changes.items():
            target = data
            *parents, last = path.split("__")
            for key in parents:
                target = target[key]
            target[last] = value
        return providers.parse(provider, headers, json.dumps(data).encode()).action

    gh, gl = {"X-GitHub-Event": "pull_request"}, {"X-Gitlab-Event": "Merge Request Hook"}
    assert action("github", gh, "github-pull-request", action="synchronize") == "updated"
    assert action("github", gh, "github-pull-request", action="reopened") == "reopened"
    assert action("github", gh, "github-pull-request", action="closed", pull_request__merged=True) == "merged"
    assert action("github", gh, "github-pull-request", action="closed") == "closed"
    assert action("gitlab", gl, "gitlab-merge-request", object_attributes__action="merge") == "merged"
    assert action("gitlab", gl, "gitlab-merge-request", object_attributes__action="reopen") == "reopened"
    assert action("gitlab", gl, "gitlab-merge-request", object_attributes__action="update") == "edited"
    new_commits = {"object_attributes__action": "update", "object_attributes__oldrev": "a" * 40}
    assert action("gitlab", gl, "gitlab-merge-request", **new_commits) == "updated"


def test_github_caps_and_gitlab_commit_counts_make_files_unknown():
    data = json.loads(sample("gitlab-push"))
    data["total_commits_count"] = 40
    event = providers.parse("gitlab", {"X-Gitlab-Event": "Push Hook"}, json.dumps(data).encode())
    assert event.files is None and event.files_unknown == "the payload lists 2 of 40 commits"
    data = json.loads(sample("github-push"))
    data["commits"] = data["commits"] * 1024  # GitHub lists at most 2048 commits
    event = providers.parse("github", {"X-GitHub-Event": "push"}, json.dumps(data).encode())
    assert event.files is None and event.files_unknown == "the payload lists only the first 2048 commits"


# ---------------------------------------------------------------------------------------- the receiver


@pytest.mark.parametrize("name", sorted(EVENT_HEADERS))
def test_each_provider_authenticates_valid_missing_wrong(pipeline, secret, name):
    """T6: GitHub HMAC X-Hub-Signature-256, GitLab X-Gitlab-Token, shared secret for the others."""
    provider, headers = EVENT_HEADERS[name]
    body = sample(name)
    missing = post(pipeline, provider, body, headers)
    wrong = post(pipeline, provider, body, {**headers, **auth_headers(provider, body, "not-the-secret")})
    valid = post(pipeline, provider, body, {**headers, **auth_headers(provider, body, secret)})
    assert missing.status_code == 401 and "missing" in missing.json()["error_msg"]
    assert wrong.status_code == 401 and missing.json()["status"] == "unauthorized"
    assert valid.status_code == 202, valid.content
    assert not valid.cookies and not missing.cookies  # sessionless
    statuses = list(Delivery.objects.filter(pipeline=pipeline).order_by("pk").values_list("status", "http_status"))
    assert statuses == [("unauthorized", 401), ("unauthorized", 401), ("accepted", 202)]


def test_github_signature_covers_the_raw_body(pipeline, secret):
    body = sample("github-push")
    tampered = body.replace(b'"refs/heads/main"', b'"refs/heads/evil"')
    response = post(pipeline, "github", tampered, {"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(body, secret)})
    assert response.status_code == 401 and "does not match" in response.json()["error_msg"]


def test_gitee_signing_key_mode(pipeline, secret):
    stamp = str(int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
    headers = {
        "X-Gitee-Event": "Push Hook",
        "X-Gitee-Timestamp": stamp,
        "X-Gitee-Token": base64.b64encode(digest).decode(),
    }
    assert post(pipeline, "gitee", sample("gitee-push"), headers).status_code == 202
    headers["X-Gitee-Timestamp"] = str(int(stamp) - 2 * 3600 * 1000)  # outside the 1-hour window
    assert post(pipeline, "gitee", sample("gitee-push"), headers).status_code == 401


def test_no_secret_set_refuses_everything(pipeline):
    response = post(pipeline, "generic", sample("generic-push"), {"X-Webhook-Secret": ""})
    assert response.status_code == 401 and "no webhook secret" in response.json()["error_msg"]


def test_duplicates_are_answered_200_without_a_second_run(pipeline, secret):
    """T6: deduplicated by delivery id; the duplicate is recorded and starts nothing."""
    headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
    body = sample("github-push")
    first = post(pipeline, "github", body, {**headers, "X-Hub-Signature-256": sign(body, secret)})
    again = post(pipeline, "github", body, {**headers, "X-Hub-Signature-256": sign(body, secret)})
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["status"] == "duplicate" and again.json()["original"] == first.json()["delivery"]
    deliveries.process(first.json()["delivery"])
    deliveries.process(first.json()["delivery"])  # a redelivered task does nothing twice
    assert Run.objects.filter(pipeline=pipeline).count() == 1
    # a delivery without an id is deduplicated by a hash of its body
    generic = sample("generic-push").replace(b'"delivery_id": "generic-0001",', b"")
    codes = [post(pipeline, "generic", generic, {"X-Webhook-Secret": secret}).status_code for _ in range(2)]
    assert codes == [202, 200]


def test_bad_requests_are_recorded(pipeline, secret):
    """Oversized body (1 MiB), malformed JSON and unknown events → 400, each in the delivery log."""
    big = b'{"event": "push", "branch": "main", "files": ["' + b"x" * (1024 * 1024) + b'"]}'
    oversized = post(pipeline, "generic", big, {"X-Webhook-Secret": secret})
    malformed = post(pipeline, "generic", b'{"event": "push",', {"X-Webhook-Secret": secret})
    unknown = post(
        pipeline, "gitlab", b'{"object_kind": "note"}', {"X-Gitlab-Event": "Note Hook", "X-Gitlab-Token": secret}
    )
    not_object = post(pipeline, "generic", b"[1, 2]", {"X-Webhook-Secret": secret})
    assert [r.status_code for r in (oversized, malformed, unknown, not_object)] == [400, 400, 400, 400]
    reasons = list(
        Delivery.objects.filter(pipeline=pipeline, status="bad_request").order_by("pk").values_list("reason", flat=True)
    )
    assert reasons == [
        "the body is larger than 1024 KiB",
        "the body is not valid JSON",
        "unknown gitlab event 'Note Hook'",
        "the body must be a JSON object",
    ]


def test_unknown_pipeline_or_provider_is_404_and_get_is_405(pipeline, secret):
    assert post(pipeline, "bitbucket", sample("generic-push"), {}).status_code == 404
    response = Client().post(
        f"/webhooks/generic/{pipeline.pk + 999}/", sample("generic-push"), content_type="application/json"
    )
    assert response.status_code == 404
    for huge in (2**63, 10**30):  # beyond any database id: no row, not an overflow
        response = Client().post(f"/webhooks/generic/{huge}/", sample("generic-push"), content_type="application/json")
        assert response.status_code == 404
    assert Client().get(f"/webhooks/generic/{pipeline.pk}/").status_code == 405
    assert not Delivery.objects.exists()


def test_ping_is_answered_and_recorded(pipeline, secret):
    body = b'{"zen": "Design for failure.", "hook_id": 1, "sender": {"login": "octocat"}}'
    response = post(pipeline, "github", body, {"X-GitHub-Event": "ping", "X-Hub-Signature-256": sign(body, secret)})
    assert response.status_code == 200 and response.json()["status"] == "not_triggered"


# -------------------------------------------------------------------------------------- deciding, runs


def accept(pipeline, secret, name, **changes) -> Delivery:
    provider, headers = EVENT_HEADERS[name]
    data = {**json.loads(sample(name)), **changes}
    body = json.dumps(data).encode()
    response = post(pipeline, provider, body, {**headers, **auth_headers(provider, body, secret)})
    assert response.status_code == 202, response.content
    deliveries.process(response.json()["delivery"])
    return Delivery.objects.get(pk=response.json()["delivery"])


def test_push_that_only_touches_excluded_paths_is_not_triggered(pipeline, secret):
    """T1, T4: the delivery log keeps the reason, the rule and the per-file verdicts."""
    delivery = accept(pipeline, secret, "generic-push", files=["docs/a.md", "docs/b/c.md"])
    assert delivery.status == "not_triggered" and delivery.rule == "push.paths.exclude"
    assert "every changed file (2) is excluded by paths.exclude [docs/]" in delivery.reason
    assert delivery.files == [
        {"path": "docs/a.md", "verdict": "excluded"},
        {"path": "docs/b/c.md", "verdict": "excluded"},
    ]
    assert delivery.run is None and not Run.objects.exists()


def test_push_starts_a_run_as_the_creator_with_what_started_it(world, pipeline, secret):
    """A6, R2: webhooks run as the pipeline creator; the run records trigger, detail and commit."""
    delivery = accept(pipeline, secret, "github-push")
    assert delivery.status == "triggered", delivery.reason
    run = delivery.run
    assert run.trigger == "push" and run.triggered_by == pipeline.creator and run.branch == "main"
    after = json.loads(sample("github-push"))["after"]
    assert run.commit_id == after and run.commit_message == "Fix the parser"
    assert run.trigger_detail == {"provider": "github", "sender": "baxterthehacker", "ref": "main", "commit": after,
                                  "delivery_id": delivery.delivery_id, "delivery": delivery.pk}  # fmt: skip
    verdicts = {f["path"]: f["verdict"] for f in delivery.files}
    assert verdicts == {"src/parser.py": "included", "docs/index.md": "excluded", "README.md": "included",
                        "src/old.py": "included"}  # fmt: skip


def test_merge_request_and_tag_runs(pipeline, secret):
    mr = accept(pipeline, secret, "gitlab-merge-request")
    assert mr.status == "triggered", mr.reason
    assert mr.run.trigger == "merge_request" and mr.run.branch == "ms-viewport"
    assert mr.run.trigger_detail["mr_number"] == "1" and mr.run.trigger_detail["mr_event"] == "created"
    tag = accept(pipeline, secret, "github-create-tag")  # matches v*, but this pipeline has no repository
    assert tag.status == "error" and tag.run is None
    assert tag.reason.startswith("tag v1.2.0 is in the include list [v*]; the run could not start: Tags can only")
    wrong_target = accept(pipeline, secret, "gitee-merge-request")  # target master is included; feature → master
    assert wrong_target.status == "triggered"


def test_creator_who_may_no_longer_execute_starts_nothing(world, pipeline, secret):
    """A6: the pipeline creator's right to execute is checked when a webhook fires."""
    from pipelines.models import Pipeline

    creator = pipeline.creator
    creator.is_active = False
    creator.save()
    delivery = accept(pipeline, secret, "github-push")
    assert delivery.status == "not_triggered" and delivery.rule == "permissions"
    assert not Pipeline.objects.restrict(creator, "execute").exists()
