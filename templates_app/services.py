"""Business actions on pipeline templates (SPEC §9, M1–M3), shared by pages, API and admin.

- custom templates: create, edit, copy, delete — by their owner only; system templates are read-only for
  everyone (M1), even superusers: copy one to change it;
- follow / unfollow (M1);
- generate a pipeline (M3): the template's stages and parameters + the chosen name, sources, deploy
  targets and parameter values → ``pipelines.services.create_pipeline`` in a project where the caller may
  add pipelines;
- a template from an existing pipeline: its stages and non-secret parameters.

Errors: ``ValidationError`` by field / definition path; ``Http404`` for what the caller may not see;
``PermissionDenied`` for what they see but may not do.
"""

from __future__ import annotations

import copy

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _

from devops_console.core.models import ADD_PIPELINE, Project
from devops_console.core.permissions import CHANGE, DELETE, VIEW, can, get_object_for_action
from pipelines import services as pipeline_services
from pipelines.definition import ROOT
from pipelines.definition.base import as_int, is_text
from pipelines.models import GateTemplate, Pipeline
from templates_app.models import PipelineTemplate, TemplateFollow
from templates_app.validation import (
    TEMPLATE_ALIAS,
    TemplateError,
    definition_from_pipeline,
    validate_template_definition,
)

NAME_MAX = 100
DESCRIPTION_MAX = 2000


# --------------------------------------------------------------------------- helpers


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def visible_templates(user):
    return PipelineTemplate.objects.restrict(user, VIEW).select_related("owner", "project")


def gate_templates_for(user) -> frozenset[int]:
    return frozenset(GateTemplate.objects.restrict(user, VIEW).values_list("pk", flat=True))


def _text(value, field: str, max_len: int, *, required: bool, errors: dict) -> str:
    if value is None:
        value = ""
    if not is_text(value) or (field == "name" and any(ord(ch) < 32 or ord(ch) == 127 for ch in value)):
        errors[field] = [_("Enter text without control characters.")]
        return ""
    value = value.strip()
    if required and not value:
        errors[field] = [_("Enter a name.")]
    elif len(value) > max_len:
        errors[field] = [_("Use at most %(max)d characters.") % {"max": max_len}]
    return value


def resolve_project(actor, value, *, action: str = VIEW, field: str = "project") -> Project | None:
    """A project of the actor's from an id (or a Project); None for empty. Refused: ``ValidationError``."""
    if value in (None, ""):
        return None
    if isinstance(value, Project):
        value = value.pk
    project_id = as_int(value)
    if project_id is None or not 0 < project_id < 2**31:
        raise ValidationError({field: [_("Give the id of a project.")]})
    project = Project.objects.restrict(actor, action).filter(pk=project_id).first()
    if project is None:
        raise ValidationError({field: [_("Choose one of your projects.")]})
    return project


def _unique_name(owner, name: str, exclude=None) -> bool:
    clash = PipelineTemplate.objects.filter(system=False, owner=owner, name__iexact=name)
    return not clash.exclude(pk=getattr(exclude, "pk", None)).exists()


def _clean(actor, data: dict, instance: PipelineTemplate | None = None) -> dict:
    """Validated name, description, project and definition from ``data`` (PATCH: only those given)."""
    if not isinstance(data, dict):
        raise ValidationError({ROOT: [_("Send an object with name, description, project and definition.")]})
    errors: dict[str, list[str]] = {}
    out: dict = {}
    if instance is None or "name" in data:
        out["name"] = _text(data.get("name"), "name", NAME_MAX, required=True, errors=errors)
        owner = instance.owner if instance else actor
        if out["name"] and "name" not in errors and not _unique_name(owner, out["name"], instance):
            errors["name"] = [_("You already have a template named “%(name)s”.") % {"name": out["name"]}]
    if instance is None or "description" in data:
        out["description"] = _text(
            data.get("description"), "description", DESCRIPTION_MAX, required=False, errors=errors
        )
    if instance is None or "project" in data:
        try:
            out["project"] = resolve_project(actor, data.get("project"))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if instance is None or "definition" in data:
        raw = data.get("definition")
        if raw is None and instance is None:
            raw = {"parameters": [], "stages": []}
        try:
            out["definition"] = validate_template_definition(raw, gate_templates_for(actor))
        except TemplateError as exc:
            errors.update({f"definition.{k}" if k != ROOT else "definition": v for k, v in exc.errors.items()})
    if errors:
        raise ValidationError(errors)
    return out


