"""Service endpoint and credential pages (SPEC §2): E1 per-type forms, E2/E3 permission matrix and scope,
E4 credentials, E5 write-only secrets, E6 field-level errors with nothing saved, E7 verify, E8 edit /
delete / where used. Credential pages, navigation and translations: test_endpoint_pages_credentials.py."""

from __future__ import annotations

import re

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from devops_console.core.models import Project
from endpoints import connectors, services
from endpoints.models import AuditEntry, Credential, EndpointUsage, ServiceEndpoint
from endpoints.types import TYPES
from tests.matrix import check_matrix, expect

pytestmark = pytest.mark.django_db

PLANTED = "Planted-S3cret-Value-4711"
KUBE_TOKEN = "kube-Planted-Token-0815"
RSA_KEY = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    .decode()
)


def kubeconfig(token=KUBE_TOKEN, current="prod") -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": current,
            "clusters": [{"name": "prod-cluster", "cluster": {"server": "https://10.0.0.1:6443"}}],
            "users": [{"name": "admin", "user": {"token": token}}],
            "contexts": [{"name": "prod", "context": {"cluster": "prod-cluster", "user": "admin"}}],
        }
    )


def git_data(**changes) -> dict:
    data = {
        "type": "git",
        "name": "repo",
        "scope": "public",
        "url": "https://git.example.com/org/app.git",
        "username": "dev",
        "password": PLANTED,
    }
    data.update(changes)
    return data


def make_endpoint(world, actor="developer", project=None, **changes) -> ServiceEndpoint:
    user = world.users[actor]
    return services.create_endpoint(user, project or world.project, git_data(**changes))


def base(project) -> str:
    return f"/projects/{project.pk}/settings/endpoints/"


def cred_base(project) -> str:
    return f"/projects/{project.pk}/settings/credentials/"


def login(client, world, actor) -> Client:
    client.force_login(world.users[actor])
    return client


@pytest.fixture
def fake_verify(monkeypatch):
    """Connectors are tested against real servers elsewhere; pages only need an answer."""
    calls = []

    def verify(type_key, fields, secrets, **kwargs):
        calls.append(type_key)
        return connectors.VerifyResult(0, "2 branches")

    monkeypatch.setattr(connectors, "verify", verify)
    return calls


# --------------------------------------------------------------------------- permission matrix (E2, E3)


def test_list_and_create_pages_matrix(world):
    """E2: every member sees the list and may create endpoints; outsiders and other projects: 404."""
    mine, other = base(world.project), base(world.other_project)
    check_matrix(world, "GET", mine, expect(200, anonymous=302), other_url=other)
    check_matrix(world, "GET", mine + "?type=git", expect(200, anonymous=302), other_url=other + "?type=git")
    for key in TYPES:
        check_matrix(world, "GET", mine + f"new/{key}/", expect(200, anonymous=302), other_url=other + f"new/{key}/")
    check_matrix(world, "GET", mine + "new/nope/", expect(404, anonymous=302))
    post = {k: v for k, v in git_data(name="via-page").items() if k != "type"}
    check_matrix(world, "POST", mine + "new/git/", expect(302, anonymous=302), data=post, other_url=other + "new/git/")
    assert not ServiceEndpoint.objects.filter(name="via-page").exists()  # every request was rolled back


