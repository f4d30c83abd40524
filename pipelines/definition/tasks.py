"""Task configuration by type (P6): shared helpers and the build, code check and API test tasks.

Each validator takes the task's ``config`` object (unknown keys already reported), returns the normalized
config with defaults filled, and records errors under ``<task path>.config.<field>``. Fields that belong
to another mode (e.g. ``checks`` of an API test in JUnit mode) are accepted and dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from .base import Checker, DefinitionContext, is_text, item, join, pattern_problem, quote

COMMANDS_MAX_LEN = 20000
PATH_MAX_LEN = 300
MAX_ARTIFACTS = 50
MAX_CHECKS = 50
DEFAULT_TIMEOUT_MINUTES = 60
DEFAULT_BUILD_VERSION = "${PIPELINE_NUMBER}"
CODE_CHECK_PRESETS = ("ruff", "flake8", "custom")
API_TEST_MODES = ("junit", "http")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
PACKAGE_RE = re.compile(r"[A-Za-z0-9._-]{1,100}")
_URL_RE = re.compile(r"https?://[^/?#\s]+(?:[/?#]\S*)?", re.IGNORECASE)

BUILD_KEYS = ("source", "commands", "artifacts", "package", "version", "timeout_minutes")
CODE_CHECK_KEYS = ("preset", "command", "sarif_path", "source", "timeout_minutes")
API_TEST_KEYS = ("mode", "command", "junit_path", "source", "checks", "timeout_minutes")
CHECK_KEYS = ("method", "url", "expected_status", "body_contains")


@dataclass(frozen=True)
class TaskScope:
    """Where a task lives and what its config may refer to."""

    ctx: DefinitionContext
    stage: str
    task: str
    aliases: tuple[str, ...] = ()  # source aliases of the pipeline
    parameter_types: dict[str, str] = field(default_factory=dict)  # pipeline parameter name -> type

    def where(self) -> str:
        return _("Stage “%(stage)s”, task “%(task)s”") % {"stage": quote(self.stage), "task": quote(self.task)}


# --------------------------------------------------------------------------- shared fields


def commands(c: Checker, cfg: dict, path: str, key: str = "commands") -> str | None:
    return c.text(
        cfg,
        key,
        path,
        max_len=COMMANDS_MAX_LEN,
        required=True,
        multiline=True,
        hint=_l("Enter the shell commands to run."),
    )


def timeout(c: Checker, cfg: dict, path: str) -> int | None:
    return c.integer(cfg, "timeout_minutes", path, lo=1, hi=1440, default=DEFAULT_TIMEOUT_MINUTES)


def source(c: Checker, cfg: dict, path: str, scope: TaskScope, *, required: bool) -> str | None:
    """The alias of one of the pipeline's sources."""
    value = c.text(
        cfg,
        "source",
        path,
        max_len=32,
        required=required,
        hint=(_("Choose the source to work on: %(aliases)s.") % {"aliases": ", ".join(scope.aliases)})
        if required
        else "",
    )
    if value and value not in scope.aliases:
        if scope.aliases:
            c.add(
                join(path, "source"),
                _("%(where)s: unknown source “%(alias)s”; choose one of: %(aliases)s."),
                where=scope.where(),
                alias=quote(value),
                aliases=", ".join(scope.aliases),
            )
        else:
            c.add(
                join(path, "source"),
                _("%(where)s: the pipeline has no source “%(alias)s” (it has no sources)."),
                where=scope.where(),
                alias=quote(value),
            )
        return None
    return value


def path_problem(value: str, *, glob: bool = False) -> str | None:
    """Why ``value`` is not a workspace-relative path (or glob), or None."""
    if value.startswith(("/", "~", "\\")) or re.match(r"[A-Za-z]:[\\/]", value) or ".." in re.split(r"[\\/]", value):
        return _("Use a path relative to the workspace (no leading “/” or “~”, no “..”).")
    if any(ch.isspace() for ch in (value[0], value[-1])):
        return _("Paths cannot start or end with spaces.")
    if glob:
        return pattern_problem(value)
    if "*" in value or "?" in value:
        return _("Enter one file path, not a pattern.")
    return None


def rel_path(
    c: Checker, cfg: dict, key: str, path: str, *, required: bool, glob: bool = False, hint: str = ""
) -> str | None:
    value = c.text(cfg, key, path, max_len=PATH_MAX_LEN, required=required, hint=hint)
    if value:
        problem = path_problem(value, glob=glob)
        if problem:
            c.add(join(path, key), problem)
    return value


def package_name(c: Checker, cfg: dict, path: str, *, required: bool = False) -> str | None:
    value = c.text(
        cfg,
        "package",
        path,
        max_len=100,
        required=required,
        hint=_l("A package name is needed to upload the artifacts to the release repository."),
    )
    if value and (not PACKAGE_RE.fullmatch(value) or not value.strip(".")):
        c.add(
            join(path, "package"),
            _("“Package name” must be 1 to 100 letters, digits, “.”, “_” or “-” (and not only dots)."),
        )
    return value


