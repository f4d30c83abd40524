"""Endpoint service layer: scope and rights (E2, E3), shared credentials (E4), secrets at rest and key
rotation (E5), expiry (E7), usage and delete (E8), audit trail — against the real registry where it talks."""

import pytest
from cryptography.fernet import Fernet, MultiFernet
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from devops_console.core.fields import SecretDecryptionError
from devops_console.core.models import Project
from devops_console.core.permissions import ADMINISTER, CHANGE, DELETE, USE, VIEW
from endpoints import services, tasks
from endpoints.models import AuditEntry, Credential, EndpointUsage, ServiceEndpoint

pytestmark = pytest.mark.django_db
SECRET = "planted-Secret-9f3b"


def make(world, actor="developer", scope="private", members=(), name="ep", **extra):
    data = {
        "name": name,
        "type": "docker_registry",
        "url": "https://registry.example",
        "username": "u",
        "password": SECRET,
        "scope": scope,
        "members": list(members),
        **extra,
    }
    return services.create_endpoint(world.users[actor], world.project, data)


def visible(world, actor, endpoint, action=VIEW):
    user = world.users[actor]
    return ServiceEndpoint.objects.restrict(user, action).filter(pk=endpoint.pk).exists()


@pytest.mark.parametrize(
    "scope, members, expected_view",
    [
        ("private", [], {"creator", "manager", "developer"}),
        ("public", [], {"creator", "manager", "developer", "tester", "operator", "participant", "viewer"}),
        ("custom", ["tester"], {"creator", "manager", "developer", "tester"}),
    ],
)
def test_scope_decides_who_sees_and_uses(world, scope, members, expected_view):
    """E2, E3: creator/managers see all; the endpoint creator (developer) always; others by scope."""
    endpoint = make(world, scope=scope, members=members)
    actors = ["creator", "manager", "developer", "tester", "operator", "participant", "viewer", "outsider"]
    assert {a for a in actors if visible(world, a, endpoint)} == expected_view
    assert {a for a in actors if visible(world, a, endpoint, USE)} == expected_view
    assert not visible(world, "other_creator", endpoint)


def test_use_and_administer_are_separate_rights(world):
    """E3: a listed custom member may use but not edit, delete or change scope."""
    endpoint = make(world, scope="custom", members=["tester"])
    for action in (CHANGE, DELETE, ADMINISTER):
        assert not visible(world, "tester", endpoint, action)
        assert visible(world, "developer", endpoint, action)  # its creator
        assert visible(world, "manager", endpoint, action)
        assert not visible(world, "viewer", endpoint, action)


def test_leaving_the_project_removes_access(world):
    endpoint = make(world, scope="public")
    world.project.memberships.filter(user=world.users["developer"]).delete()
    assert not visible(world, "developer", endpoint) and not visible(world, "developer", endpoint, CHANGE)


def test_custom_members_must_belong_to_the_project(world):
    with pytest.raises(ValidationError) as exc:
        make(world, scope="custom", members=["outsider"])
    assert "outsider" in exc.value.message_dict["members"][0]
    assert not ServiceEndpoint.objects.exists() and not Credential.objects.exists()


def test_usable_endpoints_helper_filters_by_type(world):
    make(world, scope="public", name="reg")
    services.create_endpoint(
        world.users["developer"],
        world.project,
        {
            "name": "iam",
            "type": "iam_user",
            "access_key_id": "AKIAABCDEFGHIJKLMNOP",
            "secret_access_key": "x" * 40,
            "scope": "public",
        },
    )
    names = {e.name for e in services.usable_endpoints(world.users["viewer"], world.project, ["docker_registry"])}
    assert names == {"reg"}


