"""Pipelines and host groups in the API.md shape.

Reading is done by plain functions (the list is hot: no per-field serializer machinery); the
serializer classes wrap them and declare the fields for the OpenAPI schema. Writing: definition
bodies go to ``pipelines.services`` as they came (the validator reports every error by path); the
permissions body is checked here, because API.md fixes its shape.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from rest_framework import serializers

from devops_console.core.models import Membership, Role
from pipelines import permissions as perms

#: response-only keys a client may echo back in a PUT / PATCH body (ignored, except ``version``)
READ_ONLY_KEYS = frozenset({"id", "project", "creator", "created", "updated", "following", "last_run", "version"})
MAX_PERMISSION_USERS = 1000


def _iso(value):
    return value.isoformat() if value is not None else None


def _username(user) -> str | None:
    return user.username if user is not None else None


def run_summary(run):
    from pipelines.runs.summary import run_summary as summary

    return summary(run)


def pipeline_summary(pipeline) -> dict:
    """One list item (P1). ``following`` comes from the queryset annotation when present."""
    following = getattr(pipeline, "following", None)
    return {
        "id": pipeline.pk,
        "name": pipeline.name,
        "project": {"id": pipeline.project_id, "name": pipeline.project.name},
        "description": pipeline.description,
        "creator": _username(pipeline.creator),
        "created": _iso(pipeline.created),
        "updated": _iso(pipeline.updated),
        "version": pipeline.version,
        "following": bool(following),
        "last_run": run_summary(getattr(pipeline, "last_run", None)),
    }


def pipeline_detail(pipeline) -> dict:
    """The summary plus the whole stored definition (secret values are never stored in it, R4)."""
    summary = pipeline_summary(pipeline)
    return {**summary, **pipeline.definition, "name": pipeline.name, "description": pipeline.description}


class PipelineSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    project = serializers.DictField(help_text="{id, name}")
    description = serializers.CharField()
    creator = serializers.CharField(help_text="Username.")
    created = serializers.DateTimeField()
    updated = serializers.DateTimeField()
    version = serializers.IntegerField(help_text="Number of the latest saved version.")
    following = serializers.BooleanField(help_text="Whether the caller follows the pipeline.")
    last_run = serializers.DictField(allow_null=True)

    def to_representation(self, instance):
        return pipeline_summary(instance)


class PipelineSerializer(PipelineSummarySerializer):
    """The full definition (API.md "Pipeline definition") with id, version and creator. A secret
    parameter shows ``"value_set": true`` and an empty default; send an empty default to keep it."""

    sources = serializers.ListField(child=serializers.DictField())
    parameters = serializers.ListField(child=serializers.DictField())
    stages = serializers.ListField(child=serializers.DictField())
    triggers = serializers.DictField()
    notifications = serializers.DictField()

    def to_representation(self, instance):
        return pipeline_detail(instance)


class PipelineCopySerializer(serializers.Serializer):
    name = serializers.CharField(required=False, help_text="Default: “<name> - copy”.")


class VersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    author = serializers.CharField(allow_null=True)
    created = serializers.DateTimeField()
    summary = serializers.CharField()

    def to_representation(self, version):
        return {
            "number": version.number,
            "author": _username(version.author),
            "created": _iso(version.created),
            "summary": version.summary,
        }


class VersionDetailSerializer(VersionSerializer):
    definition = serializers.DictField()
    diff = serializers.CharField(help_text="Unified diff (YAML) against the version before.")

    def to_representation(self, version):
        from pipelines.services import version_diff

        return {
            **super().to_representation(version),
            "definition": version.definition,
            "diff": version_diff(version.pipeline, version.number),
        }


# --- permissions (A1–A5) --------------------------------------------------------------------------


def permissions_of(pipeline) -> dict:
    """``{"roles": {role: flags}, "users": {username: flags}, "locked_users": [...]}``: person
    settings under ``users``; the creators (A5) always have everything and are listed as locked."""
    persons = perms.person_flags(pipeline)
    locked = perms.locked_user_ids(pipeline)
    names = dict(
        Membership.objects.filter(project_id=pipeline.project_id, user_id__in=[*persons, *locked]).values_list(
            "user_id", "user__username"
        )
    )
    return {
        "roles": perms.role_flags(pipeline),
        "users": {names[uid]: flags for uid, flags in sorted(persons.items()) if uid in names and uid not in locked},
        "locked_roles": [str(Role.CREATOR)],
        "locked_users": sorted(names[uid] for uid in locked if uid in names),
    }


def _flags(value, where: str, errors: dict) -> dict | None:
    if not isinstance(value, Mapping):
        errors[where] = [_("Give an object with view, execute, modify and delete (true or false).")]
        return None
    for flag, on in value.items():
        if flag not in perms.FLAGS:
            errors[f"{where}.{str(flag)[:64]}"] = [
                _("Unknown permission; use %(flags)s.") % {"flags": ", ".join(perms.FLAGS)}
            ]
        elif not isinstance(on, bool):
            errors[f"{where}.{flag}"] = [_("Must be true or false.")]
    return dict(value)


def _entries(data, key: str, errors: dict, limit: int) -> dict:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping) or len(value) > limit:
        errors[key] = [_("Give an object keyed by name (at most %(n)s entries).") % {"n": limit}]
        return {}
    return value


def clean_permissions(pipeline, data) -> tuple[dict, dict[int, dict]]:
    """Validate a permissions PUT body; returns (roles by role, users by user id). Raises
    ``ValidationError`` with paths like ``roles.developer.modify`` or ``users.bob``."""
    if not isinstance(data, Mapping):
        raise ValidationError({"non_field_errors": [_("Send a JSON object with roles and users.")]})
    errors: dict[str, list[str]] = {}
    for key in data:
        if key not in ("roles", "users", "locked_roles", "locked_users"):
            errors[str(key)[:64]] = [_("Unknown field; expected roles and users.")]
    roles, users = {}, {}
    for role, value in _entries(data, "roles", errors, len(Role.values)).items():
        if role not in Role.values:
            errors[f"roles.{str(role)[:64]}"] = [_("Unknown role; use %(roles)s.") % {"roles": ", ".join(Role.values)}]
        elif (flags := _flags(value, f"roles.{role}", errors)) is not None:
            roles[role] = flags
    requested = _entries(data, "users", errors, MAX_PERMISSION_USERS)
    members = dict(
        Membership.objects.filter(
            project_id=pipeline.project_id, user__username__in=[k for k in requested if isinstance(k, str)]
        ).values_list("user__username", "user_id")
    )
    for username, value in requested.items():
        if username not in members:
            errors[f"users.{str(username)[:64]}"] = [_("No member of this project has this username.")]
        elif (flags := _flags(value, f"users.{username}", errors)) is not None:
            users[members[username]] = flags
    if errors:
        raise ValidationError(errors)
    return roles, users


class FlagsSerializer(serializers.Serializer):
    view = serializers.BooleanField()
    execute = serializers.BooleanField()
    modify = serializers.BooleanField()
    delete = serializers.BooleanField()


class PermissionsSerializer(serializers.Serializer):
    roles = serializers.DictField(child=FlagsSerializer(), help_text=", ".join(Role.values))
    users = serializers.DictField(child=FlagsSerializer(), help_text="Keyed by username.")
    locked_roles = serializers.ListField(child=serializers.CharField(), read_only=True)
    locked_users = serializers.ListField(child=serializers.CharField(), read_only=True)


# --- host groups (R7) -----------------------------------------------------------------------------


class HostSerializer(serializers.Serializer):
    address = serializers.CharField(help_text="Host name or IP address.")
    port = serializers.IntegerField(min_value=1, max_value=65535, default=22)
    ssh_user = serializers.CharField()
    credential = serializers.IntegerField(help_text="Id of a credential you may use.")


class HostGroupSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True)
    hosts = HostSerializer(many=True, required=False)
    created = serializers.DateTimeField(read_only=True)

    def to_representation(self, group):
        return {
            "id": group.pk,
            "name": group.name,
            "description": group.description,
            "hosts": [
                {
                    "id": h.pk,
                    "address": h.address,
                    "port": h.port,
                    "ssh_user": h.ssh_user,
                    "credential": h.credential_id,
                }
                for h in group.hosts.all()
            ],
            "created": _iso(group.created),
        }
