"""The execution-plan API and the Webhooks page (API.md; T4 dry run, T6 delivery log, A6 permission matrix),
and the admin of deliveries and secrets (I2)."""

from __future__ import annotations

import pytest
from django.test import Client

from pipelines import services
from pipelines.triggers import deliveries
from pipelines.triggers.models import WebhookSecret
from tests.engine_support import build, make_pipeline, stage
from tests.matrix import check_matrix, expect
from tests.test_webhooks import PUSH_TRIGGERS, accept, post, sample

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline(world):
    return make_pipeline(world, [stage("Build", build())], triggers=PUSH_TRIGGERS)


@pytest.fixture
def secret(pipeline) -> str:
    return deliveries.generate_secret(pipeline).secret


# ---------------------------------------------------------------------------------- API and permissions


def api(world, actor="developer"):
    return Client(headers={"X-Auth-Token": world.token(actor)})


def purl(pipeline, suffix=""):
    return f"/api/v1/projects/{pipeline.project_id}/pipelines/{pipeline.pk}/{suffix}"


def test_webhook_info_secret_and_deliveries_api(world, pipeline):
    client = api(world)
    info = client.get(purl(pipeline, "webhook/")).json()
    assert set(info["urls"]) == {"github", "gitlab", "gitee", "codeup", "generic"}
    assert info["urls"]["github"].endswith(f"/webhooks/github/{pipeline.pk}/") and info["secret_set"] is False
    created = client.post(purl(pipeline, "webhook/secret/"))
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    assert WebhookSecret.objects.get(pipeline=pipeline).secret == created.json()["secret"]
    again = client.get(purl(pipeline, "webhook/")).json()
    assert again["secret_set"] is True and "secret" not in again
    accept(pipeline, created.json()["secret"], "generic-push", files=["docs/a.md"])
    post(pipeline, "generic", sample("generic-push"), {"X-Webhook-Secret": "wrong"})
    page = client.get(purl(pipeline, "deliveries/")).json()
    assert page["count"] == 2 and [d["status"] for d in page["results"]] == ["unauthorized", "not_triggered"]
    assert page["results"][1]["files"] == [{"path": "docs/a.md", "verdict": "excluded"}]
    filtered = client.get(purl(pipeline, "deliveries/?status=not_triggered")).json()
    assert filtered["count"] == 1 and filtered["results"][0]["verdict"] == "not_triggered"
    assert client.get(purl(pipeline, "deliveries/?status=nope")).status_code == 400


def test_dry_run_api_uses_the_receivers_matching(world, pipeline):
    """T4 dry run (API.md): same function as the receiver; validation errors in the API format."""
    client = api(world, "viewer")
    body = {"event": "push", "branch": "main", "files": ["docs/a.md", "docs/b.md"]}
    result = client.post(purl(pipeline, "triggers/dry-run/"), body, content_type="application/json").json()
    assert result["triggered"] is False and "every changed file (2) is excluded" in result["reason"]
    assert result["files"] == [
        {"path": "docs/a.md", "verdict": "excluded"},
        {"path": "docs/b.md", "verdict": "excluded"},
    ]
    body = {"event": "merge_request", "target_branch": "main", "action": "merged", "files": ["src/a.py"]}
    assert client.post(purl(pipeline, "triggers/dry-run/"), body, content_type="application/json").json()["triggered"]
    bad = client.post(purl(pipeline, "triggers/dry-run/"), {"event": "deploy", "x": 1}, content_type="application/json")
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"event", "x"}
    services.update_pipeline(pipeline.creator, pipeline, {"triggers": {"push": {"enabled": False}}}, partial=True)
    off = client.post(
        purl(pipeline, "triggers/dry-run/"), {"event": "push", "branch": "main"}, content_type="application/json"
    )
    assert off.json() == {"triggered": False, "reason": "the push trigger is off", "rule": "push.enabled", "files": []}


