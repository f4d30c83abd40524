"""Template definitions (M2, R8): the ``parameters`` and ``stages`` of a pipeline definition, validated by
the pipeline validator (``pipelines.definition``) in a *template context*:

- tasks work on one source, the alias ``app`` (``TEMPLATE_ALIAS``); the real source is chosen when a
  pipeline is generated (M3);
- no service endpoints, no host groups, no reviewers: deploy ``endpoint`` / ``host_group`` and manual
  review ``reviewers`` stay empty and are chosen when generating (``services.pipeline_definition``);
- parameters are string, enum or auto-increment, never secret (R8); no sub-pipeline tasks (they point
  at a pipeline of one project).

The validator needs those values, so placeholders stand in for them during validation and are removed
from the normalized result. Errors use the pipeline's paths (``stages[1].tasks[0].config.commands``).
"""

from __future__ import annotations

import copy
import re

from django.utils.translation import gettext as _

from pipelines.definition import ROOT, DefinitionContext, DefinitionError, find_references, validate_definition
from pipelines.definition.refs import ALIAS_SUFFIXES, iter_strings

TEMPLATE_ALIAS = "app"
TEMPLATE_KEYS = ("parameters", "stages")
TEMPLATE_PARAMETER_TYPES = ("string", "enum", "auto_increment")
TEMPLATE_TASK_TYPES = ("build", "code_check", "api_test", "deploy", "delay", "manual_review")

_GIT_ENDPOINT = -1  # placeholders: ids no real row has, names no user can write here
_K8S_ENDPOINT = -2
_HOST_GROUP = "template-host-group"
_REVIEWER = "template-reviewer"


