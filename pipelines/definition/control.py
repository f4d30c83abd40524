"""Sub-pipeline tasks (X8) with cycle detection, and the pipeline control tasks delay and manual review (X7)."""

from __future__ import annotations

from collections import deque

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from .base import NAME_RE, Checker, DefinitionContext, as_int, is_text, item, join, quote
from .tasks import TaskScope

SUB_PIPELINE_KEYS = ("pipeline", "parameters")
DELAY_KEYS = ("seconds",)
MANUAL_REVIEW_KEYS = ("reviewers", "mode", "timeout_minutes", "forbid_starter")
REVIEW_MODES = ("any", "all")
MAX_REVIEWERS = 20
MAX_SUB_PARAMETERS = 100


def find_cycle(ctx: DefinitionContext, called: int) -> list[int] | None:
    """The shortest call chain ``[me, called, …, me]`` if calling ``called`` closes a cycle, else None.

    ``ctx.pipelines`` holds the stored calls of the project's other pipelines; the saved pipeline's own
    stored calls are ignored (this definition replaces them).
    """
    me = ctx.pipeline_id
    if me is None:
        return None
    if called == me:
        return [me, me]
    previous: dict[int, int | None] = {called: None}
    queue = deque([called])
    while queue:
        node = queue.popleft()
        for callee in ctx.pipelines.get(node, ()) or ():
            if callee == me:
                chain = [node]
                while previous[chain[-1]] is not None:
                    chain.append(previous[chain[-1]])
                return [me, *reversed(chain), me]
            if callee not in previous:
                previous[callee] = node
                queue.append(callee)
    return None


def sub_pipeline(c: Checker, cfg: dict, path: str, scope: TaskScope) -> dict:
    """Run another pipeline of the same project and take its result (X8)."""
    ctx = scope.ctx
    where = join(path, "pipeline")
    raw = cfg.get("pipeline")
    pipeline_id = as_int(raw)
    if raw is None or raw == "":
        c.add(where, _("Choose the pipeline to run."))
    elif pipeline_id is None:
        c.add(where, _("“Pipeline” must be the id (a whole number) of a pipeline of this project."))
    else:
        cycle = find_cycle(ctx, pipeline_id)
        if cycle is None and pipeline_id not in ctx.pipelines:
            c.add(where, _("Pipeline #%(id)s does not exist in this project."), id=pipeline_id)
        elif cycle is not None:
            c.add(
                where,
                _("Sub-pipeline cycle: %(chain)s. A pipeline cannot call itself, directly or through other pipelines."),
                chain=" → ".join(f"#{n}" for n in cycle),
            )
    return {"pipeline": pipeline_id, "parameters": _values(c, cfg, path)}


def _values(c: Checker, cfg: dict, path: str) -> dict[str, str]:
    """Parameter values passed to the called pipeline: {name: text}."""
    where = join(path, "parameters")
    values = c.obj(cfg.get("parameters"), where, None, what=_l("“Parameters”"))
    out: dict[str, str] = {}
    if not values:
        return out
    if len(values) > MAX_SUB_PARAMETERS:
        c.add(where, _("At most %(n)s parameter values can be passed."), n=MAX_SUB_PARAMETERS)
        return out
    for name, value in values.items():
        p = join(where, name)
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            c.add(p, _("“%(name)s” is not a valid parameter name."), name=quote(name))
        elif not is_text(value) or len(value) > 1000:
            c.add(p, _("The value of “%(name)s” must be text of at most 1000 characters."), name=name)
        else:
            out[name] = value
    return out


def delay(c: Checker, cfg: dict, path: str, scope: TaskScope) -> dict:
    """Wait a fixed time, then go on (X7)."""
    return {"seconds": c.integer(cfg, "seconds", path, lo=1, hi=86400, required=True)}


def manual_review(c: Checker, cfg: dict, path: str, scope: TaskScope) -> dict:
    """Wait for the named reviewers: any one of them, or all (X7); a rejection fails the run."""
    where = join(path, "reviewers")
    reviewers: list[str] = []
    items = c.items(cfg, "reviewers", path, limit=MAX_REVIEWERS, what=_l("Reviewers"))
    for index, value in enumerate(items):
        if not is_text(value) or not value.strip() or len(value) > 150:
            c.add(item(where, index), _("Each reviewer must be a username."))
        elif value.strip() not in scope.ctx.members:
            c.add(item(where, index), _("“%(user)s” is not a member of this project."), user=quote(value.strip()))
        elif value.strip() not in reviewers:
            reviewers.append(value.strip())
    if not items and isinstance(cfg.get("reviewers"), list | None):
        c.add(where, _("Name at least one reviewer (at most %(n)s)."), n=MAX_REVIEWERS)
    return {
        "reviewers": reviewers,
        "mode": c.choice(cfg, "mode", path, REVIEW_MODES, default="any"),
        "timeout_minutes": c.integer(cfg, "timeout_minutes", path, lo=1, hi=10080),
        "forbid_starter": c.boolean(cfg, "forbid_starter", path),
    }
