"""T4 matching, pure: what the execution plan decides for one push, tag or merge request event.

The webhook receiver (through ``pipelines.triggers.deliveries``) and the dry-run API call the same
``decide``. Rules are the pipeline definition's ``triggers`` document; an event is an ``Event``.

* branch: match iff the (target) branch is in include and not in exclude; exclude wins; no include
  list means every branch.
* path: if an exclude list is set and every changed file is excluded → no match. Otherwise, with no
  include list → match; with an include list → match iff at least one changed file that is not
  excluded is included.
* branches first, then paths (if configured); both must match.
* tag: in include and not in exclude; exclude wins (no include list: every tag, as for branches).
* merge request: the event must be enabled and chosen; the TARGET branch is checked.
* patterns: exact names or globs: ``*`` within one segment, ``**`` across segments, ``?`` one
  character; a pattern ending in ``/`` covers everything below it. Each pattern list is compiled
  once into one regular expression (cached); there is no cap on the number of changed files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

INCLUDED, EXCLUDED, NOT_INCLUDED = "included", "excluded", "not included"
KINDS = ("push", "tag", "merge_request")
MR_ACTIONS = ("created", "updated", "merged", "reopened")
_TOKEN = re.compile(r"\*\*/|\*\*|\*|\?|[^*?]+")


@dataclass(frozen=True)
class Event:
    """What happened, as the matching sees it. ``files`` is None when the changed files are unknown
    (``files_unknown`` then says why); paths are then not checked and the reason says so."""

    kind: str
    branch: str = ""
    tag: str = ""
    target_branch: str = ""
    action: str = ""
    files: tuple[str, ...] | None = ()
    deleted: bool = False
    files_unknown: str = ""


@dataclass
class Decision:
    triggered: bool
    reason: str
    rule: str
    files: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"triggered": self.triggered, "reason": self.reason, "rule": self.rule, "files": self.files}


def _pattern_regex(pattern: str) -> str:
    """One T4 pattern as a regular expression (anchored by the caller)."""
    pattern = pattern.strip()
    below = pattern.endswith("/")
    body = pattern.strip("/")  # a leading "/" means the repository root, where every path starts
    if not body:
        return ".+" if below else ""
    out = []
    for token in _TOKEN.findall(body):
        if token == "**/":
            out.append("(?:.*/)?")  # zero or more whole segments
        elif token == "**":
            out.append(".*")
        elif token == "*":
            out.append("[^/]*")
        elif token == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(token))
    if below:
        out.append("/.+")
    return "".join(out)


@lru_cache(maxsize=512)
def compile_patterns(patterns: tuple[str, ...]) -> re.Pattern | None:
    """One compiled alternation for a pattern list (None for an empty list)."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{_pattern_regex(p)})" for p in patterns), re.DOTALL)


def matches(patterns, value: str) -> bool:
    regex = compile_patterns(tuple(patterns))
    return regex is not None and regex.fullmatch(value) is not None


def _normalize_path(path: str) -> str:
    return path.strip().lstrip("/") if isinstance(path, str) else ""


def _list(patterns) -> str:
    return "[" + ", ".join(patterns) + "]"


