"""Pipeline API permissions: the matrix over every URL (A1 defaults, P8, A6) and A1–A5 through
``…/pipelines/{id}/permissions/`` (API.md "Pipeline permissions")."""

from __future__ import annotations

import pytest

from devops_console.core.models import Membership, Role
from pipelines import hostgroups, services
from tests.conftest import make_user
from tests.matrix import check_matrix, expect
from tests.test_pipelines_api import api_fixture, definition, make, plist, purl, snapshot  # noqa: F401

pytestmark = pytest.mark.django_db

EVERYONE = {"anonymous": 401}
#: A1 defaults: creators and managers everything; developers view/execute/modify (and add pipelines)
MODIFY = {"tester": 403, "operator": 403, "participant": 403, "viewer": 403}
DELETE = {**MODIFY, "developer": 403}
#: host groups are managed by the creator, managers and operators
HOST_MANAGE = {"developer": 403, "tester": 403, "participant": 403, "viewer": 403}


@pytest.fixture
def pipelines(world):
    """A pipeline of the project created by the project creator (so no role holds A5 rights on it
    except the creator), with two versions; and one of the other project."""
    pipeline = make(world, "creator")
    services.update_pipeline(world.users["creator"], pipeline, {**pipeline.definition, "description": "v2"})
    other = make(world, "other_creator", project=world.other_project)
    return pipeline, other


@pytest.fixture
def groups(world):
    mine = hostgroups.create_host_group(world.users["creator"], world.project, {"name": "web"})
    other = hostgroups.create_host_group(world.users["other_creator"], world.other_project, {"name": "web"})
    return mine, other


def _urls(pipelines, suffix=""):
    pipeline, other = pipelines
    return purl(pipeline, suffix), purl(other, suffix)


PIPELINE_MATRIX = [  # (method, suffix, data, expected per role)
    ("get", "", None, expect(200, **EVERYONE)),
    ("put", "", definition(description="put"), expect(200, **EVERYONE, **MODIFY)),
    ("patch", "", {"description": "patched"}, expect(200, **EVERYONE, **MODIFY)),
    ("delete", "", None, expect(204, **EVERYONE, **DELETE)),
    ("post", "copy/", {"name": "copied"}, expect(201, **EVERYONE, **MODIFY)),
    ("put", "follow/", None, expect(200, **EVERYONE)),
    ("delete", "follow/", None, expect(204, **EVERYONE)),
    ("get", "permissions/", None, expect(200, **EVERYONE)),
    ("put", "permissions/", {"roles": {"viewer": {"execute": True}}}, expect(200, **EVERYONE, **MODIFY)),
    ("get", "versions/", None, expect(200, **EVERYONE)),
    ("get", "versions/1/", None, expect(200, **EVERYONE)),
    ("post", "versions/1/restore/", None, expect(200, **EVERYONE, **MODIFY)),
    ("get", "export/", None, expect(200, **EVERYONE)),
]


@pytest.mark.parametrize(
    "method, suffix, data, expected", PIPELINE_MATRIX, ids=[f"{m} {s}" for m, s, *_ in PIPELINE_MATRIX]
)
def test_pipeline_matrix(world, pipelines, method, suffix, data, expected):
    """A1 defaults per role on every pipeline URL; anonymous 401; outsider and the other project's
    pipeline 404 (A6); P8: only creators and managers delete."""
    url, other_url = _urls(pipelines, suffix)
    check_matrix(world, method, url, expected, data=data, api=True, other_url=other_url)


def test_list_create_and_import_matrix(world, pipelines):
    """Listing needs membership; creating and importing need ADD_PIPELINE (developers and up)."""
    check_matrix(world, "get", plist(world), expect(200, **EVERYONE), api=True)
    body = definition(name="new-one")
    check_matrix(world, "post", plist(world), expect(201, **EVERYONE, **MODIFY), data=body, api=True)
    yaml_body = {
        "yaml": services.to_yaml({**pipelines[0].definition, "name": "imported", "parameters": [], "stages": []})
    }
    check_matrix(world, "post", plist(world) + "import/", expect(201, **EVERYONE, **MODIFY), data=yaml_body, api=True)


