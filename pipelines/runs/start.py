"""Starting runs (X1, X3, R2, R5, R6): validate the request, freeze the definition, number the run
gap-free, take auto-increment values under the pipeline's row lock, and queue it. ``dispatch``
promotes queued runs in FIFO order while fewer than the limit execute (X3)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from devops_console.core.prepared import Prepared, first, save_fields, saves_together
from pipelines.definition import referenced_parameters
from pipelines.models import Pipeline
from pipelines.runs.models import ACTIVE, Run, RunSecret, StageRun, State, TaskRun, Trigger

GATE_TASK_TYPES = {"code_check", "api_test"}
_TRAILING_NUMBER = re.compile(r"^(.*?)(\d+)$")


def increment(value: str) -> str | None:
    """R6: 1.0.0 → 1.0.1; a value that does not end in a digit never increments."""
    match = _TRAILING_NUMBER.match(value or "")
    if not match:
        return None
    digits = match.group(2)
    return match.group(1) + str(int(digits) + 1).zfill(len(digits))


def _resolve_selection(definition: dict, requested) -> tuple[set[str], dict]:
    """X1: default all; always-run stages stay selected; gate tasks run when any task of their stage runs."""
    errors: dict[str, list[str]] = {}
    all_keys = [f"{s['name']}/{t['name']}" for s in definition["stages"] for t in s["tasks"]]
    if requested in (None, []):
        return set(all_keys), errors
    if not isinstance(requested, list) or not all(isinstance(k, str) for k in requested):
        return set(), {"tasks": [_("Give a list of “<stage>/<task>” names.")]}
    unknown = sorted(set(requested) - set(all_keys))
    if unknown:
        errors["tasks"] = [_("Unknown tasks: %(names)s.") % {"names": ", ".join(unknown[:10])}]
    selected = set(requested) & set(all_keys)
    for stage in definition["stages"]:
        keys = {f"{stage['name']}/{t['name']}" for t in stage["tasks"]}
        if stage.get("always_run"):
            selected |= keys
        if stage.get("gates") and keys & selected:
            selected |= {f"{stage['name']}/{t['name']}" for t in stage["tasks"] if t["type"] in GATE_TASK_TYPES}
    if not selected and not errors:
        errors["tasks"] = [_("Select at least one task.")]
    return selected, errors


def _resolve_parameters(definition: dict, given) -> tuple[dict, dict, dict]:
    """Runtime values only for runtime parameters (X1); enum values within their choices (R5)."""
    errors: dict[str, list[str]] = {}
    given = given or {}
    if not isinstance(given, dict):
        return {}, {}, {"parameters": [_("Give an object of parameter names and values.")]}
    params = {p["name"]: p for p in definition["parameters"]}
    values, secrets = {}, {}
    for name, value in given.items():
        param = params.get(name)
        key = f"parameters.{name}"[:100]
        if param is None:
            errors[key] = [_("No parameter called %(name)s.") % {"name": str(name)[:64]}]
        elif not param.get("runtime"):
            errors[key] = [
                _("%(name)s is not a runtime parameter; it cannot be set when a run starts.") % {"name": name}
            ]
        elif not isinstance(value, str) or len(value) > 1000:
            errors[key] = [_("Give a text value of at most 1000 characters.")]
        elif param["type"] == "enum" and value not in param["choices"]:
            errors[key] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(param["choices"])}]
        elif param.get("secret"):
            secrets[name] = value
        else:
            values[name] = value
    return values, secrets, errors


def _resolve_ref(definition: dict, branch, tag) -> tuple[str, str, dict]:
    errors: dict[str, list[str]] = {}
    repo_sources = [s for s in definition["sources"] if s.get("kind") in ("repo", "git", "github_app")]
    if branch and tag:
        errors["tag"] = [_("Choose a branch or a tag, not both.")]
    if tag and not repo_sources:
        errors["tag"] = [_("Tags can only be chosen for repository sources.")]
    for value, field in ((branch, "branch"), (tag, "tag")):
        if value is not None and (not isinstance(value, str) or len(value) > 255 or " " in value or ".." in value):
            errors[field] = [_("Not a valid Git ref name.")]
    if not branch and not tag and repo_sources:
        branch = repo_sources[0].get("default_branch", "")
    return branch or "", tag or "", errors


def start_run(actor, pipeline: Pipeline, *, branch=None, tag=None, **options) -> Run:
    """Create a queued run from the pipeline's current definition. The caller checked EXECUTE.

    The sources are resolved first, outside the transaction (network: git ls-remote, the registry;
    ``pipelines.runs.sources``), then the run is created under the pipeline's row lock.
    """
    from pipelines.runs.sources import resolve_sources

    # The caller's copy of the definition is usually current (it was just loaded); _create_run checks the
    # sources again under the lock, and a stale copy costs one more resolution from a fresh read.
    current = None if "definition" in pipeline.get_deferred_fields() else pipeline.definition
    for _attempt in range(2):
        current = current if current is not None else Pipeline.objects.get(pk=pipeline.pk).definition
        ref_branch, ref_tag, ref_errors = _resolve_ref(current, branch, tag)
        resolution = resolve_sources(actor, pipeline, current, ref_branch, ref_tag, check=not ref_errors)
        try:
            return _create_run(actor, pipeline, branch=branch, tag=tag, resolution=resolution, **options)
        except SourcesChanged:
            current = None
    message = _("The pipeline's sources changed while the run was starting; start it again.")
    raise ValidationError({"sources": [message]})


class SourcesChanged(Exception):
    """The definition's sources changed between their resolution and the run's creation."""


@transaction.atomic
def _create_run(actor, pipeline: Pipeline, *, resolution, **options) -> Run:
    """One run, under its pipeline's row lock (``start_runs`` creates several in one transaction)."""
    pipeline = first(_LOCKED_DEFINITION(pipeline.pk))
    if pipeline is None:
        raise Pipeline.DoesNotExist("The pipeline was deleted.")
    request = _prepare(actor, pipeline, resolution=resolution, **options)
    _add([request], {pipeline.pk: _Slots(pipeline, *_slots(pipeline.pk))})
    return request.run


