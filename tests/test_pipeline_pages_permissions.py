"""Permissions tab (A1–A5): the htmx toggle applies one click with its cascade and returns the row; the
full-form Save (no JavaScript) is read as changes; locked rows and "view" never change."""

import re

import pytest

from devops_console.core.permissions import CHANGE, DELETE, EXECUTE, can
from pipelines import permissions
from pipelines.models import PipelinePersonPermission
from tests.test_pipeline_pages import login, make_pipeline, purl

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline(world):
    return make_pipeline(world)


def toggle(client, p, kind, key, flag, on):
    data = {"kind": kind, "key": str(key), "flag": flag}
    if on:
        data[f"{kind}-{key}-{flag}"] = "on"
    return client.post(purl(p, "settings/permissions/toggle/"), data, HTTP_HX_REQUEST="true")


def checked(html: str) -> dict:
    """flag -> (checked, disabled) of the one row in ``html``."""
    out = {}
    for match in re.finditer(r'<input class="form-check-input" type="checkbox" name="[^"]*-(\w+)"([^>]*)>', html):
        out[match.group(1)] = ("checked" in match.group(2), "disabled" in match.group(2))
    return out


def test_matrix_page_shows_roles_persons_and_locks(world, pipeline):
    """A1 roles and persons × view/execute/modify/delete; A3 view checked and disabled; A5 locked rows."""
    html = login(world, "manager").get(purl(pipeline, "settings/permissions/")).content.decode()
    for role in ("creator", "manager", "developer", "tester", "operator", "participant", "viewer"):
        assert f'id="perm-role-{role}"' in html
    creator_row = html[html.index('id="perm-role-creator"') :].split("</tr>")[0]
    assert all(state == (True, True) for state in checked(creator_row).values())
    tester_row = html[html.index('id="perm-role-tester"') :].split("</tr>")[0]
    assert checked(tester_row) == {
        "view": (True, True),
        "execute": (True, False),
        "modify": (False, False),
        "delete": (False, False),
    }
    for user in ("creator", "developer"):  # project creator, pipeline creator
        row = html[html.index(f'id="perm-user-{world.users[user].pk}"') :].split("</tr>")[0]
        assert "bi-lock" in row and all(state == (True, True) for state in checked(row).values())


def test_htmx_toggle_applies_the_cascade_and_returns_the_row(world, pipeline):
    """A4 through the htmx endpoint; the rights apply at once (A6)."""
    client, tester = login(world, "manager"), world.users["tester"]
    response = toggle(client, pipeline, "role", "tester", "modify", True)  # modify on -> execute on
    assert response.status_code == 200 and response.content.decode().lstrip().startswith('<tr id="perm-role-tester"')
    assert checked(response.content.decode()) == {
        "view": (True, True),
        "execute": (True, False),
        "modify": (True, False),
        "delete": (False, False),
    }
    assert can(tester, pipeline, CHANGE)
    response = toggle(client, pipeline, "role", "tester", "delete", True)  # delete on -> modify, execute on
    assert all(c for c, _d in checked(response.content.decode()).values()) and can(tester, pipeline, DELETE)
    response = toggle(client, pipeline, "role", "tester", "execute", False)  # execute off -> modify, delete off
    assert checked(response.content.decode())["modify"] == (False, False)
    assert not can(tester, pipeline, EXECUTE) and not can(tester, pipeline, DELETE)
    response = toggle(client, pipeline, "role", "tester", "view", False)  # A3: view stays on
    assert checked(response.content.decode())["view"] == (True, True)
    toggle(client, pipeline, "role", "viewer", "modify", True)
    toggle(client, pipeline, "role", "viewer", "modify", False)  # modify off -> delete off, execute stays
    assert permissions.role_flags(pipeline)["viewer"] == {
        "view": True,
        "execute": True,
        "modify": False,
        "delete": False,
    }


def test_locked_rows_cannot_change(world, pipeline):
    """A5: the project creator's and the pipeline creator's rights stay all on."""
    client = login(world, "manager")
    for user in ("creator", "developer"):
        response = toggle(client, pipeline, "user", world.users[user].pk, "execute", False)
        assert all(c for c, _d in checked(response.content.decode()).values())
        assert can(world.users[user], pipeline, DELETE)
    toggle(client, pipeline, "role", "creator", "execute", False)
    assert permissions.role_flags(pipeline)["creator"]["delete"] is True
    assert (
        client.post(
            purl(pipeline, "settings/permissions/toggle/"), {"kind": "role", "key": "boss", "flag": "execute"}
        ).status_code
        == 400
    )
    assert (
        client.post(
            purl(pipeline, "settings/permissions/toggle/"), {"kind": "user", "key": "99999", "flag": "execute"}
        ).status_code
        == 400
    )


