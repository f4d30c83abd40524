"""Deploy tasks (P6): commands on a host group (R7), or Kubernetes manifests through an endpoint."""

from __future__ import annotations

import re

import yaml
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from .base import Checker, join, quote
from .tasks import TaskScope, commands, package_name

DEPLOY_TARGETS = ("host_group", "kubernetes")
DEPLOY_KEYS = (
    "target",
    "host_group",
    "commands",
    "package",
    "endpoint",
    "manifests",
    "namespace",
    "rollout_timeout_seconds",
)
MANIFESTS_MAX_LEN = 200_000
MAX_MANIFEST_DOCUMENTS = 100
DEFAULT_ROLLOUT_TIMEOUT = 300
_DNS_LABEL_RE = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_SINGLE_REF_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def deploy(c: Checker, cfg: dict, path: str, scope: TaskScope) -> dict:
    target = c.choice(cfg, "target", path, DEPLOY_TARGETS)
    if target == "host_group":
        return {
            "target": target,
            "host_group": _host_group(c, cfg, path, scope),
            "commands": commands(c, cfg, path),
            "package": package_name(c, cfg, path) or "",
        }
    if target == "kubernetes":
        namespace = c.text(cfg, "namespace", path, max_len=253)
        if namespace and not (_DNS_LABEL_RE.fullmatch(namespace) or _SINGLE_REF_RE.fullmatch(namespace)):
            c.add(
                join(path, "namespace"),
                _(
                    "“Namespace” must be a DNS label: lowercase letters, digits and “-”, "
                    "at most 63 characters, starting and ending with a letter or digit."
                ),
            )
        return {
            "target": target,
            "endpoint": c.endpoint(cfg, "endpoint", path, scope.ctx, {"kubernetes"}, what=_l("a Kubernetes deploy")),
            "manifests": _manifests(c, cfg, path),
            "namespace": namespace,
            "rollout_timeout_seconds": c.integer(
                cfg, "rollout_timeout_seconds", path, lo=10, hi=3600, default=DEFAULT_ROLLOUT_TIMEOUT
            ),
        }
    return {"target": target}


def _host_group(c: Checker, cfg: dict, path: str, scope: TaskScope) -> str | None:
    """A host group of the project, or ``${name}`` of a host-group parameter (R7)."""
    value = c.text(
        cfg, "host_group", path, max_len=100, required=True, hint=_l("Choose one of the project's host groups.")
    )
    if not value:
        return value
    ref = _SINGLE_REF_RE.fullmatch(value)
    if ref:
        kind = scope.parameter_types.get(ref.group(1))
        if kind is not None and kind != "host_group":
            c.add(
                join(path, "host_group"),
                _("%(where)s: parameter ${%(name)s} is not of type host group."),
                where=scope.where(),
                name=ref.group(1),
            )
    elif value not in scope.ctx.host_groups:
        c.add(join(path, "host_group"), _("“%(name)s” is not a host group of this project."), name=quote(value))
    return value


def _manifests(c: Checker, cfg: dict, path: str) -> str | None:
    """YAML documents, each a mapping with apiVersion and kind."""
    where = join(path, "manifests")
    text = c.text(
        cfg,
        "manifests",
        path,
        max_len=MANIFESTS_MAX_LEN,
        required=True,
        multiline=True,
        hint=_l("Paste the Kubernetes YAML to apply."),
    )
    if not text:
        return text
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            c.add(where, _("The manifests are not valid YAML (line %(line)s)."), line=mark.line + 1)
        else:
            c.add(where, _("The manifests are not valid YAML."))
        return text
    except Exception:  # deep nesting (RecursionError) and other parser failures
        c.add(where, _("The manifests are not valid YAML."))
        return text
    if not documents:
        c.add(where, _("The manifests contain no YAML document."))
    elif len(documents) > MAX_MANIFEST_DOCUMENTS:
        c.add(where, _("At most %(n)s manifest documents are allowed."), n=MAX_MANIFEST_DOCUMENTS)
    for number, document in enumerate(documents[:MAX_MANIFEST_DOCUMENTS], start=1):
        if not isinstance(document, dict):
            c.add(where, _("Manifest document %(n)s must be a mapping with apiVersion and kind."), n=number)
            continue
        missing = [
            key for key in ("apiVersion", "kind") if not isinstance(document.get(key), str) or not document.get(key)
        ]
        if missing:
            c.add(where, _("Manifest document %(n)s has no %(keys)s."), n=number, keys=_(" and ").join(missing))
    return text
