"""System templates shipped as data (M1): one YAML file per template in this directory.

Each file holds ``key`` (stable), ``name``, ``description`` and ``definition`` (``parameters`` and
``stages`` of a pipeline definition; tasks work on the source alias ``app``; deploy endpoints, host
groups and reviewers are left empty and chosen when a pipeline is generated). A stage gate is written
``{template_name: <name>}`` and resolved to the id of the system gate template of that name
(``GATE_TEMPLATES``, created when missing), because ids differ between databases.

``load(apps)`` is idempotent: templates are created or updated by key. The data migrations call it with
their historical ``apps``; ``manage.py load_system_templates`` with the live registry.
"""

from __future__ import annotations

from pathlib import Path

import yaml

DIRECTORY = Path(__file__).resolve().parent

#: system gate templates (project empty) the shipped templates use, by name (P7)
GATE_TEMPLATES = {
    "No code-check issues": [{"metric": "issue_count", "threshold": 0}],
    "API tests pass rate ≥ 90%": [{"metric": "pass_rate", "threshold": 90}],
}


def read() -> list[dict]:
    """The shipped templates as written, in file name order."""
    out = []
    for path in sorted(DIRECTORY.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not data.get("key") or not isinstance(data.get("definition"), dict):
            raise ValueError(f"{path.name}: a system template needs key, name and definition")
        out.append(data)
    return out


def resolve_gates(definition: dict, gate_ids: dict[str, int]) -> dict:
    """A copy of ``definition`` with ``{template_name: …}`` gates replaced by ``{template: id}``."""
    stages = []
    for stage in definition.get("stages") or []:
        gates = []
        for gate in stage.get("gates") or []:
            if "template_name" in gate:
                gate = {"template": gate_ids[gate["template_name"]]}
            gates.append(gate)
        stages.append({**stage, "gates": gates} if gates or "gates" in stage else stage)
    return {**definition, "stages": stages}


def load(apps=None) -> int:
    """Create or update every shipped template (and the gate templates they use); return how many."""
    if apps is None:
        from django.apps import apps
    GateTemplate = apps.get_model("pipelines", "GateTemplate")
    PipelineTemplate = apps.get_model("templates_app", "PipelineTemplate")
    gate_ids = {}
    for name, items in GATE_TEMPLATES.items():
        gate = GateTemplate.objects.filter(project__isnull=True, name=name).order_by("pk").first()
        if gate is None:
            gate = GateTemplate.objects.create(project=None, name=name, items=items)
        gate_ids[name] = gate.pk
    templates = read()
    for data in templates:
        PipelineTemplate.objects.update_or_create(
            key=data["key"],
            defaults={
                "name": data["name"],
                "description": (data.get("description") or "").strip(),
                "system": True,
                "owner": None,
                "project": None,
                "definition": resolve_gates(data["definition"], gate_ids),
            },
        )
    return len(templates)
