"""Personal API tokens (API.md "Auth"): valid, expired, revoked, malformed, wrong header form; shown once."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from devops_console.core.models import ApiToken, hash_token
from devops_console.core.services import issue_token, revoke_token

pytestmark = pytest.mark.django_db
URL = "/api/v1/projects/"


def test_valid_token_in_both_header_forms(client, world):
    _token, raw = issue_token(world.users["viewer"], "ci")
    assert client.get(URL, HTTP_X_AUTH_TOKEN=raw).status_code == 200
    assert client.get(URL, HTTP_AUTHORIZATION=f"Token {raw}").status_code == 200


def test_token_is_stored_hashed_and_records_last_use(client, world):
    token, raw = issue_token(world.users["viewer"], "ci")
    assert raw not in {token.key_hash, token.prefix} and token.key_hash == hash_token(raw)
    assert not ApiToken.objects.filter(key_hash=raw).exists()
    client.get(URL, HTTP_X_AUTH_TOKEN=raw)
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "headers, code",
    [
        ({"HTTP_X_AUTH_TOKEN": "dvc_doesnotexist"}, "CORE.4010"),
        ({"HTTP_X_AUTH_TOKEN": "not-a-token"}, "CORE.4013"),
        ({"HTTP_X_AUTH_TOKEN": ""}, "CORE.4013"),
        ({"HTTP_X_AUTH_TOKEN": "dvc_" + "x" * 500}, "CORE.4013"),
        ({"HTTP_AUTHORIZATION": "Bearer dvc_abc"}, "CORE.4013"),
        ({"HTTP_AUTHORIZATION": "Token"}, "CORE.4013"),
        ({"HTTP_AUTHORIZATION": "Token a b"}, "CORE.4013"),
    ],
)
def test_bad_tokens_are_401_in_error_format(client, world, headers, code):
    response = client.get(URL, **headers)
    assert response.status_code == 401
    assert response.json()["error_code"] == code and response.json()["error_msg"]


def test_expired_token_is_refused(client, world):
    token, raw = issue_token(world.users["viewer"], "ci", timezone.now() + timedelta(hours=1))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(URL, HTTP_X_AUTH_TOKEN=raw)
    assert response.status_code == 401 and response.json()["error_code"] == "CORE.4011"


def test_revoked_token_is_refused(client, world):
    token, raw = issue_token(world.users["viewer"], "ci")
    revoke_token(token)
    response = client.get(URL, HTTP_X_AUTH_TOKEN=raw)
    assert response.status_code == 401 and response.json()["error_code"] == "CORE.4012"


def test_inactive_user_token_is_refused(client, world):
    _token, raw = issue_token(world.users["viewer"], "ci")
    world.users["viewer"].is_active = False
    world.users["viewer"].save()
    assert client.get(URL, HTTP_X_AUTH_TOKEN=raw).status_code == 401


def test_no_credentials_is_401(client, world):
    response = client.get(URL)
    assert response.status_code == 401 and response.json()["error_code"] == "CORE.4010"


def test_issue_token_validation():
    with pytest.raises(Exception) as exc:
        issue_token(None, "  ")
    assert "name" in exc.value.message_dict


def test_create_token_command(world, capsys):
    call_command("create_token", "viewer", "--name", "script", "--expires-days", "3")
    raw = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(key_hash=hash_token(raw))
    assert token.user == world.users["viewer"] and token.name == "script" and token.expires_at > timezone.now()


def test_create_token_command_unknown_user(world):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No active user"):
        call_command("create_token", "ghost")


def test_tokens_page_shows_key_once_and_revokes(client, world):
    client.force_login(world.users["viewer"])
    response = client.post("/account/tokens/", {"name": "laptop"})
    assert response.status_code == 200
    raw = response.context["new_token"]
    assert raw.encode() in response.content
    token = ApiToken.objects.get(key_hash=hash_token(raw))
    listing = client.get("/account/tokens/")
    assert raw.encode() not in listing.content and token.prefix.encode() in listing.content
    client.post(f"/account/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_tokens_page_field_error(client, world):
    client.force_login(world.users["viewer"])
    response = client.post("/account/tokens/", {"name": "x", "expires_at": "2001-01-01T00:00"})
    assert response.status_code == 200 and "expires_at" in response.context["form"].errors
    assert not ApiToken.objects.filter(name="x").exists()


def test_cannot_revoke_someone_elses_token(client, world):
    token, _raw = issue_token(world.users["manager"], "mine")
    client.force_login(world.users["viewer"])
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