def _filter(rules: dict, key: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    value = rules.get(key) or {}
    return tuple(value.get("include") or ()), tuple(value.get("exclude") or ())


def check_name(rules: dict, key: str, name: str, rule: str, what: str) -> tuple[bool, str, str]:
    """Branch or tag rule: ``(matched, reason, rule)``; exclude wins, no include list = every name."""
    include, exclude = _filter(rules, key)
    if exclude and matches(exclude, name):
        return False, f"{what} {name} is in the exclude list {_list(exclude)}", f"{rule}.exclude"
    if include and not matches(include, name):
        return False, f"{what} {name} is not in the include list {_list(include)}", f"{rule}.include"
    if include:
        return True, f"{what} {name} is in the include list {_list(include)}", f"{rule}.include"
    if exclude:
        return True, f"{what} {name} is not in the exclude list {_list(exclude)}", f"{rule}.exclude"
    return True, f"every {what} matches (no {what} filter)", rule


def check_paths(rules: dict, files, rule: str) -> tuple[bool, str, str, list[dict]]:
    """Path rule: ``(matched, reason, rule, per-file verdicts)``."""
    include, exclude = _filter(rules, "paths")
    paths = [_normalize_path(f) for f in files]
    exclude_re, include_re = compile_patterns(exclude), compile_patterns(include)
    verdicts, excluded, included = [], 0, 0
    for path in paths:
        if exclude_re is not None and exclude_re.fullmatch(path):
            verdicts.append({"path": path, "verdict": EXCLUDED})
            excluded += 1
        elif include_re is None or include_re.fullmatch(path):
            verdicts.append({"path": path, "verdict": INCLUDED})
            included += 1
        else:
            verdicts.append({"path": path, "verdict": NOT_INCLUDED})
    total = len(paths)
    if exclude and excluded == total:
        if total == 0:
            reason = f"no file changed, so none is outside paths.exclude {_list(exclude)}"
        else:
            reason = f"every changed file ({total}) is excluded by paths.exclude {_list(exclude)}"
        return False, reason, f"{rule}.exclude", verdicts
    if not include:
        if exclude:
            reason = f"{total - excluded} of {total} changed files are outside paths.exclude {_list(exclude)}"
            return True, reason, f"{rule}.exclude", verdicts
        return True, "no path filter", rule, verdicts
    outside = f" outside paths.exclude {_list(exclude)}" if exclude else ""
    if included:
        reason = f"{included} of {total} changed files{outside} are in paths.include {_list(include)}"
        return True, reason, f"{rule}.include", verdicts
    reason = f"none of the {total} changed files{outside} is in paths.include {_list(include)}"
    return False, reason, f"{rule}.include", verdicts


def _paths_configured(rules: dict) -> bool:
    include, exclude = _filter(rules, "paths")
    return bool(include or exclude)


def _branches_then_paths(rules: dict, kind: str, branch: str, event: Event, what: str) -> Decision:
    ok, branch_reason, rule = check_name(rules, "branches", branch, f"{kind}.branches", what)
    if not ok:
        return Decision(False, branch_reason, rule)
    if not _paths_configured(rules):
        return Decision(True, branch_reason, rule)
    if event.files is None:
        why = event.files_unknown or "the event did not list the changed files"
        reason = f"{branch_reason}; paths not checked: {why}, so the branch rule alone decided"
        return Decision(True, reason, rule)
    ok, path_reason, path_rule, verdicts = check_paths(rules, event.files, f"{kind}.paths")
    if not ok:
        return Decision(False, f"{branch_reason}, but {path_reason}", path_rule, verdicts)
    return Decision(True, f"{branch_reason}; {path_reason}", path_rule, verdicts)


def decide(triggers: dict | None, event: Event) -> Decision:
    """Whether the execution plan ``triggers`` starts a run for ``event``, why, and per-file verdicts."""
    triggers = triggers or {}
    if event.kind not in KINDS:
        return Decision(False, f"{event.kind or 'this'} events never start runs", "event")
    rules = triggers.get(event.kind) or {}
    label = {"push": "push", "tag": "tag", "merge_request": "merge request"}[event.kind]
    if not rules.get("enabled"):
        return Decision(False, f"the {label} trigger is off", f"{event.kind}.enabled")
    if event.kind == "push":
        if event.deleted:
            return Decision(False, f"branch {event.branch} was deleted; deletions never start runs", "push.deleted")
        return _branches_then_paths(rules, "push", event.branch, event, "branch")
    if event.kind == "tag":
        if event.deleted:
            return Decision(False, f"tag {event.tag} was deleted; deletions never start runs", "tag.deleted")
        ok, reason, rule = check_name(rules, "tags", event.tag, "tag.tags", "tag")
        return Decision(ok, reason, rule)
    events = rules.get("events") or []
    if event.action not in events:
        chosen = ", ".join(events) or "none"
        action = event.action or "(unknown)"
        return Decision(
            False, f"merge request event {action} is not one of the chosen events ({chosen})", "merge_request.events"
        )
    return _branches_then_paths(rules, "merge_request", event.target_branch, event, "target branch")
