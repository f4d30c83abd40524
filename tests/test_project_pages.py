"""Project, member and account pages (P0.1, P0.2, I1): permission matrix and form behaviour."""

import pytest

from devops_console.core.models import Membership, Project, Role
from tests.matrix import check_matrix, expect

pytestmark = pytest.mark.django_db


def urls(world, project=None):
    pid = (project or world.project).pk
    return {
        "detail": f"/projects/{pid}/",
        "settings": f"/projects/{pid}/settings/",
        "delete": f"/projects/{pid}/settings/delete/",
        "members": f"/projects/{pid}/settings/members/",
        "member": f"/projects/{pid}/settings/members/viewer/",
    }


def test_page_matrix(world):
    mine, other = urls(world), urls(world, world.other_project)
    check_matrix(world, "GET", "/projects/", expect(200, anonymous=302, outsider=200))
    check_matrix(world, "GET", "/projects/new/", expect(200, anonymous=302, outsider=200))
    check_matrix(world, "GET", "/account/tokens/", expect(200, anonymous=302, outsider=200))
    check_matrix(world, "GET", "/pipelines/", expect(200, anonymous=302, outsider=200))
    check_matrix(world, "GET", "/templates/", expect(200, anonymous=302, outsider=200))
    for name in ("detail", "settings", "members"):
        check_matrix(world, "GET", mine[name], expect(200, anonymous=302), other_url=other[name])
    check_matrix(
        world,
        "POST",
        mine["settings"],
        expect(403, anonymous=302, creator=302, manager=302),
        data={"name": "Alpha 2", "description": ""},
        other_url=other["settings"],
    )
    check_matrix(
        world,
        "POST",
        mine["delete"],
        expect(403, anonymous=302, creator=302),
        data={"confirm_name": "Alpha"},
        other_url=other["delete"],
    )
    check_matrix(
        world,
        "POST",
        mine["members"],
        expect(403, anonymous=302, creator=302, manager=302),
        data={"username": "outsider", "role": "tester"},
        other_url=other["members"],
    )
    check_matrix(
        world,
        "POST",
        mine["member"],
        expect(403, anonymous=302, creator=302, manager=302),
        data={"role": "tester"},
        other_url=other["member"],
    )


def test_create_project_page(client, world):
    client.force_login(world.users["outsider"])
    response = client.post("/projects/new/", {"name": "Gamma", "description": "d"})
    project = Project.objects.get(name="Gamma")
    assert response.status_code == 302 and response["Location"] == f"/projects/{project.pk}/"
    assert Membership.objects.get(project=project).role == Role.CREATOR


@pytest.mark.parametrize("name, fragment", [("", "required"), ("ALPHA", "already exists"), ("x" * 101, "at most")])
def test_create_project_field_errors(client, world, name, fragment):
    client.force_login(world.users["outsider"])
    before = Project.objects.count()
    response = client.post("/projects/new/", {"name": name})
    assert response.status_code == 200
    assert fragment in " ".join(response.context["form"].errors["name"])
    assert b'data-field-error="name"' in response.content and b"is-invalid" in response.content
    assert Project.objects.count() == before


def test_rename_refused_changes_nothing(client, world):
    client.force_login(world.users["creator"])
    response = client.post(f"/projects/{world.project.pk}/settings/", {"name": "Beta", "description": "changed"})
    assert response.status_code == 200 and "name" in response.context["form"].errors
    world.project.refresh_from_db()
    assert world.project.name == "Alpha" and world.project.description == "The project under test"


def test_member_management_pages(client, world):
    client.force_login(world.users["manager"])
    base = f"/projects/{world.project.pk}/settings/members/"
    client.post(base, {"username": "outsider", "role": "operator"})
    assert Membership.objects.get(project=world.project, user=world.users["outsider"]).role == "operator"
    client.post(base + "outsider/", {"role": "viewer"})
    assert Membership.objects.get(project=world.project, user=world.users["outsider"]).role == "viewer"
    client.post(base + "outsider/", {"action": "remove"})
    assert not Membership.objects.filter(project=world.project, user=world.users["outsider"]).exists()


def test_member_bad_input_on_page(client, world):
    client.force_login(world.users["manager"])
    base = f"/projects/{world.project.pk}/settings/members/"
    response = client.post(base, {"username": "ghost", "role": "tester"})
    assert response.status_code == 200 and "No active user" in response.context["form"].errors["username"][0]
    response = client.post(base + "creator/", {"action": "remove"}, follow=True)
    assert "cannot be removed" in response.content.decode()
    assert Membership.objects.filter(project=world.project, role=Role.CREATOR).count() == 1


def test_delete_project_needs_name_confirmation(client, world):
    client.force_login(world.users["creator"])
    client.post(f"/projects/{world.project.pk}/settings/delete/", {"confirm_name": "wrong"})
    assert Project.objects.filter(pk=world.project.pk).exists()
    client.post(f"/projects/{world.project.pk}/settings/delete/", {"confirm_name": "Alpha"})
    assert not Project.objects.filter(pk=world.project.pk).exists()


def test_project_list_shows_only_mine_and_switcher(client, world):
    client.force_login(world.users["viewer"])
    content = client.get("/projects/").content.decode()
    assert "Alpha" in content and "Beta" not in content
    assert 'data-testid="project-switcher"' in content


def test_project_list_query_count_is_constant(client, world, django_assert_max_num_queries):
    from devops_console.core import services

    client.force_login(world.users["outsider"])
    for i in range(3):
        services.create_project(world.users["outsider"], f"few-{i}")
    with django_assert_max_num_queries(12) as few:
        client.get("/projects/")
    for i in range(40):
        services.create_project(world.users["outsider"], f"many-{i}")
    with django_assert_max_num_queries(12) as many:
        client.get("/projects/")
    assert len(few.captured_queries) == len(many.captured_queries)


def test_chinese_navigation(client, world):
    """I4: the language switch sets zh-hans and the navigation renders in Chinese."""
    client.force_login(world.users["viewer"])
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/projects/"})
    content = client.get(f"/projects/{world.project.pk}/settings/members/").content.decode()
    assert "流水线" in content and "成员" in content and "设置" in content


def test_login_is_throttled_after_repeated_failures(client, world, settings):
    """Repeated failed logins are locked out (django-axes)."""
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        client.post("/login/", {"username": "viewer", "password": "wrong"})
    response = client.post("/login/", {"username": "viewer", "password": "pw-viewer"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_login_works(client, world):
    response = client.post("/login/", {"username": "viewer", "password": "pw-viewer"})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(world.users["viewer"].pk)