def test_public_endpoint_matrix(world, fake_verify):
    """E3: a public endpoint is seen, used and verified by every member; edit, delete and scope belong to the
    project creator, managers and the endpoint's creator. Another project's endpoint answers 404 — under its
    own project and under this one."""
    endpoint = make_endpoint(world, "developer", name="pub")
    foreign = make_endpoint(world, "other_creator", project=world.other_project, name="foreign")
    url = base(world.project) + f"{endpoint.pk}/"
    other = base(world.other_project) + f"{foreign.pk}/"
    smuggled = base(world.project) + f"{foreign.pk}/"
    admins = {"creator": 200, "manager": 200, "developer": 200}
    admins_post = {"creator": 302, "manager": 302, "developer": 302}

    check_matrix(world, "GET", url, expect(200, anonymous=302), other_url=other)
    check_matrix(world, "GET", smuggled, expect(404, anonymous=302))
    for page in ("edit/", "permissions/"):
        check_matrix(world, "GET", url + page, expect(403, anonymous=302, **admins), other_url=other + page)
        check_matrix(world, "GET", smuggled + page, expect(404, anonymous=302))
    edit = {k: v for k, v in git_data(name="renamed", password="").items() if k != "type"}
    check_matrix(
        world, "POST", url + "edit/", expect(403, anonymous=302, **admins_post), data=edit, other_url=other + "edit/"
    )
    perms = {"scope": "private"}
    check_matrix(
        world,
        "POST",
        url + "permissions/",
        expect(403, anonymous=302, **admins_post),
        data=perms,
        other_url=other + "permissions/",
    )
    # E7 verify needs "use", as the REST API's verify action (API.md: same permission checks)
    check_matrix(world, "POST", url + "verify/", expect(302, anonymous=302), other_url=other + "verify/")
    check_matrix(world, "POST", url + "delete/", expect(403, anonymous=302, **admins_post), other_url=other + "delete/")
    for page in ("edit/", "permissions/", "verify/", "delete/"):
        check_matrix(world, "POST", smuggled + page, expect(404, anonymous=302), data=edit if page == "edit/" else {})
    check_matrix(world, "GET", url + "verify/", expect(405, anonymous=302))
    check_matrix(world, "GET", url + "delete/", expect(405, anonymous=302))
    endpoint.refresh_from_db()
    foreign.refresh_from_db()
    assert endpoint.name == "pub" and endpoint.scope == "public" and endpoint.status is None
    assert foreign.name == "foreign"


def test_private_and_custom_scope_matrix(world, fake_verify):
    """E3: private — its creator and the project admins only; custom — plus the listed members."""
    private = make_endpoint(world, "tester", name="priv", scope="private")
    custom = make_endpoint(world, "developer", name="cust", scope="custom", members=["viewer", "operator"])
    purl, curl = base(world.project) + f"{private.pk}/", base(world.project) + f"{custom.pk}/"
    see_private = {"creator": 200, "manager": 200, "tester": 200}
    check_matrix(world, "GET", purl, expect(404, anonymous=302, **see_private))
    check_matrix(world, "GET", purl + "edit/", expect(404, anonymous=302, **see_private))
    verify = {"creator": 302, "manager": 302, "tester": 302}
    check_matrix(world, "POST", purl + "verify/", expect(404, anonymous=302, **verify))
    check_matrix(
        world,
        "GET",
        curl,
        expect(404, anonymous=302, creator=200, manager=200, developer=200, viewer=200, operator=200),
    )
    check_matrix(
        world,
        "GET",
        curl + "edit/",
        expect(404, anonymous=302, creator=200, manager=200, developer=200, viewer=403, operator=403),
    )


def test_list_shows_only_visible_endpoints(client, world):
    make_endpoint(world, "tester", name="tester-private", scope="private")
    make_endpoint(world, "developer", name="everyone", scope="public")
    make_endpoint(world, "other_creator", project=world.other_project, name="elsewhere")
    viewer = login(client, world, "viewer").get(base(world.project)).content.decode()
    assert "everyone" in viewer and "tester-private" not in viewer and "elsewhere" not in viewer
    manager = login(Client(), world, "manager").get(base(world.project)).content.decode()
    assert "everyone" in manager and "tester-private" in manager