@dataclass
class _Request:
    """A run validated under its pipeline's lock, not saved yet, with what its insert needs."""

    run: Run
    secrets: dict
    selected: set[str]


def _prepare(
    actor,
    pipeline: Pipeline,
    *,
    branch=None,
    tag=None,
    resolution,
    parameters=None,
    tasks=None,
    trigger: str = Trigger.MANUAL,
    trigger_detail: dict | None = None,
    parent_task=None,
    check_ref=None,
    ref_info: dict | None = None,
) -> _Request:
    """Validate a start against the locked pipeline's definition (ValidationError: nothing changed) and freeze
    it into an unsaved run; takes its auto-increment values (R6). SourcesChanged: resolve them again."""
    definition = copy.deepcopy(pipeline.definition)
    branch, tag, errors = _resolve_ref(definition, branch, tag)
    selected, selection_errors = _resolve_selection(definition, tasks)
    values, secrets, param_errors = _resolve_parameters(definition, parameters)
    errors.update(selection_errors)
    errors.update(param_errors)
    if check_ref is not None and not errors:
        errors.update(check_ref(definition, branch, tag))
    if not resolution.matches(definition):
        raise SourcesChanged
    for key, messages in resolution.errors.items():
        errors.setdefault(key, messages)
    if errors:
        raise ValidationError(errors)
    values = _take_auto_increments(pipeline, definition, values)
    sources, commit_id, commit_message = _apply_ref_info(definition, resolution, ref_info)
    run = Run(
        pipeline=pipeline,
        trigger=trigger,
        trigger_detail=trigger_detail or {},
        triggered_by=actor,
        branch=branch,
        tag=tag,
        selected_tasks=sorted(selected),
        parameters=values,
        snapshot=definition,
        sources=sources,
        commit_id=commit_id,
        commit_message=commit_message,
        parent_task=parent_task,
    )
    return _Request(run, secrets, selected)


