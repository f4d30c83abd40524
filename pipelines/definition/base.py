"""Shared machinery of definition validation: the context, the error type and a collecting checker.

The checker never raises: every reader records a message on a path (``stages[1].tasks[0].config.commands``)
and returns the value to put into the normalized output, so one pass reports every error at once.
Messages are translated at call time and never repeat a submitted secret.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

#: the error path of problems with the document as a whole (the key DRF and Django REST views use)
ROOT = "non_field_errors"

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_MULTILINE_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # allows \t \n \r
_DIGITS_RE = re.compile(r"[0-9]{1,12}")

#: field labels used in messages, by key
LABELS = {
    "name": gettext_lazy("Name"),
    "description": gettext_lazy("Description"),
    "kind": gettext_lazy("Source kind"),
    "alias": gettext_lazy("Alias"),
    "endpoint": gettext_lazy("Service endpoint"),
    "repository": gettext_lazy("Repository"),
    "default_branch": gettext_lazy("Default branch"),
    "directory": gettext_lazy("Top-level directory"),
    "package": gettext_lazy("Package name"),
    "branch_filter": gettext_lazy("Source branch filter"),
    "version_strategy": gettext_lazy("Version strategy"),
    "version": gettext_lazy("Version"),
    "organization": gettext_lazy("Organization"),
    "image": gettext_lazy("Image name"),
    "type": gettext_lazy("Type"),
    "default": gettext_lazy("Default value"),
    "choices": gettext_lazy("Choices"),
    "secret": gettext_lazy("Secret"),
    "runtime": gettext_lazy("Set at run time"),
    "value_set": gettext_lazy("Value set"),
    "always_run": gettext_lazy("Always run"),
    "manual": gettext_lazy("Start manually"),
    "parallel": gettext_lazy("Run tasks in parallel"),
    "template": gettext_lazy("Gate template"),
    "source": gettext_lazy("Source"),
    "commands": gettext_lazy("Commands"),
    "command": gettext_lazy("Command"),
    "artifacts": gettext_lazy("Artifacts"),
    "timeout_minutes": gettext_lazy("Timeout (minutes)"),
    "preset": gettext_lazy("Checker"),
    "sarif_path": gettext_lazy("SARIF report path"),
    "mode": gettext_lazy("Mode"),
    "junit_path": gettext_lazy("JUnit report path"),
    "checks": gettext_lazy("HTTP checks"),
    "method": gettext_lazy("Method"),
    "url": gettext_lazy("URL"),
    "expected_status": gettext_lazy("Expected status"),
    "body_contains": gettext_lazy("Body contains"),
    "target": gettext_lazy("Deploy target"),
    "host_group": gettext_lazy("Host group"),
    "manifests": gettext_lazy("Manifests"),
    "namespace": gettext_lazy("Namespace"),
    "rollout_timeout_seconds": gettext_lazy("Rollout timeout (seconds)"),
    "pipeline": gettext_lazy("Pipeline"),
    "parameters": gettext_lazy("Parameters"),
    "seconds": gettext_lazy("Delay (seconds)"),
    "reviewers": gettext_lazy("Reviewers"),
    "forbid_starter": gettext_lazy("Starter may not review"),
    "enabled": gettext_lazy("Enabled"),
    "include": gettext_lazy("Include"),
    "exclude": gettext_lazy("Exclude"),
    "events": gettext_lazy("Events"),
    "days": gettext_lazy("Days"),
    "time": gettext_lazy("Time"),
    "timezone": gettext_lazy("Time zone"),
    "missed_schedule_policy": gettext_lazy("Missed schedules"),
    "in_app": gettext_lazy("In-app"),
    "email": gettext_lazy("Email"),
}


@dataclass(frozen=True)
class DefinitionContext:
    """What a definition may refer to, computed by the caller for the saving user and project."""

    endpoints: dict[int, str] = field(default_factory=dict)  # endpoint id -> type, endpoints the user may USE
    host_groups: frozenset[str] = frozenset()  # the project's host group names (R7)
    gate_templates: frozenset[int] = frozenset()  # gate template ids available to the project (P7)
    pipelines: dict[int, frozenset[int]] = field(default_factory=dict)  # other pipelines -> pipelines they call
    pipeline_id: int | None = None  # the pipeline being saved (None when creating)
    members: frozenset[str] = frozenset()  # usernames of project members
    stored_secrets: frozenset[str] = frozenset()  # secret parameter names that already have a stored value


class DefinitionError(Exception):
    """The definition is invalid; ``errors`` maps every error path to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        count = sum(len(messages) for messages in errors.values())
        first = next(iter(errors.items()), ("", [""]))
        super().__init__(f"{count} error(s) in the pipeline definition; first: {first[0]}: {first[1][0]}")