def test_credential_pages_matrix(world):
    """E4: members see their own and shared credentials; only the owner and project admins change them."""
    own = services.create_credential(
        world.users["developer"],
        world.project,
        {"name": "own", "kind": "username_password", "identity": "u", "secret": "pw"},
    )
    shared = services.create_credential(
        world.users["developer"],
        world.project,
        {
            "name": "shared",
            "kind": "access_key",
            "identity": "AKIAIOSFODNN7EXAMPLE",
            "secret": "x" * 40,
            "shared": True,
        },
    )
    foreign = services.create_credential(
        world.users["other_creator"], world.other_project, {"name": "f", "kind": "username_password", "secret": "pw"}
    )
    mine, other = cred_base(world.project), cred_base(world.other_project)
    check_matrix(world, "GET", mine, expect(200, anonymous=302), other_url=other)
    check_matrix(world, "GET", mine + "new/?kind=kubeconfig", expect(200, anonymous=302), other_url=other + "new/")
    new = {"kind": "username_password", "name": "n", "identity": "u", "secret": "pw"}
    check_matrix(world, "POST", mine + "new/", expect(302, anonymous=302), data=new, other_url=other + "new/")
    owners = {"creator": 200, "manager": 200, "developer": 200}
    check_matrix(world, "GET", mine + f"{own.pk}/edit/", expect(404, anonymous=302, **owners))
    check_matrix(world, "GET", mine + f"{shared.pk}/edit/", expect(403, anonymous=302, **owners))
    check_matrix(world, "GET", other + f"{foreign.pk}/edit/", expect(404, anonymous=302))
    check_matrix(world, "GET", mine + f"{foreign.pk}/edit/", expect(404, anonymous=302))
    deleters = {"creator": 302, "manager": 302, "developer": 302}
    check_matrix(world, "POST", mine + f"{shared.pk}/delete/", expect(403, anonymous=302, **deleters))
    check_matrix(world, "POST", mine + f"{shared.pk}/edit/", expect(403, anonymous=302, **deleters), data={"name": "x"})
    check_matrix(world, "POST", mine + f"{foreign.pk}/delete/", expect(404, anonymous=302))
    assert Credential.objects.filter(pk__in=[own.pk, shared.pk, foreign.pk]).count() == 3


def test_viewer_sees_public_endpoint_but_cannot_change_it(client, world, fake_verify):
    """E3: "use" is not "administer": no Edit/Delete/Permissions for a viewer, and each of those POSTs is 403
    with nothing changed. Verify needs only "use" (as in the REST API) and is offered."""
    endpoint = make_endpoint(world, "developer", name="pub")
    url = base(world.project) + f"{endpoint.pk}/"
    login(client, world, "viewer")
    page = client.get(url).content.decode()
    assert "pub" in page
    for marker in (
        'data-testid="edit-endpoint"',
        'data-testid="delete-endpoint"',
        'data-testid="endpoint-permissions"',
    ):
        assert marker not in page
    assert 'data-testid="verify-button"' in page
    before = AuditEntry.objects.count()
    edit = {k: v for k, v in git_data(name="hijacked", url="https://evil.example/x.git", password="").items()}
    assert client.post(url + "edit/", edit).status_code == 403
    assert client.post(url + "delete/").status_code == 403
    assert client.post(url + "permissions/", {"scope": "private"}).status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.name == "pub" and endpoint.config["url"] == "https://git.example.com/org/app.git"
    assert endpoint.scope == "public" and endpoint.status is None and endpoint.checked_at is None
    assert AuditEntry.objects.count() == before
    owner_page = login(Client(), world, "developer").get(url).content.decode()
    assert 'data-testid="edit-endpoint"' in owner_page and 'data-testid="verify-button"' in owner_page
    assert client.post(url + "verify/").status_code == 302 and fake_verify == ["git"]
    endpoint.refresh_from_db()
    assert endpoint.status == 0 and endpoint.name == "pub"


# --------------------------------------------------------------------------- create per type (E1)


