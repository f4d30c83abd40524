"""Deploy to Kubernetes (P6): apply the manifests with the endpoint's kubeconfig, then wait for Deployments.

The endpoint is checked again when the task runs: the run's starter may use it (E3) and its credential has
not expired (``preflight.usable_endpoint``); the use is audited. The kubeconfig's current context selects the
cluster and user, under the connector's rules (``endpoints.connectors.kubernetes.parse_kubeconfig``): only
embedded material, no file paths, no exec or auth-provider plugins (they would read files or run commands
on the worker). The endpoint's URL, CA bundle and "skip TLS verification" apply as for verification; CA,
client certificate and key are written to 0600 files in a private directory removed afterwards. Token,
password and client key are masked in the log.

Each YAML document is applied by server-side apply (PATCH ``application/apply-patch+yaml``, field manager
``devops-console``, conflicts forced) through the kubernetes client's dynamic client: it creates the object
or updates it, and API discovery finds the resource, so any kind the cluster serves works (CRDs too).
Namespaced objects go to their own ``metadata.namespace``, else the task's ``namespace``, else the context's,
else ``default``. Then each applied Deployment is polled (``POLL_SECONDS``) until its rollout is complete as
``kubectl rollout status`` decides, or ``rollout_timeout_seconds`` have passed: the task fails, naming it.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from contextlib import contextmanager
from functools import partial

import urllib3
import yaml
from django.conf import settings
from django.utils.translation import gettext as _
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError

from endpoints.connectors import ConnectorError
from endpoints.connectors._base import private_tempdir, write_private_file
from endpoints.connectors._net import ca_file_content, check_url_allowed
from endpoints.connectors.kubernetes import KubeTarget, parse_kubeconfig
from endpoints.services import endpoint_values, record_use
from pipelines.definition.deploy import DEFAULT_ROLLOUT_TIMEOUT
from pipelines.executors.base import Outcome, Stopped
from pipelines.executors.deploy import failed, protect
from pipelines.runs.models import State
from pipelines.runs.preflight import starter_of, usable_endpoint

FIELD_MANAGER = "devops-console"
POLL_SECONDS = 1.0
REQUEST_TIMEOUT = (10, 60)  # connect, read (seconds) of each API request


class DeployError(Exception):
    """A problem with the manifests or the cluster, with a message fit for the task log."""


def run(ctx):
    config = ctx.config
    starter = starter_of(ctx.run)
    where = f"{ctx.task.stage.name} › {ctx.task.name}"
    endpoint, why = usable_endpoint(starter, ctx.run.pipeline.project_id, config.get("endpoint"), where)
    if endpoint is None:
        return failed(why)
    fields, secrets = endpoint_values(endpoint)
    kubeconfig = secrets.get("kubeconfig", "")
    try:
        target = parse_kubeconfig(kubeconfig)
        documents = manifest_documents(config.get("manifests") or "")
    except (ConnectorError, DeployError) as exc:
        return failed(_("Kubernetes endpoint “%(name)s”: %(problem)s") % {"name": endpoint.name, "problem": exc})
    namespace = config.get("namespace") or target.namespace or "default"
    timeout = config.get("rollout_timeout_seconds") or DEFAULT_ROLLOUT_TIMEOUT
    key = target.client_key_pem.decode("ascii", "ignore")
    with protect(ctx, target.token, target.password, key):
        record_use(endpoint, ctx.run.triggered_by, f"{ctx.run.pipeline} #{ctx.run.number}")
        url = fields.get("url") or target.server
        ctx.log.line(f"cluster {url} (endpoint {endpoint.name}), default namespace {namespace}")
        try:
            with connect(target, url, ca_bundle=endpoint.ca_bundle, skip_verify=endpoint.skip_tls_verify) as cluster:
                applied = []
                for document in documents:
                    kind, ns, name = cluster.apply(document, namespace, explicit=bool(config.get("namespace")))
                    applied.append((kind, ns, name))
                    log_now(ctx, f"applied {kind} {ns + '/' if ns else ''}{name}")
                deployments = [(ns, name) for kind, ns, name in applied if kind == "Deployment"]
                problem = wait_for_rollouts(cluster, deployments, timeout, partial(log_now, ctx), ctx.stopped)
        except (ConnectorError, DeployError) as exc:
            ctx.log.line(f"[error] {exc}")
            return failed(_("Kubernetes endpoint “%(name)s”: %(problem)s") % {"name": endpoint.name, "problem": exc})
    if problem:
        ctx.log.line(f"[timeout] {problem}")
        return failed(problem, objects=len(applied))
    return Outcome(State.SUCCEEDED, metrics={"objects": len(applied), "deployments": len(deployments)})


def log_now(ctx, text: str) -> None:
    ctx.log.line(text)
    ctx.log.flush()  # visible at once, not only with the next line (X2)


def manifest_documents(text: str) -> list[dict]:
    """The YAML documents (after ${…} substitution), each a mapping with apiVersion, kind and metadata.name."""
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _(" (line %(line)s)") % {"line": mark.line + 1} if mark else ""
        raise DeployError(_("the manifests are not valid YAML%(where)s.") % {"where": where}) from None
    if not documents:
        raise DeployError(_("the manifests contain no YAML document."))
    for number, doc in enumerate(documents, start=1):
        metadata = doc.get("metadata") if isinstance(doc, dict) else None
        if not (isinstance(metadata, dict) and metadata.get("name") and doc.get("apiVersion") and doc.get("kind")):
            raise DeployError(_("manifest document %(n)s needs apiVersion, kind and metadata.name.") % {"n": number})
    return documents


class Cluster:
    """The dynamic client with the two operations a deploy needs."""

    def __init__(self, client: DynamicClient):
        self.client = client

    def _resource(self, api_version: str, kind: str):
        try:
            return self.client.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            raise DeployError(
                _("the cluster serves no %(kind)s in %(api)s.") % {"kind": kind, "api": api_version}
            ) from None

    def apply(self, document: dict, namespace: str, *, explicit: bool = False) -> tuple[str, str, str]:
        """Server-side apply one document; returns (kind, namespace or "", name)."""
        kind, metadata = document["kind"], document["metadata"]
        resource = self._resource(document["apiVersion"], kind)
        ns = ""
        if resource.namespaced:
            ns = str(metadata.get("namespace") or namespace)
            if explicit and ns != namespace:
                raise DeployError(
                    _("%(kind)s %(name)s names namespace %(ns)s, not the task's %(task)s.")
                    % {"kind": kind, "name": metadata["name"], "ns": ns, "task": namespace}
                )
            metadata["namespace"] = ns
        self._call(self.client.server_side_apply, resource, body=document, name=str(metadata["name"]),
                   namespace=ns or None, field_manager=FIELD_MANAGER, force_conflicts=True)  # fmt: skip
        return kind, ns, str(metadata["name"])

    def deployment(self, namespace: str, name: str) -> dict:
        resource = self._resource("apps/v1", "Deployment")
        return self._call(self.client.get, resource, name=name, namespace=namespace).to_dict()

    @staticmethod
    def _call(method, *args, **kwargs):
        try:
            return method(*args, _request_timeout=REQUEST_TIMEOUT, **kwargs)
        except (ApiException, DynamicApiError) as exc:
            raise DeployError(describe_api_error(exc)) from None


def describe_api_error(exc) -> str:
    status = getattr(exc, "status", None)
    body = getattr(exc, "body", None)
    try:
        message = json.loads(body).get("message") if body else ""
    except (ValueError, AttributeError, TypeError):
        message = ""
    reason = message or getattr(exc, "reason", "") or str(exc)
    return _("the API server answered %(status)s: %(reason)s") % {"status": status, "reason": str(reason)[:500]}


@contextmanager
def connect(target: KubeTarget, url: str, *, ca_bundle: str = "", skip_verify: bool = False):
    """A ``Cluster`` for the kubeconfig's current context at ``url``; key files live only while it is used."""
    url = (url or "").rstrip("/")
    if not url:
        raise DeployError(_("neither the endpoint nor the kubeconfig gives an API server URL."))
    check_url_allowed(url, allow_link_local=settings.ENDPOINT_VERIFY_ALLOW_LINK_LOCAL)
    with private_tempdir("deploy-kube-") as tmp:
        configuration = Configuration()
        configuration.host = url
        configuration.verify_ssl = not (skip_verify or target.insecure)
        extra_ca = "\n".join(pem.strip() for pem in (target.ca_pem, ca_bundle) if pem and pem.strip())
        if extra_ca:
            configuration.ssl_ca_cert = write_private_file(tmp, "ca.crt", ca_file_content(extra_ca))
        if target.client_cert_pem:
            configuration.cert_file = write_private_file(tmp, "client.crt", target.client_cert_pem)
            configuration.key_file = write_private_file(tmp, "client.key", target.client_key_pem)
        if target.token:
            configuration.api_key = {"authorization": f"Bearer {target.token}"}
        elif target.username or target.password:  # basic auth (old clusters); sent as the same header
            basic = base64.b64encode(f"{target.username}:{target.password}".encode()).decode()
            configuration.api_key = {"authorization": f"Basic {basic}"}
        with ApiClient(configuration) as api:
            try:
                yield Cluster(DynamicClient(api, cache_file=f"{tmp}/discovery.json"))
            except (ApiException, DynamicApiError) as exc:  # discovery failures
                raise DeployError(describe_api_error(exc)) from None
            except (OSError, urllib3.exceptions.HTTPError) as exc:
                raise DeployError(_("cannot reach the API server: %(e)s") % {"e": exc}) from None


