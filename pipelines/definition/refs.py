"""Parameter references (R3), system parameters (R2) and what a definition refers to (E8, X8).

``${name}`` references a parameter; ``$${`` is the escape for a literal ``${`` (so ``$${HOME}`` reaches
the shell as ``${HOME}``). ``${…}`` whose content is not a parameter name (``${VAR:-x}``) is left as is.

The ``referenced_*`` helpers read stored (normalized) definitions but tolerate any shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.utils.translation import gettext as _

#: R2: always present
SYSTEM_PARAMETERS = ("PROJECT_ID", "PIPELINE_ID", "PIPELINE_NUMBER", "COMMIT_ID", "TIMESTAMP")
#: R2: per aliased code source, ``<alias>_<suffix>``
ALIAS_SUFFIXES = ("REPOSITORY_NAME", "SOURCE_BRANCH", "TARGET_BRANCH", "TAG", "COMMIT_ID")
#: source kinds whose alias creates system parameters (the code sources of P2)
CODE_SOURCE_KINDS = frozenset({"repo", "git", "github_app"})

REF_RE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MAX_DEPTH = 32


def find_references(text: str) -> list[str]:
    """Parameter names referenced as ``${name}`` in ``text``, in order (escaped ``$${…}`` excluded)."""
    if not isinstance(text, str):
        return []
    return [m.group(1) for m in REF_RE.finditer(text) if m.group(1) is not None]


def substitute(text: str, values: dict[str, str]) -> str:
    """R3: replace ``${name}`` by ``values[name]`` (unknown names are left as is); ``$${`` gives ``${``.

    One pass: substituted values are not scanned again.
    """

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return "${"
        if name in values:
            value = values[name]
            return value if isinstance(value, str) else str(value)
        return match.group(0)

    return REF_RE.sub(replace, text)


def iter_strings(value, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string inside ``value`` (dict values and list items, not keys) with its error path."""
    stack = [(value, path, 0)]
    while stack:
        current, where, depth = stack.pop()
        if isinstance(current, str):
            yield where, current
        elif depth >= _MAX_DEPTH:
            continue
        elif isinstance(current, dict):
            items = [(v, f"{where}.{k}" if where else str(k), depth + 1) for k, v in current.items()]
            stack.extend(reversed(items))
        elif isinstance(current, list):
            stack.extend(reversed([(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(current)]))


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _tasks(definition) -> Iterator[tuple[dict, dict]]:
    for stage in _list(_dict(definition).get("stages")):
        stage = _dict(stage)
        for task in _list(stage.get("tasks")):
            if isinstance(task, dict):
                yield stage, task


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def alias_parameters(alias: str) -> list[str]:
    return [f"{alias}_{suffix}" for suffix in ALIAS_SUFFIXES]


def system_parameters(definition: dict) -> list[str]:
    """R2: the fixed system parameters, then ``<alias>_…`` for every aliased code source, in order."""
    names = list(SYSTEM_PARAMETERS)
    for source in _list(_dict(definition).get("sources")):
        source = _dict(source)
        alias = source.get("alias")
        if source.get("kind") in CODE_SOURCE_KINDS and isinstance(alias, str) and alias:
            names.extend(name for name in alias_parameters(alias) if name not in names)
    return names


def referenced_parameters(definition: dict) -> set[str]:
    """Every ``${name}`` used in task configs and task parameter defaults (any name, known or not)."""
    names: set[str] = set()
    for _stage, task in _tasks(definition):
        for _path, text in iter_strings(task.get("config")):
            names.update(find_references(text))
        for parameter in _list(task.get("parameters")):
            names.update(find_references(_dict(parameter).get("default")))
    return names


def referenced_endpoints(definition: dict) -> list[tuple[int, str]]:
    """(endpoint id, label) for every endpoint the definition uses: “source app”, “Build › deploy”."""
    found: list[tuple[int, str]] = []
    for source in _list(_dict(definition).get("sources")):
        source = _dict(source)
        endpoint_id = _int(source.get("endpoint"))
        if endpoint_id is not None:
            alias = source.get("alias") if isinstance(source.get("alias"), str) else ""
            found.append((endpoint_id, _("source %(alias)s") % {"alias": alias or source.get("kind", "?")}))
    for stage, task in _tasks(definition):
        endpoint_id = _int(_dict(task.get("config")).get("endpoint"))
        if endpoint_id is not None:
            found.append((endpoint_id, f"{stage.get('name', '?')} › {task.get('name', '?')}"))
    return list(dict.fromkeys(found))


def referenced_pipelines(definition: dict) -> set[int]:
    """Ids of the pipelines that sub-pipeline tasks call (X8)."""
    ids = set()
    for _stage, task in _tasks(definition):
        if task.get("type") == "sub_pipeline":
            pipeline_id = _int(_dict(task.get("config")).get("pipeline"))
            if pipeline_id is not None:
                ids.add(pipeline_id)
    return ids