def test_pipeline_of_another_project_under_my_project_is_404(api, world, pipelines):
    """Swapping the pipeline id into my project's URL does not reach it."""
    _mine, other = pipelines
    url = f"{plist(world)}{other.pk}/"
    for suffix in ("", "permissions/", "versions/", "export/"):
        assert api("creator", "get", url + suffix).status_code == 404
    assert api("creator", "delete", url).status_code == 404


def test_host_group_matrix(world, groups):
    mine, other = groups
    base = f"/api/v1/projects/{world.project.pk}/host-groups/"
    check_matrix(world, "get", base, expect(200, **EVERYONE), api=True)
    check_matrix(world, "post", base, expect(201, **EVERYONE, **HOST_MANAGE), data={"name": "db"}, api=True)
    url, other_url = f"{base}{mine.pk}/", f"/api/v1/projects/{world.other_project.pk}/host-groups/{other.pk}/"
    check_matrix(world, "get", url, expect(200, **EVERYONE), api=True, other_url=other_url)
    check_matrix(world, "patch", url, expect(200, **EVERYONE, **HOST_MANAGE), data={"description": "x"}, api=True,
                 other_url=other_url)  # fmt: skip
    check_matrix(world, "delete", url, expect(204, **EVERYONE, **HOST_MANAGE), api=True, other_url=other_url)


EDITS = [
    ("put", "", definition(description="nope")),
    ("patch", "", {"description": "nope"}),
    ("delete", "", None),
    ("put", "permissions/", {"roles": {"viewer": {"execute": True}}}),
    ("post", "versions/1/restore/", None),
]


@pytest.mark.parametrize("actor", ["viewer", "participant", "tester"])
def test_view_only_user_tries_every_edit(api, world, pipelines, groups, actor):
    """A user who may view but not modify gets 403 on every edit action and nothing changes (A1, A6)."""
    pipeline, _ = pipelines
    group = groups[0]
    before = snapshot()
    for method, suffix, data in EDITS:
        response = api(actor, method, purl(pipeline, suffix), data)
        assert response.status_code == 403, (method, suffix, response.content)
        assert response.json()["error_code"] == "PIPELINES.4030"
    hg = f"/api/v1/projects/{world.project.pk}/host-groups/"
    for method, url, data in (("patch", f"{hg}{group.pk}/", {"name": "x"}), ("delete", f"{hg}{group.pk}/", None),
                              ("post", hg, {"name": "new"})):  # fmt: skip
        assert api(actor, method, url, data).status_code == 403, (method, url)
    assert snapshot() == before


# --- A1–A5 through the API ------------------------------------------------------------------------


def perm_url(pipeline):
    return purl(pipeline, "permissions/")


def test_get_shape(api, world, pipelines):
    """A1: roles keyed by role, users keyed by username, four flags each; A5 creators listed as locked."""
    body = api("viewer", "get", perm_url(pipelines[0])).json()
    assert set(body["roles"]) == set(Role.values) and body["users"] == {}
    assert body["roles"]["developer"] == {"view": True, "execute": True, "modify": True, "delete": False}
    assert body["roles"]["viewer"] == {"view": True, "execute": False, "modify": False, "delete": False}
    assert body["locked_users"] == ["creator"] and body["locked_roles"] == ["creator"]


def test_api_md_examples_are_toggles_with_cascade(api, world, pipelines):
    """API.md: {execute: false, modify: true} over execute+modify turns both off; over view only turns
    both on (A4). The stored result is what the response shows, and it is enforced (A6)."""
    pipeline = pipelines[0]
    change = {"execute": False, "modify": True}
    response = api("manager", "put", perm_url(pipeline), {"roles": {"developer": change, "viewer": change}})
    assert response.status_code == 200, response.content
    roles = response.json()["roles"]
    assert roles["developer"] == {"view": True, "execute": False, "modify": False, "delete": False}
    assert roles["viewer"] == {"view": True, "execute": True, "modify": True, "delete": False}
    assert api("developer", "patch", purl(pipeline), {"description": "dev"}).status_code == 403
    assert api("viewer", "patch", purl(pipeline), {"description": "viewer"}).status_code == 200


