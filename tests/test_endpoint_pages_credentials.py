"""Credential pages (SPEC §2 E4), endpoint navigation and translations, and the custom scope on create.
Endpoint pages: test_endpoint_pages.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from endpoints import services
from endpoints.models import AuditEntry, Credential, ServiceEndpoint
from tests.test_endpoint_pages import PLANTED, base, cred_base, git_data, kubeconfig, login, make_endpoint

pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------- credentials page (E4)


def test_credential_pages_create_edit_replace_and_delete(client, world):
    login(client, world, "developer")
    url = cred_base(world.project)
    assert 'data-testid="credentials-empty"' in client.get(url).content.decode()
    new = client.get(url + "new/?kind=username_password").content.decode()
    assert 'type="password" name="secret"' in new
    response = client.post(
        url + "new/",
        {
            "kind": "username_password",
            "name": "robot",
            "identity": "robot",
            "secret": PLANTED,
            "shared": "on",
            "expires_at": "",
        },
    )
    assert response.status_code == 302
    credential = Credential.objects.get(name="robot")
    assert credential.shared and credential.secret == PLANTED and credential.owner == world.users["developer"]
    kube = client.get(url + "new/?kind=kubeconfig").content.decode()
    assert 'name="secret_file"' in kube and 'name="identity"' not in kube
    upload = SimpleUploadedFile("config", kubeconfig().encode())
    assert (
        client.post(url + "new/", {"kind": "kubeconfig", "name": "cluster", "secret_file": upload}).status_code == 302
    )
    assert Credential.objects.get(name="cluster").secret == kubeconfig()
    bad = client.post(url + "new/", {"kind": "kubeconfig", "name": "broken", "secret": "nope: ["})
    assert bad.status_code == 200 and "secret" in bad.context["form"].errors
    assert not Credential.objects.filter(name="broken").exists()
    # replace secret: empty keeps, a new value replaces
    edit = url + f"{credential.pk}/edit/"
    soon = (timezone.localdate() + timedelta(days=10)).isoformat()
    assert (
        client.post(
            edit, {"name": "robot", "identity": "robot2", "secret": "", "shared": "on", "expires_at": soon}
        ).status_code
        == 302
    )
    credential.refresh_from_db()
    assert credential.secret == PLANTED and credential.identity == "robot2"
    page = client.get(url).content.decode()
    assert 'data-testid="expires-soon"' in page and "set · updated" in page and "0 endpoints" in page
    assert (
        client.post(edit, {"name": "robot", "identity": "robot2", "secret": "new-pw", "shared": "on"}).status_code
        == 302
    )
    credential.refresh_from_db()
    assert credential.secret == "new-pw" and credential.expires_at is None
    assert AuditEntry.objects.filter(credential=credential, action="replace_secret").exists()
    assert client.post(url + f"{credential.pk}/delete/").status_code == 302
    assert not Credential.objects.filter(pk=credential.pk).exists()


def test_credential_list_counts_endpoints(client, world):
    endpoint = make_endpoint(world, "developer", name="repo")
    login(client, world, "developer")
    page = client.get(cred_base(world.project)).content.decode()
    assert endpoint.credential.name in page and "1 endpoint" in page


def test_sidebar_links(client, world):
    login(client, world, "viewer")
    page = client.get(f"/projects/{world.project.pk}/").content.decode()
    assert f'href="{base(world.project)}"' in page and f'href="{cred_base(world.project)}"' in page


def test_pages_render_in_chinese(client, world, settings):
    """Every string goes through gettext; the pages render under the zh-hans catalogue too."""
    endpoint = make_endpoint(world, "developer", name="repo")
    login(client, world, "developer")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    for url in (
        base(world.project),
        base(world.project) + "new/kubernetes/",
        base(world.project) + f"{endpoint.pk}/",
        base(world.project) + f"{endpoint.pk}/edit/",
        base(world.project) + f"{endpoint.pk}/permissions/",
        cred_base(world.project),
        cred_base(world.project) + "new/?kind=access_key",
        cred_base(world.project) + f"{endpoint.credential.pk}/edit/",
    ):
        response = client.get(url)
        assert response.status_code == 200 and b'lang="zh-hans"' in response.content, url


def test_editing_an_endpoint_never_changes_someone_elses_shared_credential(client, world):
    """E4: the endpoint's creator edits it, but the shared credential it uses belongs to another member:
    its fields are shown disabled and posted values for them are ignored."""
    shared = services.create_credential(
        world.users["developer"],
        world.project,
        {"name": "team-robot", "kind": "username_password", "identity": "robot", "secret": PLANTED, "shared": True},
    )
    endpoint = services.create_endpoint(
        world.users["tester"],
        world.project,
        {"type": "git", "name": "repo", "url": "https://git.example.com/a.git", "credential": shared.pk},
    )
    login(client, world, "tester")
    url = base(world.project) + f"{endpoint.pk}/edit/"
    page = client.get(url).content.decode()
    assert 'data-testid="credential-locked"' in page and PLANTED not in page
    data = {"name": "repo-2", "url": "https://git.example.com/b.git", "username": "hacked", "password": "hacked-pw"}
    assert client.post(url, data).status_code == 302
    endpoint.refresh_from_db()
    shared.refresh_from_db()
    assert endpoint.name == "repo-2" and endpoint.config["url"] == "https://git.example.com/b.git"
    assert shared.identity == "robot" and shared.secret == PLANTED


def test_create_with_custom_scope_and_members(client, world):
    """E3: the create form's scope and member multi-select of project members."""
    login(client, world, "developer")
    page = client.get(base(world.project) + "new/git/").content.decode()
    assert 'name="members" value="tester"' in page and "outsider" not in page
    data = {**git_data(name="custom"), "scope": "custom", "members": ["tester", "viewer"]}
    assert client.post(base(world.project) + "new/git/", data).status_code == 302
    endpoint = ServiceEndpoint.objects.get(name="custom")
    assert endpoint.scope == "custom" and services.members_of(endpoint) == ["tester", "viewer"]
    detail = client.get(base(world.project) + f"{endpoint.pk}/").content.decode()
    assert "tester" in detail and "viewer" in detail
