"""E5 acceptance: a planted secret of each endpoint type never appears in any page, API response, admin
page, audit entry or log line produced while creating, editing, verifying and listing it.

Verification talks to a *hostile* stand-in (pytest-httpserver: no real GitHub, GitLab, Kubernetes, STS
… can run here) that echoes every request header and body back in its error response, so a connector
that copied the response into the status detail would leak. Git and Docker go to the real servers.
The search covers the raw value, its base64 / URL-encoded forms and each line of multi-line secrets.
"""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from werkzeug import Response

from endpoints.models import AuditEntry, Credential, ServiceEndpoint

pytestmark = pytest.mark.django_db

PRIVATE_KEY = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    .decode()
)


def kubeconfig(server, token):
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "c",
            "clusters": [{"name": "k", "cluster": {"server": server}}],
            "users": [{"name": "u", "user": {"token": token}}],
            "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        }
    )


@pytest.fixture
def hostile(httpserver):
    """Answers 401 with every header and the body of the request in its own body and headers."""

    def echo(request):
        dump = json.dumps({"headers": dict(request.headers), "body": request.get_data(as_text=True)})
        return Response(
            dump, status=401, headers={"X-Echo": dump[:4000].replace("\n", " ")}, content_type="application/json"
        )

    httpserver.expect_request("").respond_with_handler(echo)
    return httpserver.url_for("").rstrip("/")


def samples(hostile, git_server, docker_registry):
    """Per type: (create values, replacement secret field and value)."""
    return {
        "docker_registry": (
            {"url": docker_registry.url, "username": docker_registry.username, "password": "docker-Leak-pw-1"},
            ("password", "docker-Leak-pw-2"),
        ),
        "kubernetes": (
            {"url": hostile, "kubeconfig": kubeconfig(hostile, "kube-Leak-token-1")},
            ("kubeconfig", kubeconfig(hostile, "kube-Leak-token-2")),
        ),
        "git": (
            {
                "url": git_server.repo_url("org/app.git"),
                "username": git_server.username,
                "password": "git-Leak-pw-1",
                "ca_bundle": git_server.ca_pem,
            },
            ("password", "git-Leak-pw-2"),
        ),
        "iam_user": (
            {
                "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                "secret_access_key": "iamLeakSecretKey/0123456789abcdef",
                "url": hostile,
            },
            ("secret_access_key", "iamLeakSecretKey/9876543210fedcba"),
        ),
        "hosted_repo": (
            {"url": hostile.replace("http://", "https://"), "username": "tenant/user", "password": "hosted-Leak-pw-1"},
            ("password", "hosted-Leak-pw-2"),
        ),
        "github_app": (
            {"client_id": "Iv23liLeak", "installation_id": "42", "api_url": hostile, "private_key": PRIVATE_KEY},
            None,
        ),
        "gitlab": (
            {"url": hostile, "username": "dev", "token": "glpat-Leak-tok-1"},
            ("token", "glpat-Leak-tok-2"),
        ),
        "bitbucket": ({"username": "ws", "token": "bb-Leak-tok-1", "api_url": hostile}, ("token", "bb-Leak-tok-2")),
        "codeup": (
            {"username": "clone", "token": "codeup-Leak-tok-1", "api_url": hostile},
            ("token", "codeup-Leak-tok-2"),
        ),
    }


def forms_of(secret: str) -> set[str]:
    forms = {secret, base64.b64encode(secret.encode()).decode(), quote(secret, safe="")}
    forms.update(line.strip() for line in secret.splitlines() if len(line.strip()) >= 8 and "-----" not in line)
    return forms


def secret_values(values: dict) -> set[str]:
    secret_fields = {"password", "kubeconfig", "secret_access_key", "private_key", "token"}
    found = set()
    for key, value in values.items():
        if key in secret_fields:
            if key == "kubeconfig":
                value = yaml.safe_load(value)["users"][0]["user"]["token"]
            found.add(value)
    return found