def test_shared_credential_replacement_repairs_every_endpoint(world, docker_registry):
    """E4: two endpoints reference one credential; replacing its secret repairs both at once."""
    owner = world.users["developer"]
    credential = services.create_credential(
        owner,
        world.project,
        {
            "name": "registry robot",
            "kind": "username_password",
            "identity": docker_registry.username,
            "secret": "stale-password-1",
            "shared": True,
        },
    )
    endpoints = [
        services.create_endpoint(
            owner,
            world.project,
            {"name": f"reg{i}", "type": "docker_registry", "url": docker_registry.url, "credential": credential.pk},
        )
        for i in range(2)
    ]
    assert [services.verify_endpoint(owner, e).status for e in endpoints] == [2, 2]
    services.update_credential(owner, credential, {"secret": docker_registry.password})
    fresh = ServiceEndpoint.objects.select_related("credential").filter(pk__in=[e.pk for e in endpoints])
    assert [services.verify_endpoint(owner, e).status for e in fresh] == [0, 0]


def test_credential_of_wrong_kind_is_refused(world):
    credential = services.create_credential(
        world.users["developer"],
        world.project,
        {"name": "ak", "kind": "access_key", "identity": "AKIAABCDEFGHIJKLMNOP", "secret": "y" * 40},
    )
    with pytest.raises(ValidationError) as exc:
        services.create_endpoint(
            world.users["developer"],
            world.project,
            {"name": "reg", "type": "docker_registry", "url": "https://r.example", "credential": credential.pk},
        )
    assert "credential" in exc.value.message_dict


def test_other_members_private_credential_cannot_be_borrowed(world):
    credential = services.create_credential(
        world.users["manager"],
        world.project,
        {"name": "mine", "kind": "username_password", "identity": "u", "secret": "pw-123456"},
    )
    with pytest.raises(ValidationError) as exc:
        services.create_endpoint(
            world.users["developer"],
            world.project,
            {"name": "reg", "type": "docker_registry", "url": "https://r.example", "credential": credential.pk},
        )
    assert "credential" in exc.value.message_dict


def raw_secret(credential_id):
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM endpoints_credential WHERE id = %s", [credential_id])
        return cursor.fetchone()[0]


def test_secret_is_encrypted_at_rest(world):
    """E5: the stored value is a Fernet token, not the secret."""
    endpoint = make(world)
    stored = raw_secret(endpoint.credential_id)
    assert SECRET not in stored
    from django.conf import settings

    assert MultiFernet([Fernet(k) for k in settings.FIELD_ENCRYPTION_KEY]).decrypt(stored.encode()).decode() == SECRET


def test_undecryptable_secret_raises_instead_of_leaking_ciphertext(world, monkeypatch):
    """E5: the library's default returns the ciphertext on a wrong key; ours raises."""
    endpoint = make(world)
    import encrypted_model_fields.fields as emf

    monkeypatch.setattr(emf, "CRYPTER", MultiFernet([Fernet(Fernet.generate_key())]))
    with pytest.raises(SecretDecryptionError, match="cannot be decrypted"):
        Credential.objects.get(pk=endpoint.credential_id).secret  # noqa: B018


def test_key_rotation_round_trip(world, monkeypatch):
    """E5: with the new key first, rotate_encryption_key re-encrypts everything; then the old key can go."""
    import encrypted_model_fields.fields as emf

    endpoints = [make(world, name=f"ep{i}") for i in range(3)]
    old = emf.CRYPTER
    new_key = Fernet(Fernet.generate_key())
    monkeypatch.setattr(emf, "CRYPTER", MultiFernet([new_key, *old._fernets]))
    call_command("rotate_encryption_key")
    monkeypatch.setattr(emf, "CRYPTER", MultiFernet([new_key]))  # old key dropped
    for endpoint in endpoints:
        assert new_key.decrypt(raw_secret(endpoint.credential_id).encode()).decode() == SECRET
        assert Credential.objects.get(pk=endpoint.credential_id).secret == SECRET


def test_expired_credential_verifies_as_overdue_without_a_call(world):
    """E7: status 1 (overdue) for an expired credential; recorded with time and reason."""
    endpoint = make(world, url="https://127.0.0.1:1", expires_at=str(timezone.localdate() - timezone.timedelta(days=1)))
    result = services.verify_endpoint(world.users["developer"], endpoint)
    endpoint.refresh_from_db()
    assert result.status == 1 and endpoint.status == 1 and "expired" in endpoint.status_detail
    assert endpoint.checked_at is not None