def _check_owner(actor, template: PipelineTemplate, action: str) -> None:
    if template.system:
        raise PermissionDenied(_("System templates are read-only: copy one to change it."))
    if not can(actor, template, VIEW):
        raise Http404
    if not can(actor, template, action):
        raise PermissionDenied(_("Only the owner of a template may change or delete it."))


# --------------------------------------------------------------------------- custom templates


@transaction.atomic
def create_template(actor, data: dict) -> PipelineTemplate:
    """A custom template owned by ``actor`` (M1, M2)."""
    cleaned = _clean(actor, data)
    return PipelineTemplate.objects.create(owner=actor, system=False, **cleaned)


@transaction.atomic
def update_template(actor, template: PipelineTemplate, data: dict) -> PipelineTemplate:
    """Change the given basic info and/or definition of the actor's own custom template."""
    _check_owner(actor, template, CHANGE)
    cleaned = _clean(actor, data, template)
    for key, value in cleaned.items():
        setattr(template, key, value)
    template.save()
    return template


def delete_template(actor, template: PipelineTemplate) -> None:
    _check_owner(actor, template, DELETE)
    template.delete()


def copy_name(owner, name: str) -> str:
    base = _("%(name)s - copy") % {"name": name}
    candidate, n = base[:NAME_MAX], 1
    while not _unique_name(owner, candidate):
        n += 1
        candidate = f"{base[: NAME_MAX - 6]} ({n})"
    return candidate


@transaction.atomic
def copy_template(actor, template: PipelineTemplate, name: str | None = None, project=None) -> PipelineTemplate:
    """A custom copy, owned by ``actor``, of any template they see — the way to change a system one (M1).

    Gates on gate templates the actor does not see are left out.
    """
    if not can(actor, template, VIEW):
        raise Http404
    gates = gate_templates_for(actor)
    definition = copy.deepcopy(template.definition if isinstance(template.definition, dict) else {})
    for stage in _list(definition.get("stages")):
        if isinstance(stage, dict) and isinstance(stage.get("gates"), list):
            stage["gates"] = [g for g in stage["gates"] if isinstance(g, dict) and _int(g.get("template")) in gates]
    if project is None and template.project_id and can(actor, template.project, VIEW):
        project = template.project
    data = {
        "name": name or copy_name(actor, template.name),
        "description": template.description,
        "project": project,
        "definition": definition,
    }
    return create_template(actor, data)


def template_data_from_pipeline(pipeline: Pipeline) -> dict:
    return definition_from_pipeline(pipeline.definition or {})


def create_from_pipeline(actor, pipeline: Pipeline, data: dict) -> PipelineTemplate:
    """A custom template from a pipeline the actor sees: its stages and non-secret parameters."""
    if not Pipeline.objects.restrict(actor, VIEW).filter(pk=pipeline.pk).exists():
        raise Http404
    if not isinstance(data, dict):
        data = {}
    payload = {
        "name": data.get("name") or pipeline.name,
        "description": data.get("description", pipeline.description),
        "project": data.get("project", pipeline.project_id),
        "definition": template_data_from_pipeline(pipeline),
    }
    return create_template(actor, payload)


def follow(user, template: PipelineTemplate, on: bool = True) -> None:
    if not can(user, template, VIEW):
        raise Http404
    if on:
        TemplateFollow.objects.get_or_create(template=template, user=user)
    else:
        TemplateFollow.objects.filter(template=template, user=user).delete()


def followed_ids(user) -> set[int]:
    if not getattr(user, "is_authenticated", False):
        return set()
    return set(TemplateFollow.objects.filter(user=user).values_list("template_id", flat=True))


# --------------------------------------------------------------------------- generate a pipeline (M3)


def template_needs(template: PipelineTemplate) -> dict:
    """What generating needs besides name and source: ``kubernetes`` / ``host_group`` deploy targets."""
    targets = set()
    for stage in template.stages:
        tasks = stage.get("tasks") if isinstance(stage, dict) else None
        for task in tasks if isinstance(tasks, list) else []:
            config = task.get("config") if isinstance(task, dict) and task.get("type") == "deploy" else None
            if isinstance(config, dict) and isinstance(config.get("target"), str):
                targets.add(config["target"])
    return {"kubernetes": "kubernetes" in targets, "host_group": "host_group" in targets}


def _sources(raw) -> list:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise ValidationError({"sources": [_("“sources” must be a list of sources (see the pipeline definition).")]})
    return raw


