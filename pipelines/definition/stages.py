"""Stages (P5), tasks (P6), quality gates (P7) and the ``${name}`` references of task configs (R3, R9)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from .base import Checker, DefinitionContext, as_int, item, join
from .control import DELAY_KEYS, MANUAL_REVIEW_KEYS, SUB_PIPELINE_KEYS, delay, manual_review, sub_pipeline
from .deploy import DEPLOY_KEYS, deploy
from .parameters import validate_parameters
from .refs import find_references, iter_strings
from .sources import source_aliases
from .tasks import API_TEST_KEYS, BUILD_KEYS, CODE_CHECK_KEYS, TaskScope, api_test, build, code_check

TASK_TYPES = ("build", "code_check", "api_test", "deploy", "sub_pipeline", "delay", "manual_review")
CONTROL_TASK_TYPES = frozenset({"delay", "manual_review"})
STAGE_KEYS = ("name", "always_run", "manual", "parallel", "tasks", "gates")
TASK_KEYS = ("name", "type", "config", "parameters")
GATE_KEYS = ("template",)
MAX_STAGES = 20
MAX_TASKS = 50
MAX_GATES = 5

#: task type -> (config keys, validator)
CONFIGS = {
    "build": (BUILD_KEYS, build),
    "code_check": (CODE_CHECK_KEYS, code_check),
    "api_test": (API_TEST_KEYS, api_test),
    "deploy": (DEPLOY_KEYS, deploy),
    "sub_pipeline": (SUB_PIPELINE_KEYS, sub_pipeline),
    "delay": (DELAY_KEYS, delay),
    "manual_review": (MANUAL_REVIEW_KEYS, manual_review),
}


def validate_stages(
    c: Checker, raw, ctx: DefinitionContext, sources: list[dict], parameters: list[dict], system_names: list[str]
) -> list[dict]:
    items = c.items({"stages": raw}, "stages", "", limit=MAX_STAGES, what=_l("Stages"))
    aliases = tuple(source_aliases(sources))
    parameter_types = {p["name"]: p["type"] for p in parameters if isinstance(p.get("name"), str)}
    seen: dict[str, int] = {}
    out = []
    for index, value in enumerate(items):
        path = item("stages", index)
        stage = c.obj(value, path, STAGE_KEYS, what=_l("A stage"), required=True)
        if stage is None:
            continue
        name = c.text(stage, "name", path, max_len=100, required=True)
        if name:
            if "/" in name:
                c.add(join(path, "name"), _("Stage names cannot contain “/” (runs select tasks as “stage/task”)."))
            if name in seen:
                c.add(
                    join(path, "name"),
                    _("Stage “%(name)s” already exists (stage %(n)s); stage names must be unique."),
                    name=name,
                    n=seen[name] + 1,
                )
            seen.setdefault(name, index)
        parallel = c.boolean(stage, "parallel", path)
        label = name or f"#{index + 1}"
        tasks = []
        task_names: dict[str, int] = {}
        for t_index, t_value in enumerate(c.items(stage, "tasks", path, limit=MAX_TASKS, what=_l("Tasks"))):
            scope = TaskScope(
                ctx=ctx, stage=label, task=f"#{t_index + 1}", aliases=aliases, parameter_types=parameter_types
            )
            task = _task(
                c, t_value, item(join(path, "tasks"), t_index), t_index, scope, parallel, task_names, system_names
            )
            if task is not None:
                tasks.append(task)
        out.append(
            {
                "name": name,
                "always_run": c.boolean(stage, "always_run", path),
                "manual": c.boolean(stage, "manual", path),
                "parallel": parallel,
                "tasks": tasks,
                "gates": _gates(c, stage, path, ctx),
            }
        )
    return out


def _task(
    c: Checker,
    value,
    path: str,
    index: int,
    scope: TaskScope,
    parallel: bool,
    names: dict[str, int],
    system_names: list[str],
) -> dict | None:
    task = c.obj(value, path, TASK_KEYS, what=_l("A task"), required=True)
    if task is None:
        return None
    name = c.text(task, "name", path, max_len=100, required=True)
    if name:
        if name in names:
            c.add(
                join(path, "name"),
                _(
                    "Task “%(name)s” already exists in this stage (task %(n)s); task names "
                    "must be unique within a stage."
                ),
                name=name,
                n=names[name] + 1,
            )
        names.setdefault(name, index)
        scope = TaskScope(
            ctx=scope.ctx, stage=scope.stage, task=name, aliases=scope.aliases, parameter_types=scope.parameter_types
        )
    kind = c.choice(task, "type", path, TASK_TYPES)
    if kind in CONTROL_TASK_TYPES and parallel:
        c.add(
            path,
            _("%(where)s: control tasks (delay, manual review) are only allowed in serial stages."),
            where=scope.where(),
        )
    own, _secrets = validate_parameters(
        c, task, "parameters", path, scope.ctx, reserved=system_names, pipeline_names=scope.parameter_types.keys()
    )
    config_path = join(path, "config")
    config: dict = {}
    if kind is not None:
        keys, validator = CONFIGS[kind]
        raw = c.obj(task.get("config"), config_path, keys, what=_l("The task configuration"))
        if raw is not None:
            config = validator(c, raw, config_path, scope)
    known = {*system_names, *scope.parameter_types, *(p["name"] for p in own if isinstance(p["name"], str))}
    _check_references(c, iter_strings(config, config_path), known, scope)
    _check_references(
        c, ((join(item(join(path, "parameters"), k), "default"), p["default"]) for k, p in enumerate(own)), known, scope
    )
    return {"name": name, "type": kind, "config": config, "parameters": own}


def _check_references(c: Checker, strings, known: set[str], scope: TaskScope) -> None:
    """R3: every ``${name}`` must be a pipeline, system or task parameter."""
    for path, text in strings:
        for name in dict.fromkeys(find_references(text)):
            if name not in known:
                c.add(
                    path,
                    _(
                        "%(where)s: unknown parameter ${%(name)s}. Define the parameter, or write "
                        "$${%(name)s} for a literal ${%(name)s}."
                    ),
                    where=scope.where(),
                    name=name,
                )


def _gates(c: Checker, stage: dict, path: str, ctx: DefinitionContext) -> list[dict]:
    """P7: up to 5 gates per stage, each from a gate template of the project."""
    out = []
    seen: set[int] = set()
    base = join(path, "gates")
    for index, value in enumerate(c.items(stage, "gates", path, limit=MAX_GATES, what=_l("Quality gates"))):
        p = item(base, index)
        gate = c.obj(value, p, GATE_KEYS, what=_l("A quality gate"), required=True)
        if gate is None:
            continue
        where = join(p, "template")
        template = as_int(gate.get("template"))
        if gate.get("template") in (None, ""):
            c.add(where, _("Choose a gate template."))
        elif template is None:
            c.add(where, _("“Gate template” must be the id (a whole number) of a gate template."))
        elif template not in ctx.gate_templates:
            c.add(where, _("Gate template #%(id)s does not exist or is not available to this project."), id=template)
        elif template in seen:
            c.add(where, _("Gate template #%(id)s is already used by this stage."), id=template)
        if template is not None:
            seen.add(template)
        out.append({"template": template})
    return out