def test_create_endpoints_of_several_types_through_the_page(client, world):
    """E1: forms generated from the registry create Docker, Kubernetes (kubeconfig upload), IAM user and
    GitHub App (PEM pasted) endpoints; plain fields land on the endpoint, secrets on its credential."""
    login(client, world, "tester")
    cases = {
        "docker_registry": {"url": "http://registry.example:5000", "username": "robot", "password": PLANTED},
        "kubernetes": {
            "url": "https://api.k8s.example:6443",
            "kubeconfig_file": SimpleUploadedFile("config", kubeconfig().encode(), "application/yaml"),
        },
        "iam_user": {
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "url": "",
            "region": "cn-north-4",
        },
        "github_app": {
            "client_id": "Iv23liAbCdEf",
            "installation_id": "12345678",
            "api_url": "",
            "private_key": RSA_KEY,
        },
    }
    for key, fields in cases.items():
        response = client.post(base(world.project) + f"new/{key}/", {"name": f"ep-{key}", "scope": "public", **fields})
        assert response.status_code == 302, (key, response.context and response.context["form"].errors)
        endpoint = ServiceEndpoint.objects.get(name=f"ep-{key}")
        assert response["Location"] == base(world.project) + f"{endpoint.pk}/"
        assert endpoint.type == key and endpoint.created_by == world.users["tester"] and endpoint.scope == "public"
    docker = ServiceEndpoint.objects.get(name="ep-docker_registry")
    assert docker.config["url"] == "http://registry.example:5000"
    assert docker.credential.identity == "robot" and docker.credential.secret == PLANTED
    kube = ServiceEndpoint.objects.get(name="ep-kubernetes")
    assert kube.credential.secret == kubeconfig() and kube.credential.kind == "kubeconfig"
    iam = ServiceEndpoint.objects.get(name="ep-iam_user")
    assert iam.credential.identity == "AKIAIOSFODNN7EXAMPLE" and iam.config["region"] == "cn-north-4"
    app = ServiceEndpoint.objects.get(name="ep-github_app")
    assert app.config["installation_id"] == "12345678" and app.credential.secret.strip() == RSA_KEY.strip()
    detail = client.get(base(world.project) + f"{docker.pk}/").content.decode()
    assert "http://registry.example:5000" in detail and "robot" in detail and PLANTED not in detail


def test_create_form_lists_fields_help_and_credential_choices(client, world):
    """E1: labels, help texts and placeholders of the registry; secrets as password inputs; kubeconfig and
    PEM as text area plus upload; the credential picker offers usable credentials of the same kind only."""
    services.create_credential(
        world.users["developer"],
        world.project,
        {"name": "team-robot", "kind": "username_password", "identity": "robot", "secret": "pw", "shared": True},
    )
    services.create_credential(
        world.users["developer"], world.project, {"name": "hidden-one", "kind": "username_password", "secret": "pw"}
    )
    services.create_credential(
        world.users["developer"],
        world.project,
        {
            "name": "ak-cred",
            "kind": "access_key",
            "identity": "AKIAIOSFODNN7EXAMPLE",
            "secret": "x" * 40,
            "shared": True,
        },
    )
    login(client, world, "tester")
    page = client.get(base(world.project) + "new/docker_registry/").content.decode()
    for spec in TYPES["docker_registry"].fields:
        assert str(spec.label) in page and str(spec.help_text) in page
    assert 'type="password" name="password"' in page and 'placeholder="https://registry.example.com"' in page
    assert "team-robot" in page and "hidden-one" not in page and "ak-cred" not in page
    kube = client.get(base(world.project) + "new/kubernetes/").content.decode()
    assert '<textarea name="kubeconfig"' in kube and 'type="file" name="kubeconfig_file"' in kube
    assert 'enctype="multipart/form-data"' in kube
    listing = client.get(base(world.project)).content.decode()
    for etype in TYPES.values():
        assert f"new/{etype.key}/" in listing and str(etype.description) in listing


def test_create_with_an_existing_credential(client, world):
    """E4: picking a credential creates no new one; entering its fields as well is refused."""
    shared = services.create_credential(
        world.users["developer"],
        world.project,
        {"name": "team-robot", "kind": "username_password", "identity": "robot", "secret": PLANTED, "shared": True},
    )
    login(client, world, "tester")
    url = base(world.project) + "new/git/"
    data = {"name": "g", "url": "https://git.example.com/a.git", "credential": shared.pk, "scope": "private"}
    refused = client.post(url, {**data, "username": "other"})
    assert refused.status_code == 200 and "username" in refused.context["form"].errors
    assert not ServiceEndpoint.objects.exists()
    assert client.post(url, data).status_code == 302
    endpoint = ServiceEndpoint.objects.get(name="g")
    assert endpoint.credential == shared and Credential.objects.count() == 1


