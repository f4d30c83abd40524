"""Deploy task (P6): to a host group over SSH (``deploy_ssh``) or to Kubernetes (``deploy_k8s``).

Both fetch credentials while the task runs (a host's password or private key, a kubeconfig's token or client
key); ``protect`` adds them to the values masked in the task log, the task's message and Python log records,
on top of the secret parameters the runner already masks (R4, E5).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from devops_console.core.logmask import Masker, active_secrets
from pipelines.executors.base import Outcome
from pipelines.runs.models import State


def run(ctx):
    target = ctx.config.get("target")
    if target == "host_group":
        from pipelines.executors import deploy_ssh

        return deploy_ssh.run(ctx)
    if target == "kubernetes":
        from pipelines.executors import deploy_k8s

        return deploy_k8s.run(ctx)
    return Outcome(State.FAILED, message=_("Unknown deploy target “%(target)s”.") % {"target": target})


def protect(ctx, *values: str) -> active_secrets:
    """Mask ``values`` from now on; returns a context manager that also masks them in Python log records.

    ``ctx.secrets`` is the list the runner masks the task's final message with, so it is extended in place.
    """
    new = [value for value in dict.fromkeys(values) if value and value not in ctx.secrets]
    if new:
        ctx.secrets.extend(new)
        ctx.log.masker = Masker(ctx.secrets)
    return active_secrets(new)


def failed(message: str, **metrics) -> Outcome:
    return Outcome(State.FAILED, metrics=metrics, message=message)
