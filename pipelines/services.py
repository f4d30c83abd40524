"""Business actions on pipeline definitions, shared by pages, API, admin and tasks.

Every save validates the whole definition (``pipelines.definition``), stores it in one transaction
with a new configuration version, keeps secret parameter values encrypted (R4), refreshes the
endpoint usage index (E8) and emits ``config_updated`` for notifications (N1).
"""

from __future__ import annotations

import dataclasses
import difflib

import yaml
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils.translation import gettext as _

from devops_console.core.models import ADD_GATE_TEMPLATE, Membership
from devops_console.core.permissions import USE, can
from endpoints.models import EndpointUsage, ServiceEndpoint
from pipelines import permissions
from pipelines.definition import (
    DefinitionContext,
    DefinitionError,
    referenced_endpoints,
    referenced_pipelines,
    validate_definition,
)
from pipelines.definition.base import as_int
from pipelines.models import GateTemplate, HostGroup, Pipeline, PipelineFollow, PipelineSecret, PipelineVersion

#: sent with (pipeline, actor, version) after a saved change; and (pipeline, actor) before deletion
config_updated = Signal()
pipeline_deleted = Signal()

YAML_MAX = 512 * 1024


def context_for(actor, project, pipeline: Pipeline | None = None) -> DefinitionContext:
    """What a definition may refer to, as seen by ``actor`` (endpoints they may USE, E3)."""
    others = Pipeline.objects.filter(project=project).exclude(pk=getattr(pipeline, "pk", None))
    calls = {p.pk: frozenset(referenced_pipelines(p.definition)) for p in others.only("pk", "definition")}
    return DefinitionContext(
        endpoints=dict(ServiceEndpoint.objects.restrict(actor, USE).filter(project=project).values_list("pk", "type")),
        host_groups=frozenset(HostGroup.objects.filter(project=project).values_list("name", flat=True)),
        gate_templates=frozenset(GateTemplate.objects.restrict(actor, "view").values_list("pk", flat=True)),
        pipelines=calls,
        pipeline_id=getattr(pipeline, "pk", None),
        members=frozenset(Membership.objects.filter(project=project).values_list("user__username", flat=True)),
        stored_secrets=frozenset(pipeline.secrets.values_list("name", flat=True)) if pipeline else frozenset(),
    )


def _validate(actor, project, data, pipeline=None, secrets_from=None) -> tuple[dict, dict]:
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": [_("The definition must be a JSON object.")]})
    context = context_for(actor, project, pipeline)
    if secrets_from is not None:  # a copy keeps the original's stored values
        stored = context.stored_secrets | set(secrets_from.secrets.values_list("name", flat=True))
        context = dataclasses.replace(context, stored_secrets=frozenset(stored))
    try:
        definition, secrets = validate_definition(data, context)
    except DefinitionError as exc:
        raise ValidationError(exc.errors) from None
    clash = Pipeline.objects.filter(project=project, name__iexact=definition["name"])
    if clash.exclude(pk=getattr(pipeline, "pk", None)).exists():
        raise ValidationError({"name": [_("A pipeline named “%(name)s” already exists in this project.") % definition]})
    return definition, secrets


def _store_secrets(pipeline: Pipeline, definition: dict, secrets: dict) -> None:
    for name, value in secrets.items():
        PipelineSecret.objects.update_or_create(pipeline=pipeline, name=name, defaults={"value": value})
    keep = {p["name"] for p in definition.get("parameters", []) if p.get("secret")}
    pipeline.secrets.exclude(name__in=keep).delete()