# --------------------------------------------------------------------------- field errors (E6)

ERROR_CASES = [
    ("git", {"url": "http://git.example.com/org/app.git", "username": "dev", "password": "pw"}, "url", "https://"),
    (
        "hosted_repo",
        {"url": "https://host.example", "username": "user", "password": "pw"},
        "username",
        "tenant name/username",
    ),
    (
        "hosted_repo",
        {"url": "https://host.example", "username": " tenant/user", "password": "pw"},
        "username",
        "spaces",
    ),
    (
        "kubernetes",
        {"url": "https://k8s.example:6443", "kubeconfig": "clusters: [oops"},
        "kubeconfig",
        "not valid YAML",
    ),
    (
        "kubernetes",
        {"url": "https://k8s.example:6443", "kubeconfig": kubeconfig(current="missing")},
        "kubeconfig",
        "missing",
    ),
    (
        "github_app",
        {
            "client_id": "Iv1",
            "installation_id": "1",
            "private_key": "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
        },
        "private_key",
        "PEM",
    ),
    ("docker_registry", {"url": "ftp://registry.example", "username": "u", "password": "p"}, "url", "http"),
    ("gitlab", {"url": "https://gitlab.example:8443", "username": "u", "token": "t"}, "url", "443"),
    ("git", {"url": "https://git.example.com/a.git", "username": "dev", "password": ""}, "password", "required"),
    (
        "git",
        {"url": "https://git.example.com/a.git", "username": "dev", "password": "pw", "ca_bundle": "junk"},
        "ca_bundle",
        "PEM",
    ),
]


@pytest.mark.parametrize("type_key, fields, field, fragment", ERROR_CASES, ids=[f"{c[0]}-{c[2]}" for c in ERROR_CASES])
def test_field_errors_at_the_right_field_and_nothing_saved(client, world, type_key, fields, field, fragment):
    """E6: a clear message at the offending field (marked is-invalid), the page answers 200, nothing saved."""
    login(client, world, "developer")
    before = (ServiceEndpoint.objects.count(), Credential.objects.count(), AuditEntry.objects.count())
    response = client.post(base(world.project) + f"new/{type_key}/", {"name": "bad", "scope": "private", **fields})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and fragment in " ".join(errors[field]), errors
    html = response.content.decode()
    assert f'data-field-error="{field}"' in html
    assert re.search(
        rf'<(input|textarea)[^>]*name="{field}"[^>]*is-invalid|<(input|textarea)[^>]*is-invalid[^>]*name="{field}"',
        html,
    )
    assert (ServiceEndpoint.objects.count(), Credential.objects.count(), AuditEntry.objects.count()) == before


def test_kubeconfig_upload_errors(client, world):
    """E6: an uploaded file that is not text, or not a kubeconfig, is reported at the kubeconfig field."""
    login(client, world, "developer")
    url = base(world.project) + "new/kubernetes/"
    binary = SimpleUploadedFile("config", b"\xff\xfe\x00\x01binary", "application/octet-stream")
    response = client.post(url, {"name": "k", "url": "https://k.example:6443", "kubeconfig_file": binary})
    assert response.status_code == 200 and "UTF-8" in " ".join(response.context["form"].errors["kubeconfig"])
    broken = SimpleUploadedFile("config", b"just: text\n", "text/plain")
    response = client.post(url, {"name": "k", "url": "https://k.example:6443", "kubeconfig_file": broken})
    assert response.status_code == 200 and "kubeconfig" in response.context["form"].errors
    assert not ServiceEndpoint.objects.exists()


