"""Projects and members through the REST API (P0.1, I3, API.md conventions)."""

import pytest

from devops_console.core.models import Membership, Project, Role
from tests.matrix import check_matrix, expect

pytestmark = pytest.mark.django_db


def api(client, world, actor, method, url, data=None):
    call = getattr(client, method)
    kwargs = {"HTTP_X_AUTH_TOKEN": world.token(actor)}
    if data is not None:
        kwargs.update(data=data, content_type="application/json")
    return call(url, **kwargs)


def test_create_project_makes_me_creator(client, world):
    """P0.1: creating a project makes the caller its creator."""
    response = api(client, world, "outsider", "post", "/api/v1/projects/", {"name": "Gamma", "description": "x"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Gamma" and body["creator"] == "outsider" and body["my_role"] == "creator"
    assert Membership.objects.get(project_id=body["id"], user=world.users["outsider"]).role == Role.CREATOR


def test_duplicate_project_name_is_a_field_error(client, world):
    """Bad input: duplicate name → 400 in the API.md error format, nothing created."""
    before = Project.objects.count()
    response = api(client, world, "outsider", "post", "/api/v1/projects/", {"name": "alpha"})
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "CORE.4000"
    assert "already exists" in body["errors"]["name"][0]
    assert body["error_msg"]
    assert Project.objects.count() == before


def test_list_shows_only_my_projects_paginated(client, world):
    """P0.1: a user sees only projects they belong to; lists are paginated (API.md)."""
    body = api(client, world, "viewer", "get", "/api/v1/projects/?page_size=1").json()
    assert body["count"] == 1 and [p["name"] for p in body["results"]] == ["Alpha"]
    assert set(body) == {"count", "next", "previous", "results"}
    assert api(client, world, "outsider", "get", "/api/v1/projects/").json()["count"] == 0


def test_page_size_is_capped_at_100(client, world):
    from devops_console.core import services

    for i in range(105):
        services.create_project(world.users["outsider"], f"p{i:03d}")
    body = api(client, world, "outsider", "get", "/api/v1/projects/?page_size=500").json()
    assert body["count"] == 105 and len(body["results"]) == 100


def test_project_matrix(world):
    pid, other = world.project.pk, world.other_project.pk
    url, other_url = f"/api/v1/projects/{pid}/", f"/api/v1/projects/{other}/"
    check_matrix(world, "GET", url, expect(200, anonymous=401), api=True, other_url=other_url)
    check_matrix(
        world,
        "PATCH",
        url,
        expect(403, anonymous=401, creator=200, manager=200),
        data={"description": "new"},
        api=True,
        other_url=other_url,
    )
    check_matrix(world, "DELETE", url, expect(403, anonymous=401, creator=204), api=True, other_url=other_url)
    check_matrix(world, "GET", "/api/v1/projects/", expect(200, anonymous=401, outsider=200), api=True)


def test_members_matrix(world):
    base, other = f"/api/v1/projects/{world.project.pk}/members/", f"/api/v1/projects/{world.other_project.pk}/members/"
    check_matrix(world, "GET", base, expect(200, anonymous=401), api=True, other_url=other)
    add = {"user": "outsider", "role": "tester"}
    check_matrix(
        world, "POST", base, expect(403, anonymous=401, creator=201, manager=201), data=add, api=True, other_url=other
    )
    check_matrix(
        world,
        "PATCH",
        base + "viewer/",
        expect(403, anonymous=401, creator=200, manager=200),
        data={"role": "tester"},
        api=True,
        other_url=other + "other_creator/",
    )
    check_matrix(
        world,
        "DELETE",
        base + "viewer/",
        expect(403, anonymous=401, creator=204, manager=204),
        api=True,
        other_url=other + "other_creator/",
    )


def test_add_change_remove_member(client, world):
    base = f"/api/v1/projects/{world.project.pk}/members/"
    response = api(client, world, "manager", "post", base, {"user": "outsider", "role": "tester"})
    assert response.status_code == 201 and response.json()["role"] == "tester"
    assert api(client, world, "manager", "patch", base + "outsider/", {"role": "operator"}).json()["role"] == "operator"
    assert api(client, world, "manager", "delete", base + "outsider/").status_code == 204
    assert not Membership.objects.filter(project=world.project, user=world.users["outsider"]).exists()
    # the member list answers with {user, role}
    members = {
        m["user"]: m["role"] for m in api(client, world, "viewer", "get", base + "?page_size=100").json()["results"]
    }
    assert members["creator"] == "creator" and members["viewer"] == "viewer"


@pytest.mark.parametrize(
    "payload, field, fragment",
    [
        ({"user": "nobody", "role": "tester"}, "user", "No active user"),
        ({"user": "outsider", "role": "boss"}, "role", "not a role"),
        ({"user": "outsider", "role": "creator"}, "role", "exactly one creator"),
        ({"user": "viewer", "role": "tester"}, "user", "already a member"),
        ({"role": "tester"}, "user", "required"),
    ],
)
def test_bad_member_input_changes_nothing(client, world, payload, field, fragment):
    """Bad input: unknown user, invalid role → field error, nothing changed, never a 500."""
    before = list(Membership.objects.order_by("pk").values_list("user_id", "role"))
    response = api(client, world, "creator", "post", f"/api/v1/projects/{world.project.pk}/members/", payload)
    assert response.status_code == 400
    assert fragment in " ".join(response.json()["errors"][field])
    assert list(Membership.objects.order_by("pk").values_list("user_id", "role")) == before


def test_creator_cannot_be_removed_or_demoted(client, world):
    """P0.1: the creator cannot be removed; a project always keeps a creator."""
    base = f"/api/v1/projects/{world.project.pk}/members/creator/"
    response = api(client, world, "manager", "delete", base)
    assert response.status_code == 400 and "cannot be removed" in response.json()["errors"]["user"][0]
    response = api(client, world, "creator", "patch", base, {"role": "viewer"})
    assert response.status_code == 400 and "cannot be changed" in response.json()["errors"]["role"][0]
    assert Membership.objects.get(project=world.project, role=Role.CREATOR).user == world.users["creator"]


def test_unknown_member_is_404(client, world):
    response = api(client, world, "creator", "delete", f"/api/v1/projects/{world.project.pk}/members/ghost/")
    assert response.status_code == 404 and response.json()["error_code"] == "CORE.4040"


def test_malformed_json_is_400_not_500(client, world):
    response = client.post(
        "/api/v1/projects/", data="{not json", content_type="application/json", HTTP_X_AUTH_TOKEN=world.token("viewer")
    )
    assert response.status_code == 400 and response.json()["error_code"].endswith(".4000")


def test_schema_and_docs_are_served_without_cdn(client, world):
    """I3: OpenAPI schema at /api/schema/ and docs at /api/docs/, assets self-hosted (I1)."""
    client.force_login(world.users["viewer"])
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/projects/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn.jsdelivr" not in docs.content and b"unpkg.com" not in docs.content and b"/static/" in docs.content