class _Slots:
    """A locked pipeline's next number and X3 slots while runs are added to it in one transaction."""

    def __init__(self, pipeline: Pipeline, number: int, active: int, queued: bool):
        self.pipeline, self.number, self.active, self.queued = pipeline, number, active, queued

    def take(self) -> tuple[int, bool, bool]:
        """(the run's number, whether it starts now, whether it waits and a dispatch must follow the commit)."""
        number, limit = self.number, max_concurrent(self.pipeline)
        self.number += 1
        start_now = not self.queued and self.active < limit  # X3: a free slot and nobody ahead in the queue
        # X3: it waits. First in the queue: a run finishing meanwhile may have looked for queued runs
        # (engine.has_queued) before this commit and found none, so look again after it. Behind others with
        # a slot free: an earlier promotion failed, so catch up. Behind others with every slot taken there
        # is nothing to do: a finishing run sees them and dispatches after this commit.
        dispatch = not start_now and (not self.queued or self.active < limit)
        if start_now:
            self.active += 1
        else:
            self.queued = True
        return number, start_now, dispatch


def _add(requests: list[_Request], slots: dict[int, _Slots]) -> None:
    """Number the runs, insert them with their stages and tasks (one insert each for all of them) and start
    those with a free slot; in the caller's transaction, which holds their pipelines' locks."""
    now, starting, dispatch = timezone.now(), [], set()
    for request in requests:
        run = request.run
        run.number, start_now, dispatch_after = slots[run.pipeline_id].take()
        run.state, run.started = (State.RUNNING, now) if start_now else (State.QUEUED, None)
        if start_now:
            starting.append(request)
        elif dispatch_after:
            dispatch.add(run.pipeline_id)
    Run.objects.bulk_create([request.run for request in requests])
    RunSecret.objects.bulk_create(
        [RunSecret(run=r.run, name=name, value=value) for r in requests for name, value in r.secrets.items()]
    )
    stages = _create_stage_and_task_runs(requests)
    with saves_together():  # the rows were just inserted: their first stage and task marked started together
        for request in starting:
            _start_promoted(request.run, stages[request.run.pk], now)
    for pipeline_id in sorted(dispatch):
        transaction.on_commit(lambda pipeline_id=pipeline_id: _dispatch_later(pipeline_id))