def _sync_usages(pipeline: Pipeline) -> None:
    """Rebuild the endpoint usage index (E8) from the definition: one row per (endpoint, pipeline)."""
    content_type = ContentType.objects.get_for_model(Pipeline)
    wanted: dict[int, list[str]] = {}
    for endpoint_id, label in referenced_endpoints(pipeline.definition):
        wanted.setdefault(endpoint_id, []).append(label)
    EndpointUsage.objects.filter(content_type=content_type, object_id=pipeline.pk).exclude(
        endpoint_id__in=list(wanted)
    ).delete()
    for endpoint_id, labels in wanted.items():
        EndpointUsage.objects.update_or_create(
            endpoint_id=endpoint_id,
            content_type=content_type,
            object_id=pipeline.pk,
            defaults={
                "pipeline_id": pipeline.pk,
                "label": f"{pipeline.name} › {', '.join(labels)}"[:300],
                "url": f"/projects/{pipeline.project_id}/pipelines/{pipeline.pk}/",
            },
        )


def _save_version(actor, pipeline: Pipeline, summary: str) -> PipelineVersion:
    return PipelineVersion.objects.create(
        pipeline=pipeline, number=pipeline.version, definition=pipeline.definition, author=actor, summary=summary[:300]
    )


@transaction.atomic
def create_pipeline(actor, project, data: dict, *, secrets_from: Pipeline | None = None) -> Pipeline:
    """Create a pipeline from a full definition (P2); the actor becomes its creator (A5)."""
    definition, secrets = _validate(actor, project, data, secrets_from=secrets_from)
    pipeline = Pipeline.objects.create(
        project=project,
        name=definition["name"],
        description=definition["description"],
        creator=actor,
        definition=definition,
        version=1,
    )
    if secrets_from is not None:  # copies keep the original's stored secret values
        for secret in secrets_from.secrets.all():
            PipelineSecret.objects.create(pipeline=pipeline, name=secret.name, value=secret.value)
    _store_secrets(pipeline, definition, secrets)
    permissions.create_defaults(pipeline)
    _sync_usages(pipeline)
    _save_version(actor, pipeline, _("created"))
    return pipeline


@transaction.atomic
def update_pipeline(actor, pipeline: Pipeline, data: dict, *, partial: bool = False, summary: str = "") -> Pipeline:
    """Replace (PUT) or merge top-level keys (PATCH) of the definition; nothing is saved on error."""
    pipeline = Pipeline.objects.select_for_update().get(pk=pipeline.pk)
    if partial:
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": [_("The definition must be a JSON object.")]})
        data = {**pipeline.definition, **data}
    definition, secrets = _validate(actor, pipeline.project, data, pipeline)
    if definition == pipeline.definition and not secrets:
        return pipeline
    pipeline.definition = definition
    pipeline.name, pipeline.description = definition["name"], definition["description"]
    pipeline.version += 1
    pipeline.save()
    _store_secrets(pipeline, definition, secrets)
    _sync_usages(pipeline)
    version = _save_version(actor, pipeline, summary or _("updated"))
    transaction.on_commit(lambda: config_updated.send(Pipeline, pipeline=pipeline, actor=actor, version=version))
    return pipeline


def copy_name(pipeline: Pipeline) -> str:
    base = _("%(name)s - copy") % {"name": pipeline.name}
    name, n = base[:100], 1
    while Pipeline.objects.filter(project_id=pipeline.project_id, name__iexact=name).exists():
        n += 1
        name = f"{base[:94]} ({n})"
    return name


def copy_pipeline(actor, pipeline: Pipeline, name: str | None = None) -> Pipeline:
    """P3: a new pipeline with the same definition and secret values; the actor is its creator."""
    data = {**pipeline.definition, "name": name or copy_name(pipeline)}
    return create_pipeline(actor, pipeline.project, data, secrets_from=pipeline)


@transaction.atomic
def delete_pipeline(actor, pipeline: Pipeline) -> None:
    pipeline_deleted.send(Pipeline, pipeline=pipeline, actor=actor)
    EndpointUsage.objects.filter(
        content_type=ContentType.objects.get_for_model(Pipeline), object_id=pipeline.pk
    ).delete()
    pipeline.delete()


def follow(user, pipeline: Pipeline, on: bool = True) -> None:
    if on:
        PipelineFollow.objects.get_or_create(pipeline=pipeline, user=user)
    else:
        PipelineFollow.objects.filter(pipeline=pipeline, user=user).delete()


