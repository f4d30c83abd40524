"""Edits of a pipeline definition's workflow (P5 stages, P6 tasks, P7 gates, R9 task parameters).

Pure functions: each takes a definition dict and returns a *new* dict (the input is never changed) with
one edit applied. They only refuse what is not an edit at all (an index out of range, reordering inside a
parallel stage) by raising ``WorkflowError``; everything else — names, configs, control tasks in parallel
stages, gate templates — is left to ``pipelines.definition`` through ``services.update_pipeline``, so all
validation stays in one place.
"""

from __future__ import annotations

import copy

from django.utils.translation import gettext as _

NAME_MAX_LEN = 100


class WorkflowError(ValueError):
    """An edit that cannot be applied to this definition."""


def _stages(definition: dict) -> list[dict]:
    stages = definition.get("stages")
    return stages if isinstance(stages, list) else []


def _new(definition: dict) -> tuple[dict, list[dict]]:
    new = copy.deepcopy(definition)
    new["stages"] = _stages(new)
    return new, new["stages"]


def stage_at(definition: dict, index: int) -> dict:
    stages = _stages(definition)
    if not isinstance(index, int) or not 0 <= index < len(stages) or not isinstance(stages[index], dict):
        raise WorkflowError(_("There is no stage %(n)s; reload the workflow.") % {"n": index + 1})
    return stages[index]


def task_at(definition: dict, stage: int, index: int) -> dict:
    tasks = stage_at(definition, stage).get("tasks") or []
    if not isinstance(index, int) or not 0 <= index < len(tasks) or not isinstance(tasks[index], dict):
        raise WorkflowError(_("There is no task %(n)s in this stage; reload the workflow.") % {"n": index + 1})
    return tasks[index]


def copy_name(name: str, taken) -> str:
    """“<name> copy”, then “<name> copy 2”, … — the first not in ``taken``, at most 100 characters."""
    taken = set(taken)
    base = _("%(name)s copy") % {"name": name or ""}
    candidate, n = base[:NAME_MAX_LEN], 1
    while candidate in taken:
        n += 1
        suffix = f" {n}"
        candidate = base[: NAME_MAX_LEN - len(suffix)] + suffix
    return candidate


def blank_stage(name: str = "", *, always_run=False, manual=False, parallel=False) -> dict:
    return {"name": name, "always_run": always_run, "manual": manual, "parallel": parallel, "tasks": [], "gates": []}


# --------------------------------------------------------------------------- stages (P5)


def add_stage(definition: dict, stage: dict, position: int | None = None) -> dict:
    """Insert ``stage`` (name and flags; tasks and gates default empty) at ``position`` (default: last)."""
    new, stages = _new(definition)
    stage = {**blank_stage(), **copy.deepcopy(stage)}
    stages.insert(len(stages) if position is None else max(0, min(position, len(stages))), stage)
    return new


def edit_stage(definition: dict, index: int, changes: dict) -> dict:
    """Change a stage's name and flags (``changes`` may also carry tasks or gates)."""
    stage_at(definition, index)
    new, stages = _new(definition)
    stages[index] = {**stages[index], **copy.deepcopy(changes)}
    return new


def delete_stage(definition: dict, index: int) -> dict:
    stage_at(definition, index)
    new, stages = _new(definition)
    del stages[index]
    return new


def copy_stage(definition: dict, index: int) -> dict:
    """A copy named “<name> copy” right after the original, with its tasks and gates."""
    original = stage_at(definition, index)
    new, stages = _new(definition)
    duplicate = copy.deepcopy(original)
    duplicate["name"] = copy_name(original.get("name") or "", (s.get("name") for s in stages if isinstance(s, dict)))
    stages.insert(index + 1, duplicate)
    return new


def move_stage(definition: dict, index: int, offset: int) -> dict:
    """Move a stage ``offset`` places (-1 left, +1 right)."""
    stage_at(definition, index)
    target = index + offset
    if not 0 <= target < len(_stages(definition)):
        raise WorkflowError(
            _("The stage is already the first one.") if offset < 0 else _("The stage is already the last one.")
        )
    new, stages = _new(definition)
    stages.insert(target, stages.pop(index))
    return new


