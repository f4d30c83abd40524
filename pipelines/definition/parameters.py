"""Custom parameters (R1, R4–R7) of a pipeline and runtime parameters of a task (R9).

Secret values (R4) leave the normalized output: their default becomes "" with ``"value_set": true`` and
the value is returned separately for encrypted storage. An empty secret keeps the stored value.
"""

from __future__ import annotations

from collections.abc import Collection

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from .base import NAME_RE, Checker, DefinitionContext, is_text, item, join, quote

PARAMETER_TYPES = ("string", "enum", "auto_increment", "host_group")
TASK_PARAMETER_TYPES = ("string", "enum")
KEYS = ("name", "type", "default", "choices", "secret", "runtime", "description", "value_set")
MAX_PARAMETERS = 100
MAX_TASK_PARAMETERS = 50
MAX_CHOICES = 50
CHOICE_MAX_LEN = 200
DEFAULT_MAX_LEN = 1000
SECRET_MIN_LEN = 6
AUTO_INCREMENT_DEFAULT = "1.0.0"


def validate_parameters(
    c: Checker,
    obj: dict,
    key: str,
    path: str,
    ctx: DefinitionContext,
    *,
    reserved: Collection[str],
    pipeline_names: Collection[str] | None = None,
) -> tuple[list[dict], dict[str, str]]:
    """Normalized parameters under ``obj[key]`` and the secret values to store.

    ``reserved``: system parameter names (R2). ``pipeline_names`` given means task parameters (R9):
    only string/enum, never secret, and no name of a pipeline parameter.
    """
    task = pipeline_names is not None
    limit = MAX_TASK_PARAMETERS if task else MAX_PARAMETERS
    items = c.items(obj, key, path, limit=limit, what=_l("Parameters"))
    base = join(path, key)
    out: list[dict] = []
    secrets: dict[str, str] = {}
    seen: set[str] = set()
    for index, value in enumerate(items):
        p = item(base, index)
        param = c.obj(value, p, KEYS, what=_l("A parameter"), required=True)
        if param is None:
            continue
        name = _name(c, param, p, seen, reserved, pipeline_names)
        types = TASK_PARAMETER_TYPES if task else PARAMETER_TYPES
        kind = param.get("type")
        if task and kind in PARAMETER_TYPES and kind not in types:
            c.add(join(p, "type"), _("Task parameters can only be of type string or enum."))
            kind = None
        else:
            kind = c.choice(param, "type", p, types, default="string")
        secret = c.boolean(param, "secret", p)
        if secret and task:
            c.add(
                join(p, "secret"),
                _("Task parameters cannot be secret; add a secret pipeline parameter and reference it as ${name}."),
            )
        elif secret and kind not in ("string", None):
            c.add(join(p, "secret"), _("Only string parameters can be secret."))
        runtime = c.boolean(param, "runtime", p)
        description = c.text(param, "description", p, max_len=500, multiline=True)
        c.boolean(param, "value_set", p)  # echoed back from a stored definition; recomputed below
        choices = _choices(c, param, p) if kind == "enum" else _no_choices(c, param, p)
        normalized = {
            "name": name,
            "type": kind,
            "default": "",
            "choices": choices,
            "secret": secret,
            "runtime": runtime,
            "description": description,
        }
        if secret and not task and kind == "string":
            value = _secret(c, param, p, name, ctx)
            if value:
                secrets[name or ""] = value
            normalized["value_set"] = True
        else:
            normalized["default"] = _default(c, param, p, kind, choices, ctx)
        out.append(normalized)
    return out, secrets


def _name(c, param, p, seen, reserved, pipeline_names) -> str | None:
    name = c.text(
        param,
        "name",
        p,
        max_len=64,
        required=True,
        hint=_l("Use letters, digits and “_”, starting with a letter or “_”."),
    )
    where = join(p, "name")
    if name is None:
        return None
    if not NAME_RE.fullmatch(name):
        c.add(
            where,
            _(
                "“%(name)s” is not a valid parameter name: use letters, digits and “_”, starting with a "
                "letter or “_” (at most 64 characters)."
            ),
            name=quote(name),
        )
        return name
    if name in reserved:
        c.add(where, _("“%(name)s” is a system parameter; choose another name."), name=name)
    elif pipeline_names is not None and name in pipeline_names:
        c.add(
            where,
            _(
                "“%(name)s” is already a pipeline parameter; reference it as ${%(name)s} instead of "
                "declaring it on the task."
            ),
            name=name,
        )
    elif name in seen:
        c.add(where, _("Parameter “%(name)s” is defined twice; names must be unique."), name=name)
    seen.add(name)
    return name