def restore_version(actor, pipeline: Pipeline, number: int) -> Pipeline:
    """Configuration history (beyond): save an earlier version as the newest one."""
    version = pipeline.versions.filter(number=number).first()
    if version is None:
        raise ValidationError({"version": [_("No version %(n)s.") % {"n": number}]})
    return update_pipeline(actor, pipeline, version.definition, summary=_("restored version %(n)s") % {"n": number})


def version_diff(pipeline: Pipeline, number: int) -> str:
    """A readable unified diff between version ``number`` and the one before it."""
    versions = {v.number: v for v in pipeline.versions.filter(number__in=[number - 1, number])}
    after = versions.get(number)
    if after is None:
        return ""
    before = versions.get(number - 1)
    old = to_yaml(before.definition).splitlines() if before else []
    new = to_yaml(after.definition).splitlines()
    return "\n".join(difflib.unified_diff(old, new, f"v{number - 1}", f"v{number}", lineterm=""))


def to_yaml(definition: dict) -> str:
    """Pipeline as code (beyond): the API.md definition as YAML; secret values are never in it."""
    return yaml.safe_dump(definition, sort_keys=False, allow_unicode=True)


def from_yaml(text: str) -> dict:
    if not isinstance(text, str) or len(text) > YAML_MAX:
        raise ValidationError({"yaml": [_("Upload a YAML document of at most 512 KiB.")]})
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _(" (line %(line)s)") % {"line": mark.line + 1} if mark else ""
        raise ValidationError({"yaml": [_("Not valid YAML%(where)s.") % {"where": where}]}) from None
    except RecursionError:  # deep nesting: the YAML composer recurses
        raise ValidationError({"yaml": [_("The document is nested too deeply.")]}) from None
    if not isinstance(data, dict):
        raise ValidationError({"yaml": [_("The document must be a mapping with name, stages, …")]})
    return data


GATE_METRICS = {"issue_count": 1_000_000, "pass_rate": 100}  # metric -> highest threshold


def can_add_gate_template(actor, project) -> bool:
    """Whether ``actor`` may create gate templates in ``project`` (``Project.restrict_q``)."""
    return can(actor, project, ADD_GATE_TEMPLATE)


@transaction.atomic
def create_gate_template(actor, project, name, items) -> GateTemplate:
    """P7: a project gate template from items "code-check issue count ≤ N" and/or "API-test pass rate ≥ N %".

    Errors are keyed ``name``, ``items`` and ``items[<i>].threshold``; nothing is saved on error.
    The actor must be allowed to add gate templates in ``project`` (creator, managers, developers, testers).
    """
    if not can_add_gate_template(actor, project):
        raise PermissionDenied
    errors: dict[str, list[str]] = {}
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 100:
        errors["name"] = [_("Enter a name of 1 to 100 characters.")]
    elif GateTemplate.objects.filter(name__iexact=name).filter(Q(project=project) | Q(project__isnull=True)).exists():
        errors["name"] = [_("A gate template named “%(name)s” already exists.") % {"name": name}]
    clean: list[dict] = []
    if not isinstance(items, list) or not items:
        errors["items"] = [_("Choose at least one gate item: code-check issue count or API-test pass rate.")]
        items = []
    for index, entry in enumerate(items):
        metric = entry.get("metric") if isinstance(entry, dict) else None
        if metric not in GATE_METRICS or any(i["metric"] == metric for i in clean):
            errors.setdefault("items", []).append(_("Each gate item (issue count, pass rate) may appear once."))
            continue
        threshold = as_int(entry.get("threshold"))
        if threshold is None or not 0 <= threshold <= GATE_METRICS[metric]:
            errors[f"items[{index}].threshold"] = [
                _("Enter a whole number from 0 to %(max)s.") % {"max": GATE_METRICS[metric]}
            ]
            continue
        clean.append({"metric": metric, "threshold": threshold})
    if errors:
        raise ValidationError(errors)
    return GateTemplate.objects.create(project=project, name=name, items=clean)
