"""Holes found in review, each closed at the shared enforcement point and pinned here."""

import pytest

from pipelines import permissions as perms
from pipelines import services
from pipelines.models import Pipeline, PipelineSecret

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline(world):
    return services.create_pipeline(
        world.users["manager"],
        world.project,
        {"name": "p", "parameters": [{"name": "token", "type": "string", "default": "s3cret-Value", "secret": True}]},
    )


def deletable_by(world, actor, pipeline):
    return Pipeline.objects.restrict(world.users[actor], "delete").filter(pk=pipeline.pk).exists()


def test_modify_cannot_grant_delete_on_the_page(client, world, pipeline):
    """A1/A4: a developer (modify, no delete) cannot give the developer role delete — page toggle and full save."""
    client.force_login(world.users["developer"])
    base = f"/projects/{world.project.pk}/pipelines/{pipeline.pk}/settings/permissions/"
    toggle = client.post(
        base + "toggle/",
        {"kind": "role", "key": "developer", "flag": "delete", "role-developer-delete": "on"},
        HTTP_HX_REQUEST="true",
    )
    assert toggle.status_code == 403
    assert not deletable_by(world, "developer", pipeline)


def test_modify_cannot_grant_delete_through_the_api(client, world, pipeline):
    response = client.put(
        f"/api/v1/projects/{world.project.pk}/pipelines/{pipeline.pk}/permissions/",
        {"roles": {"developer": {"delete": True}}},
        content_type="application/json",
        HTTP_X_AUTH_TOKEN=world.token("developer"),
    )
    assert response.status_code == 403 and not deletable_by(world, "developer", pipeline)


def test_service_refuses_delete_grant_for_a_user_without_delete(world, pipeline):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        perms.set_permissions(pipeline, roles={"tester": {"delete": True}}, actor=world.users["developer"])
    perms.set_permissions(pipeline, roles={"tester": {"delete": True}}, actor=world.users["manager"])
    assert deletable_by(world, "tester", pipeline)


def test_api_copy_needs_modify_like_the_page(client, world, pipeline):
    """P3: a copy keeps the stored secret values, so viewing is not enough (tester may view and execute)."""
    response = client.post(
        f"/api/v1/projects/{world.project.pk}/pipelines/{pipeline.pk}/copy/",
        {},
        content_type="application/json",
        HTTP_X_AUTH_TOKEN=world.token("tester"),
    )
    assert response.status_code == 403
    assert PipelineSecret.objects.count() == 1