@pytest.mark.parametrize(
    "junk",
    [
        {"scope": "everyone"},
        {"scope": "custom", "members": ["nobody", "outsider"]},
        {"credential": "abc"},
        {"credential": "999999"},
        {"expires_at": "yesterday"},
        {"skip_tls_verify": "maybe", "ca_bundle": "\x00"},
        {"name": "x" * 500},
        {"name": "a\x00b", "url": "https://\x00"},
        {"url": ["https://a.example", "https://b.example"]},
        {"kubeconfig_file": "not-a-file"},
    ],
)
def test_no_500_for_any_input(client, world, junk):
    """E6: odd input never crashes a page; nothing is saved."""
    login(client, world, "developer")
    for key in ("git", "kubernetes"):
        data = {"name": "n", "url": "https://git.example.com/a.git", "username": "u", "password": "p", **junk}
        response = client.post(base(world.project) + f"new/{key}/", data)
        assert response.status_code in (200, 302), response.status_code
    endpoint = make_endpoint(world, "developer", name="existing")
    response = client.post(base(world.project) + f"{endpoint.pk}/edit/", {"name": "existing", **junk})
    assert response.status_code in (200, 302)
    response = client.post(base(world.project) + f"{endpoint.pk}/permissions/", junk)
    assert response.status_code in (200, 302)


def test_duplicate_name_refused(client, world):
    make_endpoint(world, "developer", name="Repo")
    login(client, world, "tester")
    response = client.post(base(world.project) + "new/git/", {**git_data(name="repo"), "scope": "private"})
    assert response.status_code == 200 and "already used" in " ".join(response.context["form"].errors["name"])
    assert ServiceEndpoint.objects.count() == 1


# --------------------------------------------------------------------------- secrets (E5)


def test_secret_is_never_rendered(client, world):
    """E5: the planted secret (and a kubeconfig token) appear in no response: create error re-render,
    detail, list, edit form (and its error re-render), credentials list and credential edit form."""
    login(client, world, "developer")
    pages = []
    new = base(world.project) + "new/git/"
    pages.append(client.post(new, {**git_data(name=""), "scope": "private"}))  # error: name missing
    response = client.post(new, {**git_data(), "scope": "private"}, follow=True)
    pages.append(response)
    endpoint = ServiceEndpoint.objects.get(name="repo")
    assert endpoint.credential.secret == PLANTED  # stored (encrypted at rest), just never shown
    url = base(world.project) + f"{endpoint.pk}/"
    pages.append(client.get(url))
    pages.append(client.get(base(world.project)))
    pages.append(client.get(url + "edit/"))
    pages.append(client.post(url + "edit/", {**git_data(url="http://bad.example/x.git", password=PLANTED + "2")}))
    pages.append(client.get(cred_base(world.project)))
    pages.append(client.get(cred_base(world.project) + f"{endpoint.credential.pk}/edit/"))
    pages.append(
        client.post(cred_base(world.project) + f"{endpoint.credential.pk}/edit/", {"name": "", "secret": PLANTED})
    )
    kube_new = base(world.project) + "new/kubernetes/"
    pages.append(client.post(kube_new, {"name": "k", "url": "ftp://bad", "kubeconfig": kubeconfig()}))
    client.post(kube_new, {"name": "k", "url": "https://k.example:6443", "kubeconfig": kubeconfig()})
    kube = ServiceEndpoint.objects.get(name="k")
    pages.append(client.get(base(world.project) + f"{kube.pk}/"))
    pages.append(client.get(base(world.project) + f"{kube.pk}/edit/"))
    pages.append(client.get(cred_base(world.project) + f"{kube.credential.pk}/edit/"))
    assert len(pages) == 13
    for response in pages:
        assert response.status_code == 200, response.status_code
        body = response.content.decode()
        assert PLANTED not in body and KUBE_TOKEN not in body, response.request["PATH_INFO"]
    edit_page = pages[4].content.decode()
    assert "data-secret-state" in edit_page and "set · updated" in edit_page