def test_permission_matrix_api_and_page(world, pipeline):
    """A6: view for the URLs, deliveries and dry run; modify (creator, manager, pipeline creator) for a secret."""
    other = make_pipeline(world, [stage("Build", build())], actor="creator", name="other")
    other.project, other.project_id = world.other_project, world.other_project.pk
    from pipelines.models import Pipeline

    Pipeline.objects.filter(pk=other.pk).update(project=world.other_project)
    for suffix, method, data, want in (
        ("webhook/", "GET", None, expect(200, anonymous=401)),
        ("deliveries/", "GET", None, expect(200, anonymous=401)),
        ("triggers/dry-run/", "POST", {"event": "tag", "tag": "v1"}, expect(200, anonymous=401)),
        ("webhook/secret/", "POST", None, expect(403, anonymous=401, creator=201, manager=201, developer=201)),
    ):
        check_matrix(world, method, purl(pipeline, suffix), want, data=data, api=True, other_url=purl(other, suffix))
    page = f"/projects/{pipeline.project_id}/pipelines/{pipeline.pk}/settings/webhooks/"
    other_page = f"/projects/{world.other_project.pk}/pipelines/{other.pk}/settings/webhooks/"
    check_matrix(world, "GET", page, expect(200, anonymous=302), other_url=other_page)
    check_matrix(world, "POST", page + "dry-run/", expect(200, anonymous=302), data={"event": "push", "branch": "x"},
                 other_url=other_page + "dry-run/")  # fmt: skip
    check_matrix(world, "POST", page + "secret/", expect(403, anonymous=302, creator=302, manager=302, developer=302),
                 other_url=other_page + "secret/")  # fmt: skip


def test_page_shows_urls_secret_once_log_and_dry_run(world, pipeline, secret):
    accept(pipeline, secret, "generic-push", files=["docs/a.md"])
    client = Client()
    client.force_login(world.users["developer"])
    page = f"/projects/{pipeline.project_id}/pipelines/{pipeline.pk}/settings/webhooks/"
    html = client.get(page).content.decode()
    assert f"/webhooks/gitlab/{pipeline.pk}/" in html and secret not in html
    assert "every changed file (1) is excluded by paths.exclude [docs/]" in html
    response = client.post(page + "secret/")
    assert response.status_code == 302 and response.url == page  # a reload never generates another one
    new = WebhookSecret.objects.get(pipeline=pipeline).secret
    assert new != secret and new in client.get(page).content.decode()
    assert new not in client.get(page).content.decode()  # shown once
    result = client.post(page + "dry-run/", {"event": "push", "branch": "main", "files": "src/a.py\ndocs/b.md"})
    text = result.content.decode()
    assert 'data-testid="dry-run-verdict" data-triggered="true"' in text and "1 of 2 changed files" in text
    partial = client.post(page + "dry-run/", {"event": "tag", "tag": "nightly"}, headers={"HX-Request": "true"})
    assert "tag nightly is not in the include list [v*]" in partial.content.decode()
    assert "<html" not in partial.content.decode()


def test_admin_lists_deliveries_read_only_and_never_shows_a_secret(world, pipeline, secret):
    """I2, A6: the admin shows the delivery log of pipelines the staff user may view; secrets stay hidden."""
    accept(pipeline, secret, "generic-push", files=["docs/a.md"])
    staff = world.users["viewer"]
    staff.is_staff = True
    staff.save()
    client = Client()
    client.force_login(staff)
    deliveries = client.get("/admin/triggers/delivery/")
    assert deliveries.status_code == 200 and "generic" in deliveries.content.decode()
    secrets = client.get("/admin/triggers/webhooksecret/")
    assert secrets.status_code == 200 and secret not in secrets.content.decode()
    detail = client.get(f"/admin/triggers/webhooksecret/{WebhookSecret.objects.get().pk}/change/")
    assert detail.status_code == 200 and secret not in detail.content.decode()
    outsider = world.users["outsider"]
    outsider.is_staff = True
    outsider.save()
    client.force_login(outsider)
    assert "generic" not in client.get("/admin/triggers/delivery/").content.decode()


def test_every_settings_page_lists_each_tab_once(world, pipeline):
    """The pipeline's settings tabs (P4) are one list: the Webhooks page showed its own tab twice."""
    import re

    from pipelines.views.config import TABS

    client = Client()
    client.force_login(world.users["developer"])
    base = f"/projects/{pipeline.project_id}/pipelines/{pipeline.pk}/settings/"
    for suffix in ("basic/", "parameters/", "triggers/", "webhooks/", "permissions/", "notifications/", "history/"):
        html = client.get(base + suffix).content.decode()
        tabs = html.split('data-testid="settings-tabs"', 1)[1].split("</ul>", 1)[0]
        labels = [re.sub(r"\s+", " ", label).strip() for label in re.findall(r"<a[^>]*>(.*?)</a>", tabs, re.S)]
        assert len(labels) == len(set(labels)) >= len(TABS), (suffix, labels)