def test_person_rows_override_the_role(world, pipeline):
    """A2: a person row starts from the role's rights and then overrides it; removing it restores the role's."""
    client, operator = login(world, "manager"), world.users["operator"]
    client.post(purl(pipeline, "settings/permissions/"), {"action": "add_person", "user": operator.pk})
    assert permissions.person_flags(pipeline)[operator.pk] == {
        "view": True,
        "execute": True,
        "modify": False,
        "delete": False,
    }
    response = toggle(client, pipeline, "user", operator.pk, "modify", True)
    assert response.content.decode().lstrip().startswith(f'<tr id="perm-user-{operator.pk}"')
    toggle(client, pipeline, "role", "operator", "execute", False)
    assert can(operator, pipeline, CHANGE)  # the person setting wins
    client.post(purl(pipeline, "settings/permissions/"), {"action": "remove_person", "user": operator.pk})
    assert not PipelinePersonPermission.objects.filter(pipeline=pipeline, user=operator).exists()
    assert not can(operator, pipeline, EXECUTE)  # back to the role's rights


def test_full_form_save_is_read_as_changes(world, pipeline):
    """No JavaScript: the whole matrix is posted and read as changes against the stored state (API.md)."""
    client = login(world, "manager")
    data = {"action": "save"}
    stored = permissions.role_flags(pipeline)
    for role, flags in stored.items():
        for flag in ("execute", "modify", "delete"):
            if flags[flag]:
                data[f"role-{role}-{flag}"] = "on"
    data.pop("role-developer-execute")  # execute off while modify stays checked -> both off (A4)
    data["role-viewer-delete"] = "on"  # delete on -> modify and execute on
    data.pop("role-manager-delete")
    response = client.post(purl(pipeline, "settings/permissions/"), data)
    assert response.status_code == 302
    flags = permissions.role_flags(pipeline)
    assert flags["developer"] == {"view": True, "execute": False, "modify": False, "delete": False}
    assert flags["viewer"] == {"view": True, "execute": True, "modify": True, "delete": True}
    assert flags["manager"] == {"view": True, "execute": True, "modify": True, "delete": False}
    assert flags["creator"]["delete"] is True  # not posted (disabled) and locked
    assert can(world.users["viewer"], pipeline, DELETE) and not can(world.users["manager"], pipeline, DELETE)
    assert can(world.users["developer"], pipeline, DELETE)  # the pipeline creator is locked (A5)


def test_add_person_choices_are_project_members_without_a_row(world, pipeline):
    html = login(world, "manager").get(purl(pipeline, "settings/permissions/")).content.decode()
    select = html[html.index('name="user"') :].split("</select>")[0]
    assert f'value="{world.users["tester"].pk}"' in select
    assert f'value="{world.users["developer"].pk}"' not in select  # locked
    assert f'value="{world.users["outsider"].pk}"' not in select
    response = login(world, "manager").post(
        purl(pipeline, "settings/permissions/"), {"action": "add_person", "user": world.users["outsider"].pk}
    )
    assert response.status_code == 200 and b'data-field-error="user"' in response.content


def test_full_form_save_of_person_rows(world, pipeline):
    """A2 without JavaScript: the person rows the page showed are read as changes; others are left alone."""
    tester, operator = world.users["tester"], world.users["operator"]
    permissions.set_permissions(pipeline, users={tester.pk: {}, operator.pk: {}}, actor=pipeline.creator)  # as roles
    client = login(world, "manager")
    data = {"action": "save", "rows": [f"user-{tester.pk}"], f"user-{tester.pk}-delete": "on"}
    for role, flags in permissions.role_flags(pipeline).items():
        data.update({f"role-{role}-{f}": "on" for f in ("execute", "modify", "delete") if flags[f]})
    client.post(purl(pipeline, "settings/permissions/"), data)
    assert permissions.person_flags(pipeline)[tester.pk]["delete"] is True  # delete on -> all on
    assert permissions.person_flags(pipeline)[operator.pk]["execute"] is True  # not shown: unchanged