class TemplateError(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__(next(iter(errors.values()), [""])[0])


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _add(errors: dict, path: str, message: str) -> None:
    errors.setdefault(path, []).append(message)


def _check_parameters(raw_parameters, errors: dict) -> list | None:
    """R8 before the validator runs: refused types and secrets get one clear message each."""
    if not isinstance(raw_parameters, list):
        return raw_parameters
    out = []
    for index, param in enumerate(raw_parameters):
        if isinstance(param, dict):
            param = dict(param)
            path = f"parameters[{index}]"
            if param.get("type") == "host_group":
                _add(
                    errors,
                    f"{path}.type",
                    _(
                        "Template parameters can be string, enum or auto-increment (R8); "
                        "host groups are chosen when a pipeline is generated."
                    ),
                )
                param["type"] = "string"
            if param.get("secret") is True:
                _add(
                    errors,
                    f"{path}.secret",
                    _(
                        "Template parameters cannot be secret: add the secret parameter "
                        "to the pipeline after generating it."
                    ),
                )
                param["secret"] = False
        out.append(param)
    return out


def _check_stages(raw_stages, errors: dict) -> tuple[object, list[tuple[int, int, str]], set[str]]:
    """Fill placeholders for what is chosen at generation; return (stages, filled tasks, ignored paths)."""
    if not isinstance(raw_stages, list):
        return raw_stages, [], set()
    stages = copy.deepcopy(raw_stages)
    filled: list[tuple[int, int, str]] = []
    ignored: set[str] = set()
    for s_index, stage in enumerate(stages):
        if not isinstance(stage, dict):
            continue
        for t_index, task in enumerate(_list(stage.get("tasks"))):
            if not isinstance(task, dict):
                continue
            path = f"stages[{s_index}].tasks[{t_index}]"
            kind = task.get("type")
            if kind == "sub_pipeline":
                _add(
                    errors,
                    f"{path}.type",
                    _(
                        "Templates cannot call sub-pipelines: a sub-pipeline belongs to one "
                        "project. Add it to the pipeline after generating it."
                    ),
                )
                ignored.add(f"{path}.config")
                continue
            config = task.get("config")
            if not isinstance(config, dict):
                continue
            if kind == "deploy":
                if config.get("endpoint") not in (None, ""):
                    _add(
                        errors,
                        f"{path}.config.endpoint",
                        _(
                            "Leave the service endpoint empty: it is chosen "
                            "when a pipeline is generated from the template."
                        ),
                    )
                if config.get("host_group") not in (None, ""):
                    _add(
                        errors,
                        f"{path}.config.host_group",
                        _("Leave the host group empty: it is chosen when a pipeline is generated from the template."),
                    )
                if config.get("target") == "kubernetes":
                    task["config"] = {**config, "endpoint": _K8S_ENDPOINT}
                    filled.append((s_index, t_index, "endpoint"))
                elif config.get("target") == "host_group":
                    task["config"] = {**config, "host_group": _HOST_GROUP}
                    filled.append((s_index, t_index, "host_group"))
            elif kind == "manual_review":
                if config.get("reviewers") not in (None, "", []):
                    _add(
                        errors,
                        f"{path}.config.reviewers",
                        _("Leave the reviewers empty: they are project members, chosen when a pipeline is generated."),
                    )
                task["config"] = {**config, "reviewers": [_REVIEWER]}
                filled.append((s_index, t_index, "reviewers"))
    return stages, filled, ignored


def validate_template_definition(data, gate_templates=frozenset()) -> dict:
    """The normalized ``{"parameters", "stages"}`` of a template, or ``TemplateError`` with every error by path.

    ``gate_templates``: ids of the gate templates the template may use (those its owner sees).
    """
    errors: dict[str, list[str]] = {}
    if not isinstance(data, dict):
        raise TemplateError({ROOT: [_("The template definition must be an object with parameters and stages.")]})
    for key in data:
        if key not in TEMPLATE_KEYS:
            _add(
                errors,
                str(key)[:64],
                _("Unknown field “%(key)s”; a template definition has parameters and stages.") % {"key": str(key)[:64]},
            )
    parameters = _check_parameters(data.get("parameters"), errors)
    stages, filled, ignored = _check_stages(data.get("stages"), errors)
    document = {
        "name": "template",
        "sources": [
            {
                "kind": "git",
                "alias": TEMPLATE_ALIAS,
                "endpoint": _GIT_ENDPOINT,
                "repository": "template/app",
                "default_branch": "main",
            }
        ],
        "parameters": parameters,
        "stages": stages,
    }
    context = DefinitionContext(
        endpoints={_GIT_ENDPOINT: "git", _K8S_ENDPOINT: "kubernetes"},
        host_groups=frozenset({_HOST_GROUP}),
        gate_templates=frozenset(gate_templates),
        members=frozenset({_REVIEWER}),
    )
    normalized = None
    try:
        normalized, _secrets = validate_definition(document, context)
    except DefinitionError as exc:
        for path, messages in exc.errors.items():
            if not any(path.startswith(prefix) for prefix in ignored):
                for message in messages:
                    if message not in errors.get(path, []):
                        _add(errors, path, message)
    if errors or normalized is None:
        raise TemplateError(errors or {ROOT: [_("The template definition is invalid.")]})
    for s_index, t_index, key in filled:
        config = normalized["stages"][s_index]["tasks"][t_index]["config"]
        config[key] = [] if key == "reviewers" else (None if key == "endpoint" else "")
    return {"parameters": normalized["parameters"], "stages": normalized["stages"]}


# --------------------------------------------------------------------------- from a pipeline


def _rename_alias(value, alias: str):
    """Every string in ``value`` with ``${<alias>_SUFFIX}`` (R2) renamed to ``${app_SUFFIX}``."""
    if alias == TEMPLATE_ALIAS:
        return value
    pattern = re.compile(r"\$\{" + re.escape(alias) + "_(" + "|".join(ALIAS_SUFFIXES) + r")\}")
    if isinstance(value, str):
        return pattern.sub(lambda m: "${" + TEMPLATE_ALIAS + "_" + m.group(1) + "}", value)
    if isinstance(value, dict):
        return {k: _rename_alias(v, alias) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename_alias(v, alias) for v in value]
    return value


def definition_from_pipeline(pipeline_definition: dict) -> dict:
    """A template definition from a (stored) pipeline definition: its stages and non-secret parameters.

    Sources become the alias ``app``; endpoints, host groups and reviewers are emptied; sub-pipeline
    tasks are left out; secret and host-group parameters are dropped (R8), and any of them that a task
    still references comes back as an empty string parameter to fill in.
    """
    sources = [s for s in _list(pipeline_definition.get("sources")) if isinstance(s, dict) and s.get("alias")]
    sources = [s for s in sources if isinstance(s["alias"], str)]
    main_alias = sources[0]["alias"] if sources else TEMPLATE_ALIAS
    stages = []
    for stage in _list(pipeline_definition.get("stages")):
        if not isinstance(stage, dict):
            continue
        tasks = []
        for task in _list(stage.get("tasks")):
            if not isinstance(task, dict) or task.get("type") not in TEMPLATE_TASK_TYPES:
                continue
            config = dict(task["config"]) if isinstance(task.get("config"), dict) else {}
            if config.get("source") or task.get("type") == "build":  # a template's builds need its source
                config["source"] = TEMPLATE_ALIAS
            if task.get("type") == "deploy":
                config.pop("endpoint", None)
                config.pop("host_group", None)
            if task.get("type") == "manual_review":
                config["reviewers"] = []
            tasks.append(_rename_alias({**task, "config": config}, main_alias))
        stages.append({**stage, "tasks": tasks})
    kept, dropped = [], []
    for param in _list(pipeline_definition.get("parameters")):
        if not isinstance(param, dict):
            continue
        if param.get("secret") or param.get("type") not in TEMPLATE_PARAMETER_TYPES:
            dropped.append(param.get("name"))
        else:
            kept.append({k: v for k, v in param.items() if k != "value_set"})
    used = {name for _path, text in iter_strings(stages) for name in find_references(text)}
    for name in dropped:
        if isinstance(name, str) and name in used:
            kept.append(
                {
                    "name": name,
                    "type": "string",
                    "default": "",
                    "runtime": True,
                    "description": _("Was a secret or host group parameter of the pipeline: set it after generating."),
                }
            )
    return {"parameters": kept, "stages": stages}