@pytest.mark.parametrize(
    "etype",
    ["docker_registry", "kubernetes", "git", "iam_user", "hosted_repo", "github_app", "gitlab", "bitbucket", "codeup"],
)
def test_planted_secret_never_leaks(etype, world, hostile, git_server, docker_registry, caplog, capsys):
    values, replacement = samples(hostile, git_server, docker_registry)[etype]
    planted = secret_values(values) | (secret_values({replacement[0]: replacement[1]}) if replacement else set())
    outputs: list[str] = []
    api, pages = Client(), Client()
    headers = {"HTTP_X_AUTH_TOKEN": world.token("developer")}
    pages.force_login(world.users["developer"])
    caplog.set_level(logging.DEBUG)
    base = f"/api/v1/projects/{world.project.pk}/endpoints/"

    # create (API), list, detail, verify, edit (replace the secret), verify again, list again
    created = api.post(
        base,
        json.dumps({"name": "ep", "type": etype, "scope": "public", **values}),
        content_type="application/json",
        **headers,
    )
    outputs.append(created.content.decode())
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    for response in [
        api.get(base, **headers),
        api.get(f"{base}{pk}/", **headers),
        api.post(f"{base}{pk}/verify/", **headers),
        api.patch(
            f"{base}{pk}/",
            json.dumps(dict([replacement])) if replacement else "{}",
            content_type="application/json",
            **headers,
        ),
        api.post(f"{base}{pk}/verify/", **headers),
        api.get(base, **headers),
        api.get(f"/api/v1/projects/{world.project.pk}/credentials/", **headers),
    ]:
        assert response.status_code < 500
        outputs.append(response.content.decode())

    # pages: list, detail, edit form, credentials; a second endpoint created through the page form
    endpoint = ServiceEndpoint.objects.get(pk=pk)
    for name, kwargs in [
        ("endpoint-list", {}),
        ("endpoint-detail", {"endpoint_id": pk}),
        ("endpoint-edit", {"endpoint_id": pk}),
        ("credential-list", {}),
    ]:
        response = pages.get(reverse(name, kwargs={"project_id": world.project.pk, **kwargs}))
        assert response.status_code == 200, name
        outputs.append(response.content.decode())
    page_create = pages.post(
        reverse("endpoint-create", kwargs={"project_id": world.project.pk, "type_key": etype}),
        {"name": "ep-page", "scope": "public", **values},
        follow=True,
    )
    outputs.append(page_create.content.decode())
    pages.post(reverse("endpoint-verify", kwargs={"project_id": world.project.pk, "endpoint_id": pk}), follow=True)

    # admin: changelists and change pages of endpoint and credential
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    for url in [
        "/admin/endpoints/serviceendpoint/",
        f"/admin/endpoints/serviceendpoint/{pk}/change/",
        "/admin/endpoints/credential/",
        f"/admin/endpoints/credential/{endpoint.credential_id}/change/",
        "/admin/endpoints/auditentry/",
    ]:
        response = admin.get(url)
        assert response.status_code == 200, url
        outputs.append(response.content.decode())

    # audit entries, stored status details, logs and anything printed
    outputs.append(json.dumps(list(AuditEntry.objects.values()), default=str))
    outputs.append(json.dumps(list(ServiceEndpoint.objects.values("status_detail", "config")), default=str))
    outputs.append(caplog.text)
    captured = capsys.readouterr()
    outputs.extend([captured.out, captured.err])

    assert Credential.objects.filter(endpoints__pk=pk).exists()
    everything = "\n".join(outputs)
    leaks = sorted(form[:24] for secret in planted for form in forms_of(secret) if form in everything)
    assert not leaks, f"{etype}: secret forms found in output: {leaks}"
    # the test really exercised verification: every endpoint has a recorded status
    assert ServiceEndpoint.objects.get(pk=pk).checked_at is not None