def _parameter_values(template: PipelineTemplate, raw) -> dict[str, str]:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise ValidationError({"parameters": [_("“parameters” must be an object of parameter names and values.")]})
    names = {p.get("name") for p in template.parameters if isinstance(p, dict) and isinstance(p.get("name"), str)}
    errors, out = {}, {}
    for name, value in raw.items():
        key = f"parameters.{str(name)[:64]}"
        if name not in names:
            errors[key] = [_("The template has no parameter “%(name)s”.") % {"name": str(name)[:64]}]
        elif isinstance(value, bool) or not isinstance(value, str | int | float) or not is_text(str(value)):
            errors[key] = [_("Give the value as text.")]
        else:
            out[name] = str(value)
    if errors:
        raise ValidationError(errors)
    return out


def pipeline_definition(actor, template: PipelineTemplate, data: dict) -> dict:
    """The pipeline definition generated from ``template`` with the choices in ``data`` (M3).

    ``data``: ``name``, optional ``description``, ``sources`` (pipeline sources; tasks use the alias
    ``app`` — with one aliased source of another alias, tasks are pointed at it), ``parameters``
    (``{name: default}``), ``deploy`` (``{"endpoint": id, "host_group": name}`` filling every Kubernetes /
    host group deploy task of the template). Manual reviews without reviewers get the actor.
    """
    if not isinstance(data, dict):
        raise ValidationError({ROOT: [_("Send an object with project, name and sources.")]})
    sources = _sources(data.get("sources"))
    values = _parameter_values(template, data.get("parameters"))
    deploy = data.get("deploy") or {}
    if not isinstance(deploy, dict) or set(deploy) - {"endpoint", "host_group"}:
        raise ValidationError({"deploy": [_("“deploy” must be an object with endpoint and host_group.")]})
    aliases = [s.get("alias") for s in sources if isinstance(s, dict) and s.get("alias")]
    alias = TEMPLATE_ALIAS
    if TEMPLATE_ALIAS not in aliases:
        alias = aliases[0] if len(aliases) == 1 else ("" if not aliases else TEMPLATE_ALIAS)
    definition = copy.deepcopy(template.definition if isinstance(template.definition, dict) else {})
    parameters = [p for p in _list(definition.get("parameters")) if isinstance(p, dict)]
    for param in parameters:
        if isinstance(param.get("name"), str) and param["name"] in values:
            param["default"] = values[param["name"]]
    stages = _list(definition.get("stages"))
    for stage in stages:
        for task in _list(stage.get("tasks") if isinstance(stage, dict) else None):
            config = task.get("config") if isinstance(task, dict) else None
            if not isinstance(config, dict):
                continue
            if config.get("source") == TEMPLATE_ALIAS:
                config["source"] = alias
            if task.get("type") == "deploy" and config.get("target") == "kubernetes" and not config.get("endpoint"):
                config["endpoint"] = deploy.get("endpoint")
            if task.get("type") == "deploy" and config.get("target") == "host_group" and not config.get("host_group"):
                config["host_group"] = deploy.get("host_group")
            if task.get("type") == "manual_review" and not config.get("reviewers"):
                config["reviewers"] = [actor.get_username()]
    description = data.get("description")
    return {
        "name": data.get("name"),
        "description": template.description if description is None else description,
        "sources": sources,
        "parameters": parameters,
        "stages": stages,
    }


def generate_pipeline(actor, template: PipelineTemplate, data: dict) -> Pipeline:
    """M3: create a pipeline from ``template`` in ``data["project"]``; the actor becomes its creator.

    The project must be visible (else ``Http404``) and allow the actor to add pipelines (else
    ``PermissionDenied``); the definition is validated as any pipeline's (errors by path).
    """
    if not can(actor, template, VIEW):
        raise Http404
    if not isinstance(data, dict):
        raise ValidationError({ROOT: [_("Send an object with project, name and sources.")]})
    project_id = as_int(data.get("project"))
    if data.get("project") in (None, ""):
        raise ValidationError({"project": [_("Choose the project the pipeline belongs to.")]})
    if project_id is None or not 0 < project_id < 2**31:
        raise ValidationError({"project": [_("Give the id of a project.")]})
    project = get_object_for_action(Project, actor, ADD_PIPELINE, pk=project_id)
    return pipeline_services.create_pipeline(actor, project, pipeline_definition(actor, template, data))


def pipeline_url(pipeline: Pipeline) -> str:
    return f"/projects/{pipeline.project_id}/pipelines/{pipeline.pk}/"