def rollout_state(deployment: dict) -> tuple[bool, str]:
    """(complete, why), as ``kubectl rollout status`` decides; raises DeployError past the progress deadline."""
    metadata, spec = deployment.get("metadata") or {}, deployment.get("spec") or {}
    status = deployment.get("status") or {}
    generation, observed = metadata.get("generation"), status.get("observedGeneration")
    if generation is not None and (observed is None or observed < generation):
        return False, "waiting for the new spec to be observed"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            raise DeployError(_("deployment %(name)s exceeded its progress deadline.") % {"name": metadata.get("name")})
    wanted = spec.get("replicas", 1)
    updated, total = status.get("updatedReplicas") or 0, status.get("replicas") or 0
    available = status.get("availableReplicas") or 0
    if updated < wanted:
        return False, f"{updated} of {wanted} replicas updated"
    if total > updated:
        return False, f"{total - updated} old replicas pending termination"
    if available < updated:
        return False, f"{available} of {updated} updated replicas available"
    return True, f"{available} of {wanted} replicas available"


def wait_for_rollouts(cluster: Cluster, deployments: list[tuple[str, str]], timeout: float,
                      log: Callable[[str], None], stopped: Callable[[], bool]) -> str:  # fmt: skip
    """Poll until every Deployment has rolled out; "" when they have, else why not (timeout). Raises Stopped."""
    deadline = time.monotonic() + timeout
    pending, last = list(deployments), {}
    while pending:
        for ns, name in list(pending):
            done, why = rollout_state(cluster.deployment(ns, name))
            if done:
                log(f"deployment {ns}/{name} rolled out: {why}")
                pending.remove((ns, name))
            elif last.get((ns, name)) != why:
                log(f"waiting for deployment {ns}/{name}: {why}")
                last[(ns, name)] = why
        if not pending:
            break
        if time.monotonic() >= deadline:
            ns, name = pending[0]
            return _("Deployment %(ns)s/%(name)s did not finish its rollout within %(n)s seconds (%(why)s).") % {
                "ns": ns, "name": name, "n": int(timeout), "why": last.get((ns, name), "")}  # fmt: skip
        pause_until = min(deadline, time.monotonic() + POLL_SECONDS)
        while time.monotonic() < pause_until:
            if stopped():
                raise Stopped
            time.sleep(0.1)
    return ""
