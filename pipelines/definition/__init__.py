"""The pipeline definition document (API.md "Pipeline definition"; SPEC P2, P5–P7, R1–R9, T1–T5, N1).

Pure Python: no models, no database, no settings. Callers build a ``DefinitionContext`` (what the saving
user may refer to) and call ``validate_definition``, which returns the normalized document (defaults
filled, secret values removed) and the secret values to store, or raises ``DefinitionError`` with every
error by path (``stages[1].tasks[0].config.commands``).
"""

from .base import ROOT, DefinitionContext, DefinitionError
from .control import find_cycle
from .parameters import PARAMETER_TYPES, TASK_PARAMETER_TYPES
from .refs import (
    ALIAS_SUFFIXES,
    CODE_SOURCE_KINDS,
    SYSTEM_PARAMETERS,
    find_references,
    referenced_endpoints,
    referenced_parameters,
    referenced_pipelines,
    substitute,
    system_parameters,
)
from .schema import default_definition, validate_definition
from .sources import ENDPOINT_TYPES, SOURCE_KINDS
from .stages import CONTROL_TASK_TYPES, TASK_TYPES
from .triggers import (
    DAYS,
    MERGE_REQUEST_EVENTS,
    NOTIFICATION_EVENTS,
    default_notifications,
    empty_triggers,
)

__all__ = [
    "ALIAS_SUFFIXES",
    "CODE_SOURCE_KINDS",
    "CONTROL_TASK_TYPES",
    "DAYS",
    "ENDPOINT_TYPES",
    "MERGE_REQUEST_EVENTS",
    "NOTIFICATION_EVENTS",
    "PARAMETER_TYPES",
    "ROOT",
    "SOURCE_KINDS",
    "SYSTEM_PARAMETERS",
    "TASK_PARAMETER_TYPES",
    "TASK_TYPES",
    "DefinitionContext",
    "DefinitionError",
    "default_definition",
    "default_notifications",
    "empty_triggers",
    "find_cycle",
    "find_references",
    "referenced_endpoints",
    "referenced_parameters",
    "referenced_pipelines",
    "substitute",
    "system_parameters",
    "validate_definition",
]