def _no_choices(c: Checker, param: dict, p: str) -> list:
    if param.get("choices") not in (None, "", []):
        c.add(join(p, "choices"), _("Only enum parameters have choices."))
    return []


def _choices(c: Checker, param: dict, p: str) -> list[str]:
    """R5: a list or a comma-separated string -> trimmed, unique, 1–50 values."""
    where = join(p, "choices")
    value = param.get("choices")
    if isinstance(value, str):
        if not is_text(value) or len(value) > MAX_CHOICES * (CHOICE_MAX_LEN + 1):
            c.add(where, _("“Choices” is too long or contains characters that cannot be stored."))
            return []
        parts = value.split(",")
    elif isinstance(value, list):
        if len(value) > 10 * MAX_CHOICES:
            c.add(where, _("An enum parameter has at most %(n)s choices."), n=MAX_CHOICES)
            return []
        parts = []
        for index, part in enumerate(value):
            if not is_text(part):
                c.add(item(where, index), _("Each choice must be text."))
            elif "," in part:
                c.add(item(where, index), _("Choices cannot contain commas."))
            else:
                parts.append(part)
    elif value is None:
        parts = []
    else:
        c.add(where, _("“Choices” must be a list of values or one comma-separated text."))
        return []
    choices: list[str] = []
    for part in parts:
        text = part.strip()
        if not text:
            continue
        if len(text) > CHOICE_MAX_LEN or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
            c.add(where, _("Each choice must be a single line of at most %(n)s characters."), n=CHOICE_MAX_LEN)
        elif text not in choices:
            choices.append(text)
    if not choices:
        c.add(where, _("An enum parameter needs at least one choice (separate values with commas)."))
    elif len(choices) > MAX_CHOICES:
        c.add(
            where,
            _("An enum parameter has at most %(n)s choices (it has %(count)s)."),
            n=MAX_CHOICES,
            count=len(choices),
        )
    return choices


def _default(c: Checker, param: dict, p: str, kind, choices: list[str], ctx: DefinitionContext) -> str:
    where = join(p, "default")
    if kind == "string" or kind is None:
        value = c.text(param, "default", p, max_len=DEFAULT_MAX_LEN, strip=False, multiline=True)
        return value or ""
    value = c.text(param, "default", p, max_len=DEFAULT_MAX_LEN)
    if value is None:
        return ""
    if kind == "enum":
        if not value:
            return choices[0] if choices else ""
        if choices and value not in choices:
            c.add(
                where,
                _("The default value must be one of the choices: %(choices)s."),
                choices=", ".join(quote(choice, 40) for choice in choices[:10]) + (" …" if len(choices) > 10 else ""),
            )
        return value
    if kind == "auto_increment":
        return value or AUTO_INCREMENT_DEFAULT
    # host_group (R7)
    if not ctx.host_groups:
        c.add(where, _("This project has no host groups yet; create one, then choose it here."))
    elif not value:
        c.add(where, _("Choose one of the project's host groups."))
    elif value not in ctx.host_groups:
        c.add(where, _("“%(name)s” is not a host group of this project."), name=quote(value))
    return value


def _secret(c: Checker, param: dict, p: str, name: str | None, ctx: DefinitionContext) -> str:
    """R4: the new secret value ("" = keep the stored one); never echoed in messages."""
    where = join(p, "default")
    value = param.get("default")
    if value is None or (isinstance(value, str) and not value.strip()):
        if name is None or name not in ctx.stored_secrets:
            c.add(where, _("Enter a value for the secret parameter."))
        return ""
    if not is_text(value) or len(value) > DEFAULT_MAX_LEN:
        c.add(where, _("A secret value must be text of at most %(n)s characters."), n=DEFAULT_MAX_LEN)
        return ""
    if len(value) < SECRET_MIN_LEN:
        c.add(
            where,
            _(
                "Secret values must have at least %(n)s characters: secrets shorter than %(n)s characters "
                "cannot be masked reliably."
            ),
            n=SECRET_MIN_LEN,
        )
        return ""
    return value
