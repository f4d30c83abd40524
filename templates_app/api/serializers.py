"""Pipeline templates in the API shape (API.md "templates"; SPEC M1–M3).

Writing: the body must be a JSON object with known keys; ``templates_app.services`` validate everything
(errors by field and by definition path, e.g. ``definition.stages[0].tasks[1].config.commands``). The
declared fields document the keys for the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.fields import empty

from templates_app.models import PipelineTemplate


class _RawObject(serializers.Serializer):
    """Any JSON object with keys among the declared writable fields, passed on unchanged."""

    def run_validation(self, data=empty):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"non_field_errors": [_("Send a JSON object.")]})
        data = data.dict() if hasattr(data, "dict") else dict(data)
        accepted = {name for name, field in self.fields.items() if not field.read_only}
        unknown = sorted(str(key)[:64] for key in data if key not in accepted)
        if unknown:
            message = _("Unknown field; expected one of: %(fields)s.") % {"fields": ", ".join(sorted(accepted))}
            raise serializers.ValidationError({key: [message] for key in unknown[:20]})
        return data


class TemplateSerializer(_RawObject):
    """A template: basic info, ``definition`` (``parameters`` and ``stages``), who may do what."""

    id = serializers.IntegerField(read_only=True)
    key = serializers.CharField(read_only=True, allow_null=True, help_text="Stable key of a system template.")
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    system = serializers.BooleanField(read_only=True)
    owner = serializers.CharField(read_only=True, allow_null=True, help_text="Username; null for system templates.")
    project = serializers.IntegerField(
        required=False, allow_null=True, help_text="Members of this project see the template too."
    )
    project_name = serializers.CharField(read_only=True, allow_null=True)
    definition = serializers.JSONField(required=False, help_text="{parameters: [...], stages: [...]}")
    pipeline = serializers.IntegerField(
        required=False, write_only=True, help_text="Create from this pipeline's stages and non-secret parameters."
    )
    followed = serializers.BooleanField(read_only=True)
    can_change = serializers.BooleanField(read_only=True)
    needs = serializers.DictField(read_only=True, help_text="Deploy targets to choose when generating.")
    created = serializers.DateTimeField(read_only=True)
    updated = serializers.DateTimeField(read_only=True)

    def to_representation(self, template: PipelineTemplate):
        from templates_app.services import template_needs

        user = self.context["request"].user
        followed = self.context.get("followed")
        return {
            "id": template.pk,
            "key": template.key,
            "name": template.name,
            "description": template.description,
            "system": template.system,
            "owner": template.owner.get_username() if template.owner_id else None,
            "project": template.project_id,
            "project_name": template.project.name if template.project_id else None,
            "definition": template.definition,
            "followed": template.pk in followed
            if followed is not None
            else template.follows.filter(user=user).exists(),
            "can_change": not template.system and (template.owner_id == user.pk or user.is_superuser),
            "needs": template_needs(template),
            "created": template.created.isoformat(),
            "updated": template.updated.isoformat(),
        }


class CopySerializer(_RawObject):
    name = serializers.CharField(required=False, max_length=100)
    project = serializers.IntegerField(required=False, allow_null=True)


class DeploySerializer(serializers.Serializer):
    endpoint = serializers.IntegerField(required=False, help_text="Kubernetes endpoint for Kubernetes deploy tasks.")
    host_group = serializers.CharField(required=False, help_text="Host group for host group deploy tasks.")


class GenerateSerializer(_RawObject):
    """M3: the project, the pipeline name, its sources and the values the template leaves open."""

    project = serializers.IntegerField(help_text="A project where you may add pipelines.")
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True)
    sources = serializers.ListField(
        child=serializers.DictField(), required=False, help_text='Pipeline sources; tasks use the alias "app".'
    )
    parameters = serializers.DictField(
        child=serializers.CharField(), required=False, help_text="Default values of template parameters."
    )
    deploy = DeploySerializer(required=False)


class GeneratedSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The new pipeline's id.")
    pipeline = serializers.IntegerField()
    project = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField(help_text="The pipeline's page.")