def start_runs(starts: list[tuple]) -> list:
    """Several runs, of one or many pipelines, in one transaction: ``starts`` are ``(actor, pipeline,
    options)`` as for ``start_run`` (the caller checked EXECUTE). For a burst of schedules: the pipelines are
    locked with one statement, numbered with one, and their runs, stages and tasks inserted with one each.

    Returns, in order, each start's run or the ``ValidationError`` that refused it (nothing of it changed).
    A start whose sources changed while it was resolved, or whose pipeline is gone, is done on its own
    after the commit (``start_run``; its exception, if any, is its result)."""
    from pipelines.runs.sources import resolve_sources

    resolutions = []
    for actor, pipeline, options in starts:  # outside the transaction (network), as start_run does
        branch, tag, errors = _resolve_ref(pipeline.definition, options.get("branch"), options.get("tag"))
        resolutions.append(resolve_sources(actor, pipeline, pipeline.definition, branch, tag, check=not errors))
    results: list = [None] * len(starts)
    with transaction.atomic():
        ids = sorted({pipeline.pk for _actor, pipeline, _options in starts})
        locked = {p.pk: p for p in Pipeline.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
        requests = []
        for index, ((actor, pipeline, options), resolution) in enumerate(zip(starts, resolutions, strict=True)):
            if pipeline.pk not in locked:
                continue
            try:
                requests.append((index, _prepare(actor, locked[pipeline.pk], resolution=resolution, **options)))
            except ValidationError as exc:
                results[index] = exc
            except SourcesChanged:
                pass
        _add([request for _index, request in requests], _slots_of(list(locked.values())))
        for index, request in requests:
            results[index] = request.run
    for index, (actor, pipeline, options) in enumerate(starts):
        if results[index] is None:  # sources changed, or the pipeline is gone: as a single start would
            try:
                results[index] = start_run(actor, pipeline, **options)
            except Exception as exc:  # noqa: BLE001 — the caller records each start's outcome
                results[index] = exc
    return results


def _slot_columns() -> dict:
    """A pipeline's last run number, runs holding a slot (X3) and whether one is queued, as columns. Read once
    its lock is held, in a statement of their own: PostgreSQL evaluates a locking statement's subqueries before
    it waits for the lock. Only the runs holding a slot are counted, not the queue: counting a queue of
    thousands would make every start and promotion slower the longer it grows."""
    runs = Run.objects.filter(pipeline_id=OuterRef("pk"))
    active = runs.filter(state__in=ACTIVE).order_by().values("pipeline_id").annotate(n=Count("pk")).values("n")
    return {
        "last": Subquery(runs.order_by("-number").values("number")[:1]),
        "active": Coalesce(Subquery(active), 0),
        "queued": Exists(runs.filter(state=State.QUEUED)),
    }


# Prepared (compiled once, ``devops_console.core.prepared``): they run for every start and every promotion.
_ACTIVE = Prepared(
    lambda pipeline_id: (
        Pipeline.objects.filter(pk=pipeline_id).annotate(active=_slot_columns()["active"]).values_list("active")
    )
)
_LOCKED_PIPELINE = Prepared(
    lambda pipeline_id: (
        Pipeline.objects.select_for_update()
        .filter(pk=pipeline_id)
        .only("pk", "project_id", "creator_id", "max_concurrent_runs")  # not the definition: the runs have snapshots
        .order_by()
    )
)
_LOCKED_DEFINITION = Prepared(
    lambda pipeline_id: Pipeline.objects.select_for_update().filter(pk=pipeline_id).order_by()
)
_SLOT_NAMES = ("last", "active", "queued")
_SLOTS = Prepared(
    lambda pipeline_id: (
        Pipeline.objects.filter(pk=pipeline_id).annotate(**_slot_columns()).values_list(*_SLOT_NAMES).order_by()
    )
)
_NEXT_QUEUED: dict[int, Prepared] = {}  # by how many: the limit is part of the SQL


def _next_queued(pipeline_id: int, count: int) -> list[Run]:
    """X3: the ``count`` oldest queued runs of the pipeline (FIFO by number)."""
    prepared = _NEXT_QUEUED.get(count)
    if prepared is None:
        queued = Run.objects.filter(state=State.QUEUED).order_by("number")
        prepared = Prepared(lambda pipeline_id: queued.filter(pipeline_id=pipeline_id)[:count])
        prepared = _NEXT_QUEUED.setdefault(count, prepared)
    return prepared(pipeline_id)


def _active(pipeline_id: int) -> int:
    """Runs of the pipeline executing or waiting (holding a slot, X3); the caller holds its lock."""
    return _ACTIVE(pipeline_id)[0][0]


def _slots(pipeline_id: int) -> tuple[int, int, bool]:
    """(the next run's number, runs holding a slot, whether any run is queued); the caller holds the lock."""
    last, active, queued = _SLOTS(pipeline_id)[0]
    return (last or 0) + 1, active, bool(queued)


def _slots_of(pipelines: list[Pipeline]) -> dict[int, _Slots]:
    """``_slots`` of several locked pipelines, in one statement."""
    by_pk = {p.pk: p for p in pipelines}
    rows = Pipeline.objects.filter(pk__in=list(by_pk)).annotate(**_slot_columns()).values_list("pk", *_SLOT_NAMES)
    return {pk: _Slots(by_pk[pk], (last or 0) + 1, active, bool(queued)) for pk, last, active, queued in rows}


def _start_promoted(run: Run, stages: list[StageRun], now) -> bool:
    """A run just promoted to running (in the caller's transaction): preflight, then its first tasks start.
    False when preflight failed the run."""
    from pipelines.runs.engine import advance_loaded
    from pipelines.runs.preflight import admit

    if not admit([run]):  # beyond: a run whose endpoints cannot be used fails here, before any task
        return False
    advance_loaded(run, stages, now)
    return True


REF_INFO_KEYS = ("source_branch", "target_branch", "tag", "commit_id")


def _apply_ref_info(definition: dict, resolution, ref_info: dict | None) -> tuple[dict, str, str]:
    """What started the run (a webhook: the pushed commit, MR branches; R2) over the resolved sources:
    ``ref_info`` keys ``source_branch``, ``target_branch``, ``tag``, ``commit_id`` go to the primary
    repository alias's ``run.sources`` entry, ``commit_id`` / ``commit_message`` to the run."""
    sources, commit_id = dict(resolution.sources), resolution.commit_id
    if not ref_info:
        return sources, commit_id, ""
    from pipelines.runs.sources import primary_alias

    alias = primary_alias(definition)
    given = {key: str(ref_info[key]) for key in REF_INFO_KEYS if ref_info.get(key)}
    if alias and given:
        sources[alias] = {**sources.get(alias, {}), **given}
    return sources, given.get("commit_id") or commit_id, str(ref_info.get("commit_message") or "")[:500]


def _take_auto_increments(pipeline: Pipeline, definition: dict, values: dict) -> dict:
    """R6: each fresh run whose tasks reference an auto-increment runtime parameter takes the stored value
    and bumps it, under the pipeline row lock — so concurrent runs never share a version."""
    used = referenced_parameters(definition)
    changed = False
    stored = pipeline.definition
    for param in stored["parameters"]:
        if param["type"] != "auto_increment":
            continue
        current = values.get(param["name"], param["default"])
        values[param["name"]] = current
        nxt = increment(current) if param.get("runtime") and param["name"] in used else None
        if nxt is not None:
            param["default"] = nxt
            changed = True
    if changed:
        Pipeline.objects.filter(pk=pipeline.pk).update(definition=stored)
    return values


def _create_stage_and_task_runs(requests: list[_Request]) -> dict[int, list[StageRun]]:
    """One insert for the stages of all the runs and one for their tasks; returns each run's stages (by run
    id) as ``engine.load_stages`` does."""
    plan = [(r.run, stage, r.selected) for r in requests for stage in enumerate(r.run.snapshot["stages"])]
    stages = StageRun.objects.bulk_create(
        [
            StageRun(run=run, index=s_index, name=stage["name"], manual=stage["manual"], parallel=stage["parallel"])
            for run, (s_index, stage), _selected in plan
        ]
    )
    by_run: dict[int, list[StageRun]] = {r.run.pk: [] for r in requests}
    for stage_run, (run, (_s_index, stage), selected) in zip(stages, plan, strict=True):
        stage_run.run = run
        stage_run.loaded_tasks = [
            TaskRun(
                stage=stage_run,
                index=t_index,
                name=task["name"],
                type=task["type"],
                selected=f"{stage['name']}/{task['name']}" in selected,
            )
            for t_index, task in enumerate(stage["tasks"])
        ]
        by_run[run.pk].append(stage_run)
    TaskRun.objects.bulk_create([task for stage in stages for task in stage.loaded_tasks])
    return by_run


def _dispatch_later(pipeline_id: int) -> None:
    """Promote right away when a slot is free (one broker hop less per run); the worker's dispatch task
    is the fallback when that fails, so a start is never lost."""
    try:
        dispatch(pipeline_id)
    except Exception:  # noqa: BLE001 — e.g. a locked database: let a worker retry it
        from pipelines.runs.tasks import dispatch_runs

        dispatch_runs.delay(pipeline_id)


def max_concurrent(pipeline: Pipeline) -> int:
    """X3: per pipeline (default 5), never above the deployment's cap."""
    return max(1, min(pipeline.max_concurrent_runs, settings.PIPELINE_MAX_CONCURRENT_RUNS_CAP))


@transaction.atomic
def dispatch(pipeline_id: int) -> list[int]:
    """X3: promote the oldest queued runs while fewer than the limit are running or waiting."""
    return promote(pipeline_id)


def promote(pipeline_id: int) -> list[int]:
    """``dispatch`` in the caller's transaction (``engine.finish_task`` hands a finished run's slot on)."""
    pipeline = first(_LOCKED_PIPELINE(pipeline_id))
    if pipeline is None:
        return []  # deleted meanwhile, with its runs
    free = max_concurrent(pipeline) - _active(pipeline.pk)
    promoted = _next_queued(pipeline.pk, free) if free > 0 else []
    if not promoted:
        return []
    now = timezone.now()
    for run in promoted:  # almost always one (more only after the limit was raised)
        run.pipeline, run.state, run.started = pipeline, State.RUNNING, now
        save_fields(run, ["state", "started"])
    from pipelines.runs.engine import load_stages

    # In this transaction (the update above holds the runs' rows): no second lock, no broker hop.
    return [run.pk for run in promoted if _start_promoted(run, load_stages(run), now)]


def queue_position(run: Run) -> int | None:
    if run.state != State.QUEUED:
        return None
    return Run.objects.filter(pipeline_id=run.pipeline_id, state=State.QUEUED, number__lt=run.number).count() + 1
