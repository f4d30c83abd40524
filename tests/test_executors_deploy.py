"""Deploy tasks (P6, R7) run by the real engine on a real Celery worker.

Host groups: against REAL OpenSSH servers (``sshd_factory``: Debian's /usr/sbin/sshd on 127.0.0.1, key auth,
each with a private home). Kubernetes: no real Kubernetes API server can run here, so a pytest-httpserver
STAND-IN answers discovery, server-side apply and Deployment reads the way the API server does, and checks
the bearer token of the endpoint's kubeconfig on every request.
"""

from __future__ import annotations

import json
import os
import re
import time

import pytest
import yaml
from werkzeug import Request, Response

from endpoints import services as endpoint_services
from endpoints.connectors.kubernetes import parse_kubeconfig
from pipelines.executors import deploy_k8s
from pipelines.models import Host, HostGroup
from pipelines.runs import engine
from pipelines.runs.models import Run, TaskRun
from pipelines.runs.start import start_run
from tests.engine_support import build, log_of, make_pipeline, stage, task_states, wait_for


def on_worker(test):
    """The test runs pipelines on the real Celery worker (transactional database)."""
    test = pytest.mark.usefixtures("celery_worker", "drain_runs")(test)
    return pytest.mark.django_db(transaction=True)(test)


SECRET = "s3cr3t-Deploy-Value-91"
TOKEN = "kube-bearer-Token-7715"


# --------------------------------------------------------------------------- host groups over SSH


def host_group(world, servers, name="web-hosts", *, credential=None) -> HostGroup:
    """A host group with one host per server, in order, each logging in with the server's key."""
    group = HostGroup.objects.create(project=world.project, name=name)
    for index, server in enumerate(servers):
        data = {"name": f"{name}-key-{index}", "kind": "ssh_key", "identity": server.user}
        cred = credential or endpoint_services.create_credential(
            world.users["developer"], world.project, {**data, "secret": server.private_key_pem}
        )
        Host.objects.create(group=group, address=server.host, port=server.port, ssh_user=server.user, credential=cred)
    return group


def deploy(commands, name="ship", **config):
    return {"name": name, "type": "deploy", "config": {"target": "host_group", "host_group": "web-hosts",
                                                        "commands": commands, **config}}  # fmt: skip


def label(server) -> str:
    return f"[{server.user}@{server.host}:{server.port}]"


def run_dir(run: Run) -> str:
    return f"deploy/{run.pipeline_id}-{run.number}"


@on_worker
def test_host_group_deploy_uploads_the_package_and_runs_on_every_host(world, sshd_factory):
    """Build a package, then deploy it to two real hosts: uploaded, commands run in order, output prefixed."""
    first, second = sshd_factory(), sshd_factory()
    host_group(world, [first, second])
    pipeline = make_pipeline(
        world,
        [
            stage(
                "Build",
                build(
                    commands="mkdir -p dist; echo payload-${PIPELINE_NUMBER} > dist/app.txt",
                    artifacts=["dist/*"],
                    package="web-app",
                    version="1.${PIPELINE_NUMBER}",
                ),
            ),
            stage(
                "Deploy",
                deploy(
                    'echo "hello from $DEPLOY_HOST in $PWD"; cp "$DEPLOY_PACKAGE" installed.txt\n'
                    'echo "$GREETING #$PIPELINE_NUMBER" > greeting.txt',
                    package="web-app",
                ),
            ),
        ],  # fmt: skip
        parameters=[{"name": "GREETING", "type": "string", "default": "hi there"}],
    )
    run = wait_for(start_run(world.users["developer"], pipeline))
    assert run.state == "succeeded", (task_states(run), log_of(run, "ship"))
    log = log_of(run, "ship")
    for server in (first, second):
        directory = run_dir(run)
        assert server.read(f"{directory}/app.txt") == "payload-1\n"
        assert server.read(f"{directory}/installed.txt") == "payload-1\n"
        assert server.read(f"{directory}/greeting.txt") == "hi there #1\n"
        assert server.files(directory) == [f"{directory}/{f}" for f in ("app.txt", "greeting.txt", "installed.txt")]
        assert f"{label(server)} hello from 127.0.0.1 in {server.home}/{directory}\n" in log
        assert re.search(re.escape(label(server)) + r" host key ssh-ed25519 SHA256:\S+ accepted", log)
    assert log.index(label(first)) < log.index(label(second))
    assert "package web-app 1.1 (app.txt" in log
    assert "PRIVATE KEY" not in log and first.private_key_pem.splitlines()[1] not in log
    assert TaskRun.objects.get(name="ship").metrics == {"hosts": 2}


