"""The pipeline definition document as a whole (API.md "Pipeline definition"): validation and defaults."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from .base import ROOT, Checker, DefinitionContext, DefinitionError
from .parameters import validate_parameters
from .refs import system_parameters
from .sources import validate_sources
from .stages import validate_stages
from .triggers import default_notifications, empty_triggers, validate_notifications, validate_triggers

TOP_KEYS = ("name", "description", "sources", "parameters", "stages", "triggers", "notifications")
NAME_MAX_LEN = 100
DESCRIPTION_MAX_LEN = 2000


def validate_definition(data, ctx: DefinitionContext) -> tuple[dict, dict[str, str]]:
    """Validate and normalize a whole definition; return it with the secret parameter values to store.

    Raises ``DefinitionError`` listing every error (never another exception, whatever ``data`` is).
    The normalized document has every optional field filled and no secret value in it (R4).
    """
    c = Checker()
    try:
        result = _validate(c, data, ctx)
    except RecursionError:  # pragma: no cover - the readers do not recurse into input
        c.add(ROOT, _("The definition is nested too deeply."))
        result = None
    if c.errors or result is None:
        raise DefinitionError(c.errors or {ROOT: [_("The definition is invalid.")]})
    return result


def _validate(c: Checker, data, ctx: DefinitionContext) -> tuple[dict, dict[str, str]] | None:
    if not isinstance(data, dict):
        c.add(
            ROOT,
            _("The definition must be an object with name, sources, parameters, stages, triggers and notifications."),
        )
        return None
    c.unknown_keys(data, "", TOP_KEYS)
    name = c.text(
        data,
        "name",
        "",
        max_len=NAME_MAX_LEN,
        required=True,
        hint=_l("Give the pipeline a name of 1 to 100 characters."),
    )
    description = c.text(data, "description", "", max_len=DESCRIPTION_MAX_LEN, multiline=True)
    sources = validate_sources(c, data.get("sources"), ctx)
    system = system_parameters({"sources": sources})
    parameters, secrets = validate_parameters(c, data, "parameters", "", ctx, reserved=system)
    stages = validate_stages(c, data.get("stages"), ctx, sources, parameters, system)
    definition = {
        "name": name,
        "description": description,
        "sources": sources,
        "parameters": parameters,
        "stages": stages,
        "triggers": validate_triggers(c, data.get("triggers")),
        "notifications": validate_notifications(c, data.get("notifications")),
    }
    return definition, secrets


def default_definition() -> dict:
    """A valid empty pipeline: no sources, no stages, default triggers and notifications."""
    return {
        "name": str(_("New pipeline")),
        "description": "",
        "sources": [],
        "parameters": [],
        "stages": [],
        "triggers": empty_triggers(),
        "notifications": default_notifications(),
    }
