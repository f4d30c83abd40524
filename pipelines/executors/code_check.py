"""Code check task (P6, P7): run a linter on the task's source and report ``issue_count`` for the gates.

The source is the task's ``source`` alias, or else the pipeline's first code source (checking an empty
workspace would report 0 issues and pass every gate).

Presets: ``ruff`` (the worker's ruff, SARIF output; the repository's own ruff configuration applies, and
without one ruff's defaults — never the configuration of a directory above the workspace) and ``flake8``
(only when it is installed on the worker). ``custom`` runs the task's command, which must write a SARIF
2.1.0 report at ``sarif_path`` (relative to the source). Issues are the report's ``runs[].results[]``
that are not suppressed. The task succeeds unless the check itself fails (a non-zero exit of the
command, a missing or unreadable report): how many issues are acceptable is the quality gate's call.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

from django.utils.translation import gettext as _

from pipelines.executors import checkout as checkouts
from pipelines.executors.base import Outcome
from pipelines.runs.models import State
from pipelines.runs.sources import primary_alias

MAX_REPORT_BYTES = 50 * 1024 * 1024
TOP_RULES = 5
MAX_LOGGED_ISSUES = 100
FLAKE8_FORMAT = "%(code)s\t%(path)s:%(row)d:%(col)d: %(text)s"
RUFF_CONFIG_FILES = ("ruff.toml", ".ruff.toml")


class ReportError(Exception):
    pass


def ruff_command() -> list[str]:
    """The worker's ruff: the binary next to the running Python, else ``python -m ruff``."""
    binary = Path(sys.executable).parent / "ruff"
    return [str(binary)] if binary.is_file() else [sys.executable, "-m", "ruff"]


def has_ruff_config(src: Path) -> bool:
    if any((src / name).is_file() for name in RUFF_CONFIG_FILES):
        return True
    pyproject = src / "pyproject.toml"
    return pyproject.is_file() and "[tool.ruff" in pyproject.read_text(errors="replace")


def _location(result: dict) -> str:
    try:
        physical = result["locations"][0]["physicalLocation"]
        uri = str(physical["artifactLocation"]["uri"]).removeprefix("file://")
        return f"{uri}:{physical.get('region', {}).get('startLine', '?')}"
    except (KeyError, IndexError, TypeError):
        return "?"


def sarif_issues(path: Path) -> list[tuple[str, str, str]]:
    """``(rule id, location, message)`` of every unsuppressed result of a SARIF 2.1.0 report."""
    if not path.is_file():
        raise ReportError(_("No SARIF report was written at %(path)s.") % {"path": path.name})
    if path.stat().st_size > MAX_REPORT_BYTES:
        raise ReportError(_("The SARIF report is larger than 50 MB."))
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except ValueError:
        raise ReportError(_("The SARIF report is not valid JSON.")) from None
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, list):
        raise ReportError(_("The SARIF report has no “runs” list."))
    issues = []
    for run in runs:
        results = run.get("results") if isinstance(run, dict) else None
        for result in results if isinstance(results, list) else []:
            if not isinstance(result, dict) or result.get("suppressions"):
                continue
            rule = result.get("ruleId") or (result.get("rule") or {}).get("id") or "?"
            text = (result.get("message") or {}).get("text", "") if isinstance(result.get("message"), dict) else ""
            issues.append((str(rule)[:100], _location(result)[:300], str(text)[:300]))
    return issues


def flake8_issues(path: Path) -> list[tuple[str, str, str]]:
    lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
    issues = []
    for line in filter(str.strip, lines):
        rule, _tab, rest = line.partition("\t")
        where, _sep, text = rest.rpartition(": ")
        issues.append((rule, where, text))
    return issues


def summary(issues: list[tuple[str, str, str]]) -> str:
    counts = Counter(rule for rule, _where, _text in issues)
    top = ", ".join(f"{rule} ×{count}" for rule, count in counts.most_common(TOP_RULES))
    return f"code check: {len(issues)} issue(s)" + (f"; top rules: {top}" if top else "")


def run(ctx):
    config = ctx.config
    try:
        src = checkouts.prepare(ctx, config.get("source") or primary_alias(ctx.run.snapshot))
    except checkouts.CheckoutFailed as exc:
        ctx.log.line(f"[checkout] {exc}")
        return Outcome(State.FAILED, message=str(exc))
    timeout = config["timeout_minutes"] * 60
    preset = config["preset"]
    if preset == "flake8" and importlib.util.find_spec("flake8") is None:
        message = _("flake8 is not installed on the worker.")
        ctx.log.line(message)
        return Outcome(State.FAILED, message=message)
    report = ctx.workspace / ("code-check.txt" if preset == "flake8" else "code-check.sarif")
    if preset == "ruff":
        argv = [*ruff_command(), "check", "--output-format", "sarif", "--exit-zero", "--no-cache", "-o", str(report)]
        if not has_ruff_config(src):
            argv.append("--isolated")
        code = ctx.run_command([*argv, "."], cwd=src, timeout=timeout)
    elif preset == "flake8":
        argv = [sys.executable, "-m", "flake8", "--exit-zero", f"--format={FLAKE8_FORMAT}", "--output-file"]
        code = ctx.run_command([*argv, str(report), "."], cwd=src, timeout=timeout)
    else:
        report = (src / config["sarif_path"]).resolve()
        if src.resolve() not in report.parents:
            return Outcome(State.FAILED, message=_("The SARIF path must stay inside the source."))
        code = ctx.run_command(config["command"], cwd=src, shell=True, timeout=timeout)
    if code != 0:
        message = _("The code check exited with %(code)s.") % {"code": code}
        return Outcome(State.FAILED, exit_code=code, message=message)
    try:
        issues = flake8_issues(report) if preset == "flake8" else sarif_issues(report)
    except ReportError as exc:
        ctx.log.line(str(exc))
        return Outcome(State.FAILED, exit_code=code, message=str(exc))
    prefix = f"{src.resolve()}/"
    for rule, where, text in issues[:MAX_LOGGED_ISSUES]:
        ctx.log.line(f"{where.removeprefix(prefix)}: {rule} {text}")
    if len(issues) > MAX_LOGGED_ISSUES:
        ctx.log.line(f"… and {len(issues) - MAX_LOGGED_ISSUES} more")
    ctx.log.line(summary(issues))
    return Outcome(State.SUCCEEDED, exit_code=0, metrics={"issue_count": len(issues)}, message=summary(issues))