# --------------------------------------------------------------------------- tasks (P6)


def _tasks(stage: dict) -> list[dict]:
    if not isinstance(stage.get("tasks"), list):
        stage["tasks"] = []
    return stage["tasks"]


def add_task(definition: dict, stage: int, task: dict, position: int | None = None) -> dict:
    stage_at(definition, stage)
    new, stages = _new(definition)
    tasks = _tasks(stages[stage])
    tasks.insert(len(tasks) if position is None else max(0, min(position, len(tasks))), copy.deepcopy(task))
    return new


def edit_task(definition: dict, stage: int, index: int, task: dict) -> dict:
    task_at(definition, stage, index)
    new, stages = _new(definition)
    _tasks(stages[stage])[index] = copy.deepcopy(task)
    return new


def delete_task(definition: dict, stage: int, index: int) -> dict:
    task_at(definition, stage, index)
    new, stages = _new(definition)
    del _tasks(stages[stage])[index]
    return new


def copy_task(definition: dict, stage: int, index: int) -> dict:
    """A copy named “<name> copy” right after the original, in the same stage."""
    original = task_at(definition, stage, index)
    new, stages = _new(definition)
    tasks = _tasks(stages[stage])
    duplicate = copy.deepcopy(original)
    duplicate["name"] = copy_name(original.get("name") or "", (t.get("name") for t in tasks if isinstance(t, dict)))
    tasks.insert(index + 1, duplicate)
    return new


def move_task(definition: dict, stage: int, index: int, offset: int) -> dict:
    """Move a task ``offset`` places (-1 up, +1 down) — refused in a parallel stage (P6)."""
    task_at(definition, stage, index)
    if stage_at(definition, stage).get("parallel"):
        raise WorkflowError(
            _(
                "Tasks of a parallel stage all start at the same time, so their order cannot be changed. "
                "Make the stage serial first."
            )
        )
    target = index + offset
    if not 0 <= target < len(stage_at(definition, stage).get("tasks") or []):
        raise WorkflowError(
            _("The task is already the first one.") if offset < 0 else _("The task is already the last one.")
        )
    new, stages = _new(definition)
    tasks = _tasks(stages[stage])
    tasks.insert(target, tasks.pop(index))
    return new


def promote_task_parameter(definition: dict, stage: int, index: int, name: str) -> dict:
    """R9: move a task's parameter to the pipeline's parameters (runtime), where ``${name}`` still finds it."""
    task = task_at(definition, stage, index)
    params = [p for p in task.get("parameters") or [] if isinstance(p, dict)]
    found = next((p for p in params if p.get("name") == name), None)
    if found is None:
        raise WorkflowError(_("The task has no parameter “%(name)s”.") % {"name": name})
    pipeline_params = definition.get("parameters") if isinstance(definition.get("parameters"), list) else []
    if any(isinstance(p, dict) and p.get("name") == name for p in pipeline_params):
        raise WorkflowError(_("The pipeline already has a parameter “%(name)s”.") % {"name": name})
    new, stages = _new(definition)
    new_task = _tasks(stages[stage])[index]
    new_task["parameters"] = [
        p for p in new_task.get("parameters") or [] if not (isinstance(p, dict) and p.get("name") == name)
    ]
    promoted = {
        "name": name,
        "type": found.get("type") or "string",
        "default": found.get("default") or "",
        "choices": list(found.get("choices") or []),
        "secret": False,
        "runtime": True,
        "description": found.get("description") or "",
    }
    new["parameters"] = [*copy.deepcopy(pipeline_params), promoted]
    return new


# --------------------------------------------------------------------------- quality gates (P7)


def set_gates(definition: dict, stage: int, template_ids) -> dict:
    """The stage's gates become one per template id, in the given order (empty: no gate)."""
    stage_at(definition, stage)
    new, stages = _new(definition)
    stages[stage]["gates"] = [{"template": template} for template in dict.fromkeys(template_ids)]
    return new
