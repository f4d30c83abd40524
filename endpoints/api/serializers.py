"""Service endpoints and credentials in the API.md shape.

Reading: every plain field of the endpoint's type at top level, and for each secret field only
``<name>_set`` and ``<name>_updated_at`` — never the value (E5). Writing: the body is handed to
``endpoints.services`` as it came, which validate everything (E6); the serializers only make sure
it is a JSON object. The declared fields document the common keys for the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.fields import empty

from endpoints import services
from endpoints.models import Scope, Status
from endpoints.types import CREDENTIAL_KINDS, get_type, type_choices


def _iso(value):
    return value.isoformat() if value is not None else None


def status_text(status) -> str:
    return str(Status(status).label) if status is not None else _("Not checked")


class RawObjectSerializer(serializers.Serializer):
    """Accepts any JSON object and passes it on unchanged; ``accepted_keys`` (if set) limits its keys."""

    accepted_keys: frozenset[str] | None = None

    def run_validation(self, data=empty):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"non_field_errors": [_("Send a JSON object.")]})
        data = data.dict() if hasattr(data, "dict") else dict(data)
        if self.accepted_keys is not None:
            unknown = sorted(str(key)[:64] for key in data if key not in self.accepted_keys)
            if unknown:
                message = _("Unknown field; expected one of: %(fields)s.") % {
                    "fields": ", ".join(sorted(self.accepted_keys))
                }
                raise serializers.ValidationError({key: [message] for key in unknown[:20]})
        return data


class EndpointSerializer(RawObjectSerializer):
    """A service endpoint. The type's plain fields and ``<secret>_set`` / ``<secret>_updated_at`` are
    added at top level (API.md "Endpoint types"); on write, the type's fields go at top level too."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=services.NAME_MAX)
    type = serializers.ChoiceField(choices=type_choices())
    scope = serializers.ChoiceField(choices=Scope.choices, required=False)
    members = serializers.ListField(child=serializers.CharField(), required=False, help_text="Usernames (custom).")
    credential = serializers.IntegerField(required=False, allow_null=True, help_text="Id of an existing credential.")
    ca_bundle = serializers.CharField(required=False, allow_blank=True)
    skip_tls_verify = serializers.BooleanField(required=False)
    expires_at = serializers.DateField(required=False, allow_null=True, help_text="Expiry of the credential.")
    status = serializers.IntegerField(read_only=True, allow_null=True)
    status_text = serializers.CharField(read_only=True)
    status_detail = serializers.CharField(read_only=True)
    checked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_by = serializers.CharField(read_only=True)
    created = serializers.DateTimeField(read_only=True)
    updated = serializers.DateTimeField(read_only=True)
    ca_bundle_set = serializers.BooleanField(read_only=True)

    def to_representation(self, endpoint):
        credential = endpoint.credential
        etype = get_type(endpoint.type)
        body = {
            "id": endpoint.pk,
            "name": endpoint.name,
            "type": endpoint.type,
            "type_label": str(etype.label),
            "scope": endpoint.scope,
            "members": services.members_of(endpoint) if endpoint.scope == Scope.CUSTOM else [],
            "credential": endpoint.credential_id,
            "expires_at": _iso(credential.expires_at),
            "status": endpoint.status,
            "status_text": status_text(endpoint.status),
            "status_detail": endpoint.status_detail,
            "checked_at": _iso(endpoint.checked_at),
            "created_by": endpoint.created_by.username,
            "created": _iso(endpoint.created),
            "updated": _iso(endpoint.updated),
            "ca_bundle": endpoint.ca_bundle,
            "ca_bundle_set": bool(endpoint.ca_bundle),
            "skip_tls_verify": endpoint.skip_tls_verify,
        }
        body.update(services.plain_fields(endpoint))
        for spec in etype.secret_fields():
            body[f"{spec.name}_set"] = bool(credential.secret)
            body[f"{spec.name}_updated_at"] = _iso(credential.secret_updated_at)
        return body


class EndpointPermissionsSerializer(RawObjectSerializer):
    """``{"scope": "private" | "public" | "custom", "members": [usernames]}`` (E3)."""

    accepted_keys = frozenset({"scope", "members"})

    scope = serializers.ChoiceField(choices=Scope.choices)
    members = serializers.ListField(child=serializers.CharField(), required=False)

    def to_representation(self, endpoint):
        return {"scope": endpoint.scope, "members": services.members_of(endpoint)}


class VerifyResultSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    status_text = serializers.CharField()
    checked_at = serializers.DateTimeField()
    detail = serializers.CharField()


class UsageSerializer(serializers.Serializer):
    label = serializers.CharField()
    url = serializers.CharField()
    pipeline_id = serializers.IntegerField(allow_null=True)


class CredentialSerializer(RawObjectSerializer):
    """A credential (E4). ``secret`` is write-only: responses carry ``secret_set`` and
    ``secret_updated_at``; an omitted or empty ``secret`` on PATCH keeps the stored one."""

    accepted_keys = frozenset({"name", "kind", "identity", "secret", "shared", "expires_at"})

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=services.NAME_MAX)
    kind = serializers.ChoiceField(choices=list(CREDENTIAL_KINDS.items()))
    identity = serializers.CharField(required=False, allow_blank=True, max_length=255)
    secret = serializers.CharField(write_only=True)
    shared = serializers.BooleanField(required=False)
    owner = serializers.CharField(read_only=True)
    expires_at = serializers.DateField(required=False, allow_null=True)
    secret_set = serializers.BooleanField(read_only=True)
    secret_updated_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_verified_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created = serializers.DateTimeField(read_only=True)
    updated = serializers.DateTimeField(read_only=True)
    usage = serializers.DictField(read_only=True, help_text="Endpoints and pipelines it reaches.")

    def _user(self):
        request = self.context.get("request")
        return request.user if request is not None else None

    def to_representation(self, credential):
        return {
            "id": credential.pk,
            "name": credential.name,
            "kind": credential.kind,
            "identity": credential.identity,
            "shared": credential.shared,
            "owner": credential.owner.username,
            "expires_at": _iso(credential.expires_at),
            "secret_set": bool(credential.secret),
            "secret_updated_at": _iso(credential.secret_updated_at),
            "last_verified_at": _iso(credential.last_verified_at),
            "last_used_at": _iso(credential.last_used_at),
            "created": _iso(credential.created),
            "updated": _iso(credential.updated),
            "usage": services.credential_usage(
                credential, self._user(), visible_ids=self.context.get("visible_endpoint_ids")
            ),
        }