@on_worker
def test_first_failing_host_stops_the_deploy_and_later_hosts_stay_untouched(world, sshd_factory):
    first, second = sshd_factory(), sshd_factory()
    host_group(world, [first, second])
    pipeline = make_pipeline(world, [stage("Deploy", deploy('echo "trying $DEPLOY_HOST"; exit 7'))])
    run = wait_for(start_run(world.users["developer"], pipeline))
    assert run.state == "failed" and task_states(run) == {"Deploy/ship": "failed"}
    task = TaskRun.objects.get(name="ship")
    log = log_of(run, "ship")
    assert task.exit_code == 7 and label(first)[1:-1] in task.message and "1 later host(s) skipped" in task.message
    assert f"{label(first)} trying 127.0.0.1" in log and f"{label(first)} failed: the commands exited with 7" in log
    assert f"{label(second)} skipped: an earlier host failed" in log
    assert f"{label(second)} connecting" not in log
    assert first.exists(run_dir(run)) and not second.exists("deploy")  # host 2 untouched
    assert "Accepted publickey" not in second.log()


@on_worker
def test_secret_parameter_reaches_the_host_but_is_masked_in_the_log(world, sshd_server):
    """R4 + R7: the host group comes from a host-group parameter; the secret is exported on the host, masked."""
    host_group(world, [sshd_server])
    pipeline = make_pipeline(
        world,
        [stage("Deploy", deploy('echo "token is $token"; echo "$token" > token.txt', host_group="${TARGET}"))],
        parameters=[
            {"name": "TARGET", "type": "host_group", "default": "web-hosts"},
            {"name": "token", "type": "string", "default": SECRET, "secret": True},
        ],
    )
    run = wait_for(start_run(world.users["developer"], pipeline))
    assert run.state == "succeeded", log_of(run, "ship")
    log = log_of(run, "ship")
    assert f"{label(sshd_server)} token is ******" in log and SECRET not in log
    assert sshd_server.read(f"{run_dir(run)}/token.txt") == SECRET + "\n"
    assert not [f for f in sshd_server.files() if ".deploy-" in f]  # the script removed itself


@on_worker
def test_stop_closes_the_session_and_ends_the_remote_commands(world, sshd_server):
    """X2: stopping during a long remote command ends the task as stopped and hangs up the remote processes."""
    host_group(world, [sshd_server])
    pipeline = make_pipeline(world, [stage("Deploy", deploy("echo $$ > shell.pid; echo started; sleep 60"))])
    run = start_run(world.users["developer"], pipeline)
    wait_for(run, what=lambda r: TaskRun.objects.filter(stage__run=r, log_size__gt=0).exists()
             and "started" in log_of(r, "ship"), timeout=30)  # fmt: skip
    pid = int(sshd_server.read(f"{run_dir(run)}/shell.pid"))
    assert os.path.exists(f"/proc/{pid}")
    assert engine.stop_run(run)
    run = wait_for(run)
    assert run.state == "stopped" and task_states(run) == {"Deploy/ship": "stopped"}
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{pid}"), "the remote shell survived the stop"
    wait_for(run, what=lambda r: "[stopped]" in log_of(r, "ship"))  # the worker is done with the task
    assert f"{label(sshd_server)} stopped: the session was closed" in log_of(run, "ship")