def test_edit_keeps_empty_secret_and_replaces_a_new_one(client, world):
    """E5: on edit an empty secret keeps the stored one; a new one replaces it and the audit names the field."""
    endpoint = make_endpoint(world, "developer", name="repo")
    url = base(world.project) + f"{endpoint.pk}/edit/"
    login(client, world, "developer")
    form = client.get(url).context["form"]
    assert form.initial["url"] == "https://git.example.com/org/app.git" and form.initial["username"] == "dev"
    assert "password" not in form.initial
    data = {**git_data(name="repo-2", username="dev2", password=""), "scope": "public"}
    assert client.post(url, data).status_code == 302
    endpoint.refresh_from_db()
    endpoint.credential.refresh_from_db()
    assert (
        endpoint.name == "repo-2" and endpoint.credential.identity == "dev2" and endpoint.credential.secret == PLANTED
    )
    assert client.post(url, {**data, "password": "brand-new-pw"}).status_code == 302
    endpoint.credential.refresh_from_db()
    assert endpoint.credential.secret == "brand-new-pw"
    edits = AuditEntry.objects.filter(endpoint=endpoint, action="edit")
    assert any("password" in e.fields for e in edits) and all("brand-new-pw" not in e.detail for e in edits)


def test_edit_error_changes_nothing(client, world):
    endpoint = make_endpoint(world, "developer", name="repo")
    login(client, world, "developer")
    url = base(world.project) + f"{endpoint.pk}/edit/"
    response = client.post(url, {**git_data(name="renamed", url="http://plain.example/a.git", password="new")})
    assert response.status_code == 200 and "url" in response.context["form"].errors
    endpoint.refresh_from_db()
    endpoint.credential.refresh_from_db()
    assert endpoint.name == "repo" and endpoint.credential.secret == PLANTED


def test_edit_switches_credential_and_clears_expiry(client, world):
    endpoint = make_endpoint(world, "developer", name="repo", expires_at="2030-01-01")
    other = services.create_credential(
        world.users["developer"],
        world.project,
        {"name": "robot", "kind": "username_password", "identity": "robot", "secret": "pw2"},
    )
    login(client, world, "developer")
    url = base(world.project) + f"{endpoint.pk}/edit/"
    data = {"name": "repo", "url": "https://git.example.com/org/app.git", "username": "dev", "scope": "public"}
    assert client.post(url, {**data, "expires_at": ""}).status_code == 302
    endpoint.credential.refresh_from_db()
    assert endpoint.credential.expires_at is None
    assert client.post(url, {**data, "credential": other.pk}).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.credential == other and other.identity == "robot"


# --------------------------------------------------------------------------- scope (E3)


def test_permissions_page_sets_custom_members(client, world):
    endpoint = make_endpoint(world, "developer", name="repo", scope="private")
    login(client, world, "manager")
    url = base(world.project) + f"{endpoint.pk}/permissions/"
    page = client.get(url).content.decode()
    assert 'value="viewer"' in page and "outsider" not in page
    assert client.post(url, {"scope": "custom", "members": ["viewer", "tester"]}).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.scope == "custom" and services.members_of(endpoint) == ["tester", "viewer"]
    assert login(Client(), world, "viewer").get(base(world.project) + f"{endpoint.pk}/").status_code == 200
    assert login(Client(), world, "operator").get(base(world.project) + f"{endpoint.pk}/").status_code == 404
    # members ticked with a non-custom scope are ignored, not an error
    assert client.post(url, {"scope": "public", "members": ["viewer"]}).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.scope == "public" and services.members_of(endpoint) == []
    response = client.post(url, {"scope": "custom", "members": ["outsider"]})
    assert response.status_code == 200 and "members" in response.context["form"].errors
    detail = client.get(base(world.project) + f"{endpoint.pk}/").content.decode()
    assert "changed scope" in detail


# --------------------------------------------------------------------------- verify (E7)