def test_daily_job_flags_credentials_expiring_within_30_days(world):
    soon = make(world, name="soon", expires_at=str(timezone.localdate() + timezone.timedelta(days=10)))
    make(world, name="later", expires_at=str(timezone.localdate() + timezone.timedelta(days=90)))
    assert tasks.flag_expiring_credentials() == [soon.credential_id]
    assert tasks.flag_expiring_credentials() == []  # once per expiry date
    assert AuditEntry.objects.filter(credential_id=soon.credential_id, detail__startswith="expires on").count() == 1


def test_daily_beat_entry_is_configured():
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULE["endpoints-daily-reverify"]["task"] == "endpoints.reverify_all"


def test_delete_in_use_is_refused_with_the_list(world):
    """E8: deleting a used endpoint is refused with where it is used; the DB protects it too."""
    endpoint = make(world)
    EndpointUsage.objects.create(
        endpoint=endpoint,
        content_type=ContentType.objects.get_for_model(Project),
        object_id=world.project.pk,
        label="web-app › Build › compile",
        pipeline_id=7,
    )
    with pytest.raises(services.EndpointInUse) as exc:
        services.delete_endpoint(world.users["developer"], endpoint)
    assert exc.value.usages == [{"label": "web-app › Build › compile", "url": "", "pipeline_id": 7}]
    assert ServiceEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_delete_removes_an_inline_credential_but_keeps_a_shared_one(world):
    endpoint = make(world)
    services.delete_endpoint(world.users["developer"], endpoint)
    assert not Credential.objects.filter(pk=endpoint.credential_id).exists()
    shared = services.create_credential(
        world.users["developer"],
        world.project,
        {"name": "s", "kind": "username_password", "identity": "u", "secret": "pw-123456", "shared": True},
    )
    other = services.create_endpoint(
        world.users["developer"],
        world.project,
        {"name": "x", "type": "docker_registry", "url": "https://r.example", "credential": shared.pk},
    )
    services.delete_endpoint(world.users["developer"], other)
    assert Credential.objects.filter(pk=shared.pk).exists()


def test_audit_trail_records_fields_never_values(world):
    endpoint = make(world, scope="public")
    services.update_endpoint(
        world.users["developer"], endpoint, {"password": "new-" + SECRET, "url": "https://r2.example"}
    )
    services.set_scope(world.users["manager"], endpoint, "custom", ["tester"])
    actions = list(AuditEntry.objects.filter(endpoint=endpoint).values_list("action", "fields", "detail"))
    assert ("scope", ["members", "scope"], "public → custom") in actions
    edit = next(a for a in actions if a[0] == "edit")
    assert edit[1] == ["password", "url"]
    everything = str(list(AuditEntry.objects.values()))
    assert SECRET not in everything


def test_update_with_empty_secret_keeps_it_and_type_cannot_change(world):
    endpoint = make(world)
    services.update_endpoint(world.users["developer"], endpoint, {"password": "", "username": "v"})
    credential = Credential.objects.get(pk=endpoint.credential_id)
    assert credential.secret == SECRET and credential.identity == "v"
    with pytest.raises(ValidationError) as exc:
        services.update_endpoint(world.users["developer"], endpoint, {"type": "git", "url": "ftp://x"})
    assert set(exc.value.message_dict) == {"type", "url"}
    assert ServiceEndpoint.objects.get(pk=endpoint.pk).config["url"] == "https://registry.example"


@pytest.mark.django_db(transaction=True)
def test_verification_job_runs_on_a_real_worker(world, docker_registry, celery_worker):
    """E7: the daily job's per-endpoint verification runs on a real Celery worker and records status."""
    endpoint = services.create_endpoint(
        world.users["developer"],
        world.project,
        {
            "name": "reg",
            "type": "docker_registry",
            "url": docker_registry.url,
            "username": docker_registry.username,
            "password": docker_registry.password,
        },
    )
    assert tasks.verify_endpoint.delay(endpoint.pk).get(timeout=30) == 0
    endpoint.refresh_from_db()
    assert endpoint.status == 0 and endpoint.checked_at is not None
    assert AuditEntry.objects.filter(endpoint=endpoint, action="verify", actor=None).exists()
