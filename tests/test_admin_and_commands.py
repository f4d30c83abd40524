"""Django admin through the restricted queryset (I2), and the management commands of README command 1."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from devops_console.core.models import ApiToken, Membership, Project

pytestmark = pytest.mark.django_db


def staff(world, actor):
    user = world.users[actor]
    user.is_staff = True
    user.save()
    return user


def test_admin_lists_only_projects_the_staff_user_belongs_to(client, world):
    client.force_login(staff(world, "viewer"))
    content = client.get("/admin/core/project/").content.decode()
    assert "Alpha" in content and "Beta" not in content


def test_admin_refuses_other_projects_and_edits_without_right(client, world):
    client.force_login(staff(world, "viewer"))
    other = client.get(f"/admin/core/project/{world.other_project.pk}/change/")
    assert other.status_code == 302  # admin's answer for an object outside the queryset: "does not exist"
    response = client.post(
        f"/admin/core/project/{world.project.pk}/change/",
        {"name": "Hacked", "description": "", "creator": world.users["creator"].pk},
    )
    assert response.status_code == 403
    assert Project.objects.get(pk=world.project.pk).name == "Alpha"


def test_admin_never_shows_token_hashes(client, world):
    token, raw = ApiToken.issue(world.users["viewer"], "t")
    admin = get_user_model().objects.create_superuser("root", password="pw")
    client.force_login(admin)
    content = client.get(f"/admin/core/apitoken/{token.pk}/change/").content.decode()
    assert raw not in content and token.key_hash not in content and token.prefix in content


def test_non_staff_cannot_open_admin(client, world):
    client.force_login(world.users["creator"])
    assert client.get("/admin/core/project/").status_code == 302


def test_ensure_admin_creates_once(monkeypatch, capsys):
    monkeypatch.delenv("DEVOPS_ADMIN_PASSWORD", raising=False)
    call_command("ensure_admin")
    out = capsys.readouterr().out
    admin = get_user_model().objects.get(username="admin", is_superuser=True)
    password = out.split("password: ")[1].split()[0]
    assert admin.check_password(password)
    call_command("ensure_admin")
    assert "exists already" in capsys.readouterr().out
    assert get_user_model().objects.filter(is_superuser=True).count() == 1


def test_ensure_admin_uses_env_password(monkeypatch, capsys):
    monkeypatch.setenv("DEVOPS_ADMIN_PASSWORD", "chosen-Passw0rd")
    call_command("ensure_admin")
    assert "chosen-Passw0rd" not in capsys.readouterr().out
    assert get_user_model().objects.get(username="admin").check_password("chosen-Passw0rd")


def test_seed_demo_is_idempotent():
    call_command("seed_demo")
    call_command("seed_demo")
    project = Project.objects.get(name="Demo project")
    roles = set(Membership.objects.filter(project=project).values_list("role", flat=True))
    assert roles == {"creator", "manager", "developer", "tester", "operator", "participant", "viewer"}
    assert Membership.objects.filter(project=project).count() == 7