@on_worker
def test_refused_password_fails_clearly_and_is_never_logged(world, sshd_server):
    """A password credential (the server allows keys only): a clear failure, the password masked throughout."""
    password = "Wrong-SSH-Password-3344"
    credential = endpoint_services.create_credential(
        world.users["developer"], world.project,
        {"name": "pw", "kind": "username_password", "identity": sshd_server.user, "secret": password},
    )  # fmt: skip
    host_group(world, [sshd_server], credential=credential)
    pipeline = make_pipeline(world, [stage("Deploy", deploy("echo never"))])
    run = wait_for(start_run(world.users["developer"], pipeline))
    task = TaskRun.objects.get(name="ship")
    assert run.state == "failed" and "authentication failed" in task.message
    assert password not in log_of(run, "ship") and "never" not in log_of(run, "ship")


@pytest.mark.django_db
def test_ssh_key_credentials_are_validated(world):
    from django.core.exceptions import ValidationError

    from tests.servers.sshd import _ed25519_pair

    private, _public = _ed25519_pair()
    data = {"name": "k", "kind": "ssh_key", "identity": "deploy"}
    created = endpoint_services.create_credential(world.users["developer"], world.project, {**data, "secret": private})
    assert created.kind == "ssh_key" and created.secret == private
    data["name"] = "other"
    with pytest.raises(ValidationError) as error:
        endpoint_services.create_credential(world.users["developer"], world.project, {**data, "secret": "not a key"})
    assert "Not a valid SSH private key" in str(error.value)


# --------------------------------------------------------------------------- Kubernetes (stand-in API server)

RESOURCES = {
    "v1": [("configmaps", "ConfigMap"), ("services", "Service")],
    "apps/v1": [("deployments", "Deployment")],
}


class KubeStandIn:
    """Answers like an API server: discovery, server-side apply (PATCH), Deployment reads whose status becomes
    ready after ``ready_after`` reads (never when None). 401 without the kubeconfig's bearer token."""

    def __init__(self, httpserver, ready_after: int | None = 2):
        self.url = httpserver.url_for("/").rstrip("/")
        self.ready_after, self.requests, self.objects, self.reads = ready_after, [], {}, 0
        httpserver.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.requests.append((request.method, request.full_path.rstrip("?"), dict(request.headers), request.data))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.json({"kind": "Status", "code": 401, "message": "Unauthorized"}, 401)
        path = request.path
        if path == "/version":
            return self.json({"major": "1", "minor": "30", "gitVersion": "v1.30.2"})
        if path == "/api":
            return self.json({"kind": "APIVersions", "versions": ["v1"]})
        if path == "/apis":
            version = {"groupVersion": "apps/v1", "version": "v1"}
            groups = [{"name": "apps", "versions": [version], "preferredVersion": version}]
            return self.json({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        for group_version, resources in RESOURCES.items():
            if path == ("/api/" if group_version == "v1" else "/apis/") + group_version:
                listed = [{"name": n, "singularName": k.lower(), "namespaced": True, "kind": k,
                           "verbs": ["create", "get", "list", "patch", "update"]} for n, k in resources]  # fmt: skip
                return self.json({"kind": "APIResourceList", "groupVersion": group_version, "resources": listed})
        if request.method == "PATCH":
            body = json.loads(request.data)
            body["metadata"]["generation"] = 1
            self.objects[path] = body
            return self.json(body, 201)
        if request.method == "GET" and path in self.objects:
            self.reads += 1
            ready = self.ready_after is not None and self.reads >= self.ready_after
            obj = self.objects[path]
            wanted = obj["spec"].get("replicas", 1)
            status = {"observedGeneration": 1, "replicas": wanted, "updatedReplicas": wanted,
                      "availableReplicas": wanted if ready else 0}  # fmt: skip
            return self.json({**obj, "status": status})
        return self.json({"kind": "Status", "code": 404, "message": "not found"}, 404)

    @staticmethod
    def json(body, status=200) -> Response:
        return Response(json.dumps(body), status, content_type="application/json")

    def patches(self) -> dict[str, tuple[dict, dict]]:
        return {p: (h, json.loads(b)) for m, p, h, b in self.requests if m == "PATCH"}


def kubeconfig(server: str, token: str = TOKEN) -> str:
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "prod", "context": {"cluster": "c", "user": "u", "namespace": "ignored-ns"}}],
    })  # fmt: skip


MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "registry.example/web:1.${PIPELINE_NUMBER}"}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {greeting: hello}
"""


def kube_pipeline(world, stand_in, token=TOKEN):
    endpoint = endpoint_services.create_endpoint(
        world.users["developer"], world.project,
        {"name": "cluster", "type": "kubernetes", "url": stand_in.url, "kubeconfig": kubeconfig(stand_in.url, token)},
    )  # fmt: skip
    task = {"name": "ship", "type": "deploy", "config": {"target": "kubernetes", "endpoint": endpoint.pk,
            "manifests": MANIFESTS, "namespace": "prod", "rollout_timeout_seconds": 30}}  # fmt: skip
    return make_pipeline(world, [stage("Deploy", task)])


@on_worker
def test_kubernetes_deploy_applies_manifests_and_waits_for_the_rollout(world, httpserver):
    stand_in = KubeStandIn(httpserver, ready_after=3)
    run = wait_for(start_run(world.users["developer"], kube_pipeline(world, stand_in)))
    log = log_of(run, "ship")
    assert run.state == "succeeded", log
    patches = stand_in.patches()
    deployment_path = "/apis/apps/v1/namespaces/prod/deployments/web?fieldManager=devops-console&force=true"
    headers, body = patches[deployment_path]
    assert headers["Content-Type"] == "application/apply-patch+yaml"
    assert body["metadata"] == {"name": "web", "labels": {"app": "web"}, "namespace": "prod"}
    assert body["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/web:1.1"  # R3
    headers, body = patches["/api/v1/namespaces/prod/configmaps/web-config?fieldManager=devops-console&force=true"]
    assert body["data"] == {"greeting": "hello"}
    assert all(h["Authorization"] == f"Bearer {TOKEN}" for _m, _p, h, _b in stand_in.requests)
    assert stand_in.reads == 3
    assert "applied Deployment prod/web" in log and "applied ConfigMap prod/web-config" in log
    assert "waiting for deployment prod/web: 0 of 2 updated replicas available" in log
    assert "deployment prod/web rolled out: 2 of 2 replicas available" in log
    assert TOKEN not in log
    assert TaskRun.objects.get(name="ship").metrics == {"objects": 2, "deployments": 1}


@on_worker
def test_kubernetes_deploy_fails_clearly_when_the_api_server_refuses_the_token(world, httpserver):
    stand_in = KubeStandIn(httpserver)
    run = wait_for(start_run(world.users["developer"], kube_pipeline(world, stand_in, token="wrong-Token-5566")))
    task = TaskRun.objects.get(name="ship")
    assert run.state == "failed" and "the API server answered 401: Unauthorized" in task.message
    assert not stand_in.patches() and "wrong-Token-5566" not in log_of(run, "ship")


def test_rollout_timeout_names_the_deployment(httpserver):
    """The rollout wait gives up after the timeout with a clear message (in-process, with a short timeout:
    the task's rollout_timeout_seconds is at least 10)."""
    stand_in = KubeStandIn(httpserver, ready_after=None)
    lines: list[str] = []
    target = parse_kubeconfig(kubeconfig(stand_in.url))
    with deploy_k8s.connect(target, stand_in.url) as cluster:
        cluster.apply(yaml.safe_load(MANIFESTS.split("---")[0]), "prod")
        started = time.monotonic()
        problem = deploy_k8s.wait_for_rollouts(cluster, [("prod", "web")], 2, lines.append, lambda: False)
    assert 1.9 < time.monotonic() - started < 5
    assert problem == (
        "Deployment prod/web did not finish its rollout within 2 seconds (0 of 2 updated replicas available)."
    )
    assert lines == ["waiting for deployment prod/web: 0 of 2 updated replicas available"]
    assert stand_in.reads >= 2