def join(path: str, key) -> str:
    """``path.key`` (``key`` alone at the top level); a non-text or huge key is shown safely."""
    if not isinstance(key, str):
        key = f"<{type(key).__name__}>"
    elif len(key) > 64:
        key = key[:63] + "…"
    return f"{path}.{key}" if path else key


def item(path: str, index: int) -> str:
    return f"{path}[{index}]"


def quote(value, limit: int = 64) -> str:
    """A user-supplied name (never a secret) for a message, truncated."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def label_of(key: str):
    return LABELS.get(key, key)


def is_text(value) -> bool:
    """A str that PostgreSQL's jsonb and UTF-8 can store (no NUL, no lone surrogates)."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def as_int(value):
    """An int from an int, an integral float or a string of digits (form posts); else None. Never a bool."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, str) and _DIGITS_RE.fullmatch(value.strip()):
        return int(value.strip())
    return None


def pattern_problem(value: str) -> str | None:
    """Why ``value`` is not a valid trigger/branch pattern (T4 syntax), or None."""
    if not value:
        return _("Patterns cannot be empty.")
    if len(value) > 200:
        return _("Patterns must be at most 200 characters.")
    if value != value.strip():
        return _("Patterns cannot start or end with spaces.")
    if _CONTROL_RE.search(value):
        return _("Patterns cannot contain line breaks or control characters.")
    if "***" in value:
        return _("“***” is not a valid pattern: use “*” within one path segment or “**” across segments.")
    if "//" in value:
        return _("Patterns cannot contain an empty segment “//”.")
    return None


class Checker:
    """Collects errors by path; readers return the normalized value (or None when invalid/missing)."""

    def __init__(self):
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message, **params) -> None:
        text = str(message) % params if params else str(message)
        messages = self.errors.setdefault(path or ROOT, [])
        if text not in messages:
            messages.append(text)

    def count(self) -> int:
        return sum(len(messages) for messages in self.errors.values())

    # ------------------------------------------------------------------ structure

    def obj(self, value, path: str, allowed=None, *, what, required: bool = False) -> dict | None:
        """A dict whose keys are all in ``allowed`` (None: not checked here). A missing optional one is {}."""
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            self.add(path, _("%(what)s must be an object of named fields."), what=what)
            return None
        if allowed is not None:
            self.unknown_keys(value, path, allowed)
        return value

    def unknown_keys(self, value: dict, path: str, allowed) -> None:
        for key in value:
            if not isinstance(key, str) or key not in allowed:
                self.add(
                    join(path, key),
                    _("Unknown field “%(key)s”; expected one of: %(allowed)s."),
                    key=quote(key if isinstance(key, str) else type(key).__name__),
                    allowed=", ".join(sorted(allowed)),
                )

    def items(self, obj: dict, key: str, path: str, *, limit: int, what) -> list:
        """The list under ``key`` (missing: []); beyond ``limit`` items an error on the first extra one."""
        value = obj.get(key)
        p = join(path, key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(p, _("“%(what)s” must be a list."), what=what)
            return []
        if len(value) > limit:
            self.add(
                item(p, limit),
                _("“%(what)s” allows at most %(n)s items; remove this one and any after it."),
                n=limit,
                what=what,
            )
            return value[:limit]
        return value

    # ------------------------------------------------------------------ scalars

    def text(
        self,
        obj: dict,
        key: str,
        path: str,
        *,
        max_len: int,
        required: bool = False,
        strip: bool = True,
        multiline: bool = False,
        default: str = "",
        label=None,
        hint: str = "",
    ) -> str | None:
        """A string; ``required`` means not blank. Single-line unless ``multiline``. Missing: ``default``."""
        p, label = join(path, key), label or label_of(key)
        value = obj.get(key)
        if value is None or value == "":
            if required:
                self.add(p, _("“%(label)s” is required.%(hint)s"), label=label, hint=f" {hint}" if hint else "")
                return None
            return default
        if not isinstance(value, str):
            self.add(p, _("“%(label)s” must be text."), label=label)
            return None
        if not is_text(value):
            self.add(p, _("“%(label)s” contains characters that cannot be stored."), label=label)
            return None
        if len(value) > max_len:
            self.add(
                p,
                _("“%(label)s” must be at most %(max)s characters (it has %(n)s)."),
                label=label,
                max=max_len,
                n=len(value),
            )
            return None
        if (_MULTILINE_CONTROL_RE if multiline else _CONTROL_RE).search(value):
            self.add(
                p,
                _("“%(label)s” must be a single line without control characters.")
                if not multiline
                else _("“%(label)s” contains control characters."),
                label=label,
            )
            return None
        if strip and not multiline:
            value = value.strip()
        if not value.strip():
            if required:
                self.add(p, _("“%(label)s” is required.%(hint)s"), label=label, hint=f" {hint}" if hint else "")
                return None
            return default
        return value

    def boolean(self, obj: dict, key: str, path: str, *, default: bool = False) -> bool:
        value = obj.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.add(join(path, key), _("“%(label)s” must be true or false."), label=label_of(key))
            return default
        return value

    def integer(
        self,
        obj: dict,
        key: str,
        path: str,
        *,
        lo: int,
        hi: int,
        required: bool = False,
        default: int | None = None,
        label=None,
    ) -> int | None:
        p, label = join(path, key), label or label_of(key)
        value = obj.get(key)
        if value is None or value == "":
            if required:
                self.add(
                    p, _("“%(label)s” is required: a whole number from %(lo)s to %(hi)s."), label=label, lo=lo, hi=hi
                )
                return None
            return default
        number = as_int(value)
        if number is None or not lo <= number <= hi:
            self.add(p, _("“%(label)s” must be a whole number from %(lo)s to %(hi)s."), label=label, lo=lo, hi=hi)
            return None
        return number

    def choice(self, obj: dict, key: str, path: str, choices, *, default: str | None = None, label=None):
        """One of ``choices``; missing: ``default`` (None: required)."""
        p, label = join(path, key), label or label_of(key)
        value = obj.get(key)
        if value is None or value == "":
            if default is None:
                self.add(
                    p, _("“%(label)s” is required: choose one of %(choices)s."), label=label, choices=", ".join(choices)
                )
            return default
        if not isinstance(value, str) or value not in choices:
            self.add(p, _("“%(label)s” must be one of %(choices)s."), label=label, choices=", ".join(choices))
            return None
        return value

    def endpoint(self, obj: dict, key: str, path: str, ctx: DefinitionContext, types, *, what) -> int | None:
        """A service endpoint id the user may use, of one of ``types`` (required)."""
        p = join(path, key)
        value = obj.get(key)
        if value is None or value == "":
            self.add(
                p, _("Choose a service endpoint (%(types)s) for %(what)s."), types=", ".join(sorted(types)), what=what
            )
            return None
        endpoint_id = as_int(value)
        if endpoint_id is None:
            self.add(p, _("“%(label)s” must be the id (a whole number) of a service endpoint."), label=label_of(key))
            return None
        endpoint_type = ctx.endpoints.get(endpoint_id)
        if endpoint_type is None:
            self.add(
                p, _("Service endpoint #%(id)s does not exist in this project or you may not use it."), id=endpoint_id
            )
        elif endpoint_type not in types:
            self.add(
                p,
                _("Service endpoint #%(id)s is of type %(type)s; %(what)s needs one of: %(types)s."),
                id=endpoint_id,
                type=endpoint_type,
                what=what,
                types=", ".join(sorted(types)),
            )
        return endpoint_id