# --------------------------------------------------------------------------- build


def build(c: Checker, cfg: dict, path: str, scope: TaskScope) -> dict:
    """Build: run commands on a source, upload artifacts as a versioned package (K1)."""
    src = source(c, cfg, path, scope, required=bool(scope.aliases))
    script = commands(c, cfg, path)
    artifacts: list[str] = []
    where = join(path, "artifacts")
    for index, value in enumerate(c.items(cfg, "artifacts", path, limit=MAX_ARTIFACTS, what=_l("Artifacts"))):
        if not is_text(value) or not value or len(value) > PATH_MAX_LEN:
            c.add(
                item(where, index),
                _("Each artifact must be a file path or glob of 1 to %(n)s characters."),
                n=PATH_MAX_LEN,
            )
            continue
        problem = path_problem(value, glob=True)
        if problem:
            c.add(item(where, index), problem)
        elif value not in artifacts:
            artifacts.append(value)
    package = package_name(c, cfg, path, required=bool(artifacts))
    version = c.text(cfg, "version", path, max_len=100, default=DEFAULT_BUILD_VERSION)
    if version and re.search(r"[\s/\\]", version):
        c.add(join(path, "version"), _("“Version” cannot contain spaces, “/” or “\\”."))
    return {
        "source": src or "",
        "commands": script,
        "artifacts": artifacts,
        "package": package or "",
        "version": version,
        "timeout_minutes": timeout(c, cfg, path),
    }


# --------------------------------------------------------------------------- code check


def code_check(c: Checker, cfg: dict, path: str, scope: TaskScope) -> dict:
    """Code check: a preset (ruff, flake8) or a custom command writing a SARIF report."""
    preset = c.choice(cfg, "preset", path, CODE_CHECK_PRESETS)
    command, sarif = "", ""
    if preset == "custom":
        command = commands(c, cfg, path, "command")
        sarif = rel_path(
            c,
            cfg,
            "sarif_path",
            path,
            required=True,
            hint=_l("A custom check must say where it writes its SARIF report."),
        )
    return {
        "preset": preset,
        "command": command,
        "sarif_path": sarif,
        "source": source(c, cfg, path, scope, required=False) or "",
        "timeout_minutes": timeout(c, cfg, path),
    }


# --------------------------------------------------------------------------- API test


def api_test(c: Checker, cfg: dict, path: str, scope: TaskScope) -> dict:
    """API test: a JUnit-producing command, or HTTP checks (pass rate feeds gates, P7)."""
    mode = c.choice(cfg, "mode", path, API_TEST_MODES)
    out: dict = {"mode": mode}
    if mode == "junit":
        out["command"] = commands(c, cfg, path, "command")
        out["junit_path"] = rel_path(
            c,
            cfg,
            "junit_path",
            path,
            required=True,
            glob=True,
            hint=_l("Say where the command writes its JUnit XML report."),
        )
        out["source"] = source(c, cfg, path, scope, required=False) or ""
    elif mode == "http":
        out["checks"] = _checks(c, cfg, path)
    out["timeout_minutes"] = timeout(c, cfg, path)
    return out


def url_ok(url: str) -> bool:
    """An http(s) URL, or one whose start comes from a parameter (``${BASE_URL}/health``)."""
    if any(ch.isspace() for ch in url):
        return False
    return url.startswith("${") or bool(_URL_RE.fullmatch(url))


def _checks(c: Checker, cfg: dict, path: str) -> list[dict]:
    items = c.items(cfg, "checks", path, limit=MAX_CHECKS, what=_l("HTTP checks"))
    if not items and (cfg.get("checks") is None or cfg.get("checks") == []):
        c.add(join(path, "checks"), _("Add at least one HTTP check (method, URL, expected status)."))
    out = []
    for index, value in enumerate(items):
        p = item(join(path, "checks"), index)
        check = c.obj(value, p, CHECK_KEYS, what=_l("An HTTP check"), required=True)
        if check is None:
            continue
        method = check.get("method")
        if isinstance(method, str) and method.upper() in HTTP_METHODS:
            check = {**check, "method": method.upper()}
        url = c.text(check, "url", p, max_len=2000, required=True, hint=_l("Enter an http:// or https:// URL."))
        if url and not url_ok(url):
            c.add(
                join(p, "url"),
                _("“URL” must be an http:// or https:// URL without spaces (it may contain ${name} parameters)."),
            )
        out.append(
            {
                "method": c.choice(check, "method", p, HTTP_METHODS, default="GET"),
                "url": url,
                "expected_status": c.integer(check, "expected_status", p, lo=100, hi=599, default=200),
                "body_contains": c.text(check, "body_contains", p, max_len=1000, strip=False, multiline=True),
            }
        )
    return out