def test_verify_button_records_status(client, world, fake_verify):
    endpoint = make_endpoint(world, "developer", name="repo")
    login(client, world, "developer")
    url = base(world.project) + f"{endpoint.pk}/"
    assert 'data-status="never"' in client.get(url).content.decode()
    response = client.post(url + "verify/", follow=True)
    body = response.content.decode()
    assert response.redirect_chain == [(url, 302)] and "status-normal" in body and "2 branches" in body
    endpoint.refresh_from_db()
    assert endpoint.status == 0 and endpoint.checked_at is not None and fake_verify == ["git"]
    partial = client.post(url + "verify/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and b"<html" not in partial.content
    assert b'id="endpoint-status"' in partial.content and b"status-normal" in partial.content
    listing = client.get(base(world.project)).content.decode()
    assert "status-normal" in listing
    assert "verified" in client.get(url).content.decode()  # audit trail


def test_expired_credential_verifies_as_overdue(client, world, fake_verify):
    endpoint = make_endpoint(world, "developer", name="repo", expires_at="2020-01-01")
    login(client, world, "developer")
    client.post(base(world.project) + f"{endpoint.pk}/verify/")
    endpoint.refresh_from_db()
    assert endpoint.status == 1 and fake_verify == []
    assert "status-overdue" in client.get(base(world.project)).content.decode()


# --------------------------------------------------------------------------- where used, delete (E8)


def test_delete_refused_while_used_and_allowed_after(client, world):
    """E8: deleting a used endpoint is refused with the usage list and nothing deleted."""
    endpoint = make_endpoint(world, "developer", name="repo")
    usage = EndpointUsage.objects.create(
        endpoint=endpoint,
        content_type=ContentType.objects.get_for_model(Project),
        object_id=1,
        label="web-app › Build › compile",
    )
    login(client, world, "developer")
    url = base(world.project) + f"{endpoint.pk}/"
    assert "web-app › Build › compile" in client.get(url).content.decode()
    response = client.post(url + "delete/")
    assert response.status_code == 409
    body = response.content.decode()
    assert 'data-testid="delete-refused"' in body and "web-app › Build › compile" in body
    assert ServiceEndpoint.objects.filter(pk=endpoint.pk).exists()
    credential = endpoint.credential
    refused = client.post(cred_base(world.project) + f"{credential.pk}/delete/")
    assert refused.status_code == 409 and "repo" in refused.content.decode()
    assert Credential.objects.filter(pk=credential.pk).exists()
    usage.delete()
    response = client.post(url + "delete/")
    assert response.status_code == 302 and response["Location"] == base(world.project)
    assert not ServiceEndpoint.objects.filter(pk=endpoint.pk).exists()


# --------------------------------------------------------------------------- list


def test_list_filter_empty_state_and_columns(client, world, fake_verify):
    login(client, world, "manager")
    empty = client.get(base(world.project)).content.decode()
    assert 'data-testid="endpoints-empty"' in empty
    git = make_endpoint(world, "developer", name="repo")
    services.create_endpoint(
        world.users["tester"],
        world.project,
        {
            "type": "docker_registry",
            "name": "images",
            "scope": "private",
            "url": "http://registry.example:5000",
            "username": "robot",
            "password": "pw",
        },
    )
    services.verify_endpoint(world.users["developer"], git)
    page = client.get(base(world.project)).content.decode()
    assert "repo" in page and "images" in page and "https://git.example.com/org/app.git" in page
    assert "robot" in page and "tester" in page and "status-normal" in page and "status-never" in page
    assert "Private (creator only)" in page and "bi-git" in page
    filtered = client.get(base(world.project) + "?type=docker_registry").content.decode()
    assert "images" in filtered and f'href="{base(world.project)}{git.pk}/"' not in filtered
    assert client.get(base(world.project) + "?type=bogus").status_code == 200


def test_list_query_count_does_not_grow_with_rows(world):
    """Constant queries: credential and creator are joined, not fetched per row."""
    client = login(Client(), world, "manager")
    actors = ["developer", "tester", "operator"]

    def add(n, offset):
        for i in range(offset, offset + n):
            make_endpoint(
                world,
                actors[i % 3],
                name=f"ep-{i:03d}",
                scope=["public", "private", "custom"][i % 3],
                members=["viewer"] if i % 3 == 2 else None,
            )

    add(3, 0)
    with CaptureQueriesContext(connection) as few:
        assert client.get(base(world.project)).status_code == 200
    add(27, 3)
    with CaptureQueriesContext(connection) as many:
        response = client.get(base(world.project))
    assert response.content.decode().count('data-endpoint="ep-') == 30
    assert len(many) == len(few), (len(few), len(many))