def test_locked_entries_and_view_false_are_ignored(api, world):
    """A3 view is always on; A5 the project creator's and the pipeline creator's rights never change."""
    pipeline = make(world, "developer")  # the developer is this pipeline's creator
    off = {"view": False, "execute": False, "modify": False, "delete": False}
    body = {"roles": {"creator": off, "viewer": {"view": False}}, "users": {"creator": off, "developer": off}}
    response = api("manager", "put", perm_url(pipeline), body)
    assert response.status_code == 200 and response.json()["users"] == {}
    assert response.json()["roles"]["creator"]["delete"] is True
    assert response.json()["roles"]["viewer"]["view"] is True
    assert sorted(response.json()["locked_users"]) == ["creator", "developer"]
    assert api("viewer", "get", purl(pipeline)).status_code == 200
    assert api("developer", "patch", purl(pipeline), {"description": "mine"}).status_code == 200
    assert api("developer", "delete", purl(pipeline)).status_code == 204


def test_person_overrides_role(api, world, pipelines):
    """A2: a person setting overrides the role; role changes reach members without their own setting."""
    pipeline = pipelines[0]
    second = make_user("tester2")
    Membership.objects.create(project=world.project, user=second, role=Role.TESTER)
    response = api("manager", "put", perm_url(pipeline), {"users": {"tester": {"execute": False}}})
    assert response.json()["users"] == {"tester": {"view": True, "execute": False, "modify": False, "delete": False}}
    response = api("manager", "put", perm_url(pipeline), {"roles": {"tester": {"modify": True}}})
    assert response.json()["roles"]["tester"]["modify"] is True
    assert response.json()["users"]["tester"]["execute"] is False  # kept its own setting
    assert api("tester", "patch", purl(pipeline), {"description": "t"}).status_code == 403
    world.users["tester2"] = second
    assert api("tester2", "patch", purl(pipeline), {"description": "t2"}).status_code == 200


def test_granting_delete_needs_delete(api, world, pipelines):
    """Modify lets a developer change permissions, but not hand out delete, which they lack."""
    pipeline = pipelines[0]
    before = snapshot()
    for body in ({"roles": {"viewer": {"delete": True}}}, {"users": {"developer": {"delete": True}}}):
        assert api("developer", "put", perm_url(pipeline), body).status_code == 403
    assert snapshot() == before
    assert api("developer", "put", perm_url(pipeline), {"roles": {"manager": {"delete": True}}}).status_code == 200
    assert api("manager", "put", perm_url(pipeline), {"roles": {"viewer": {"delete": True}}}).status_code == 200


BAD_PERMISSIONS = [
    ({"roles": {"admin": {"view": True}}}, "roles.admin"),
    ({"roles": {"viewer": {"run": True}}}, "roles.viewer.run"),
    ({"roles": {"viewer": {"execute": "yes"}}}, "roles.viewer.execute"),
    ({"roles": {"viewer": True}}, "roles.viewer"),
    ({"roles": ["viewer"]}, "roles"),
    ({"users": {"nobody": {"execute": True}}}, "users.nobody"),
    ({"users": {"outsider": {"execute": True}}}, "users.outsider"),  # exists, not a member
    ({"users": {"tester": {"execute": 1}}}, "users.tester.execute"),
    ({"users": "tester"}, "users"),
    ({"groups": {}}, "groups"),
]


@pytest.mark.parametrize("body, field", BAD_PERMISSIONS, ids=[f for _b, f in BAD_PERMISSIONS])
def test_bad_permission_bodies_are_400(api, world, pipelines, body, field):
    before = snapshot()
    response = api("manager", "put", perm_url(pipelines[0]), body)
    assert response.status_code == 400 and field in response.json()["errors"], response.content
    assert snapshot() == before
