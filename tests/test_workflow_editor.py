"""The workflow editor: stages (P5), tasks (P6), quality gates (P7), parameter references (R3) and task
parameters (R9) — the pure edits of ``pipelines.workflow_ops``, every page operation with its refusals, and
the permission matrix (viewing needs VIEW, every change CHANGE; another project's pipeline is 404)."""

from __future__ import annotations

import copy

import pytest
import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from endpoints import services as endpoint_services
from pipelines import services, workflow_ops
from pipelines.definition import default_definition
from pipelines.models import GateTemplate, HostGroup, Pipeline
from pipelines.workflow_ops import WorkflowError
from tests.matrix import check_matrix, expect

pytestmark = pytest.mark.django_db
REFUSED = dict(tester=403, operator=403, participant=403, viewer=403)


WORKFLOW = yaml.safe_load("""
parameters: [{name: releaseversion, type: auto_increment, default: 1.0.0, runtime: true}]
stages:
- name: Build
  tasks:
  - {name: compile, type: build, parameters: [{name: TARGET, default: staging}],
     config: {commands: "make ${TARGET}", artifacts: ["dist/*"], package: web-app, version: "${releaseversion}"}}
  - {name: approve, type: manual_review, config: {reviewers: [manager]}}
- name: Verify
  parallel: true
  tasks:
  - {name: lint, type: code_check, config: {preset: ruff}}
  - {name: smoke, type: api_test, config: {mode: http, checks: [{url: "https://staging.example/health"}]}}
""")


def definition(name="web-app", workflow=WORKFLOW) -> dict:
    return {**default_definition(), "name": name, **copy.deepcopy(workflow)}


@pytest.fixture
def pipeline(world):
    return services.create_pipeline(world.users["creator"], world.project, definition())


@pytest.fixture
def system_gate(db):
    return GateTemplate.objects.create(name="No issues (test)", items=[{"metric": "issue_count", "threshold": 0}])


def url(pipeline, suffix="") -> str:
    return f"/projects/{pipeline.project_id}/pipelines/{pipeline.pk}/workflow/{suffix}"


def client(world, actor="developer") -> Client:
    c = Client()
    c.force_login(world.users[actor])
    return c


def get(c, pipeline, suffix="", **extra) -> str:
    return c.get(url(pipeline, suffix), **extra).content.decode()


def send(c, pipeline, suffix, data=None, **extra) -> str:
    """POST and return the page (``follow=True`` to see the redirect's messages)."""
    return c.post(url(pipeline, suffix), data or {}, **extra).content.decode()


def names(items) -> list[str]:
    return [item["name"] for item in items]


def fresh(pipeline) -> Pipeline:
    return Pipeline.objects.get(pk=pipeline.pk)


def stage_names(pipeline) -> list[str]:
    return names(fresh(pipeline).definition["stages"])


def task_names(pipeline, stage) -> list[str]:
    return names(fresh(pipeline).definition["stages"][stage]["tasks"])


def summary(pipeline) -> str:
    return fresh(pipeline).versions.first().summary


# --------------------------------------------------------------------------- pure edits


def test_stage_edits_return_new_definitions():
    """P5: add, edit, copy, move and delete stages; the input definition is never changed."""
    d = definition()
    before = copy.deepcopy(d)
    added = workflow_ops.add_stage(d, {"name": "Deploy", "manual": True})
    assert names(added["stages"]) == ["Build", "Verify", "Deploy"]
    assert added["stages"][2] == workflow_ops.blank_stage("Deploy", manual=True)
    edited = workflow_ops.edit_stage(d, 1, {"name": "Checks", "always_run": True})
    assert edited["stages"][1]["name"] == "Checks" and edited["stages"][1]["always_run"]
    assert edited["stages"][1]["tasks"] == d["stages"][1]["tasks"]
    copied = workflow_ops.copy_stage(d, 0)
    assert names(copied["stages"]) == ["Build", "Build copy", "Verify"]
    assert copied["stages"][1]["tasks"] == d["stages"][0]["tasks"]
    twice = workflow_ops.copy_stage(copied, 0)
    assert names(twice["stages"])[:3] == ["Build", "Build copy 2", "Build copy"]
    assert names(workflow_ops.move_stage(d, 0, 1)["stages"]) == ["Verify", "Build"]
    assert names(workflow_ops.move_stage(d, 1, -1)["stages"]) == ["Verify", "Build"]
    assert names(workflow_ops.delete_stage(d, 0)["stages"]) == ["Verify"]
    assert d == before


def test_task_edits_and_refusals():
    """P6: add, edit, copy, move and delete tasks; no reordering inside a parallel stage; bad indexes refused."""
    d = definition()
    new = {"name": "wait", "type": "delay", "config": {"seconds": 30}}
    assert names(workflow_ops.add_task(d, 0, new)["stages"][0]["tasks"]) == ["compile", "approve", "wait"]
    assert workflow_ops.edit_task(d, 0, 1, new)["stages"][0]["tasks"][1] == new
    copied = workflow_ops.copy_task(d, 0, 0)["stages"][0]["tasks"]
    assert names(copied) == ["compile", "compile copy", "approve"]
    assert names(workflow_ops.move_task(d, 0, 1, -1)["stages"][0]["tasks"]) == ["approve", "compile"]
    assert names(workflow_ops.delete_task(d, 0, 0)["stages"][0]["tasks"]) == ["approve"]
    with pytest.raises(WorkflowError, match="parallel"):
        workflow_ops.move_task(d, 1, 0, 1)
    with pytest.raises(WorkflowError, match="first"):
        workflow_ops.move_task(d, 0, 0, -1)
    with pytest.raises(WorkflowError, match="last"):
        workflow_ops.move_stage(d, 1, 1)
    with pytest.raises(WorkflowError):
        workflow_ops.edit_task(d, 0, 7, new)
    with pytest.raises(WorkflowError):
        workflow_ops.delete_stage(d, 5)


def test_copy_names_stay_unique_and_short():
    assert workflow_ops.copy_name("x" * 100, []) == ("x" * 100 + " copy")[:100]
    taken = ["a copy", "a copy 2"]
    assert workflow_ops.copy_name("a", taken) == "a copy 3"
    assert len(workflow_ops.copy_name("y" * 99, ["y" * 99 + " copy"[:1]])) <= 100


def test_gates_and_promoted_parameters():
    """P7: a stage's gates are a de-duplicated list of templates; R9: a task parameter becomes a pipeline one."""
    d = definition()
    assert workflow_ops.set_gates(d, 1, [7, 7, 3])["stages"][1]["gates"] == [{"template": 7}, {"template": 3}]
    assert workflow_ops.set_gates(d, 1, [])["stages"][1]["gates"] == []
    promoted = workflow_ops.promote_task_parameter(d, 0, 0, "TARGET")
    assert promoted["stages"][0]["tasks"][0]["parameters"] == []
    assert promoted["parameters"][-1] == {"name": "TARGET", "type": "string", "default": "staging", "choices": [],
                                          "secret": False, "runtime": True, "description": ""}  # fmt: skip
    with pytest.raises(WorkflowError):
        workflow_ops.promote_task_parameter(d, 0, 0, "NOPE")


def test_edits_do_not_validate_the_service_does(world, pipeline):
    """P6: a delay in a parallel stage is a valid *edit*; the validator refuses it when it is saved."""
    new = workflow_ops.add_task(pipeline.definition, 1, {"name": "wait", "type": "delay", "config": {"seconds": 5}})
    with pytest.raises(ValidationError) as exc:
        services.update_pipeline(world.users["creator"], pipeline, new, partial=True)
    assert "only allowed in serial stages" in exc.value.message_dict["stages[1].tasks[2]"][0]


# --------------------------------------------------------------------------- the page


def test_editor_shows_stage_columns_flags_tasks_and_gates(world, pipeline, system_gate):
    """P5/P7: stages as columns with flags, tasks as cards, the gate in the stage."""
    services.update_pipeline(
        world.users["creator"], pipeline, workflow_ops.set_gates(pipeline.definition, 1, [system_gate.pk]), partial=True
    )
    html = client(world).get(url(pipeline)).content.decode()
    assert html.index('data-stage="Build"') < html.index('data-stage="Verify"')
    assert 'data-flag="parallel"' in html and 'data-flag="serial"' in html
    assert 'data-task="compile"' in html and "make ${TARGET} → web-app" in html
    assert "No issues (test)" in html and "Code-check issues ≤ 0" in html
    assert 'data-testid="add-stage"' in html and 'data-testid="task-up"' in html


def test_viewer_sees_the_workflow_without_edit_controls(world, pipeline):
    html = client(world, "viewer").get(url(pipeline)).content.decode()
    assert 'data-testid="read-only"' in html and 'data-task="compile"' in html
    assert 'data-testid="add-stage"' not in html and "stage-menu" not in html


def test_form_pages_work_with_and_without_htmx(world, pipeline):
    """No JavaScript: the form URL is the whole editor page with the drawer open; htmx gets the drawer alone."""
    c = client(world)
    page = get(c, pipeline, "stages/0/tasks/add/build/")
    assert "<html" in page and 'data-testid="task-drawer"' in page and 'data-stage="Build"' in page
    fragment = c.get(url(pipeline, "stages/0/tasks/add/build/"), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and 'data-testid="task-drawer"' in fragment
    assert c.get(url(pipeline, "stages/0/tasks/add/nope/")).status_code == 404
    assert c.get(url(pipeline, "stages/9/edit/")).status_code == 404


# --------------------------------------------------------------------------- stages (P5)


def test_add_stage_records_a_version_without_js(world, pipeline):
    c = client(world)
    data = {"name": "Deploy", "parallel": "serial", "manual": "manual", "always_run": "on"}
    response = c.post(url(pipeline, "stages/add/"), data)
    assert response.status_code == 302 and response["Location"] == url(pipeline)
    stage = fresh(pipeline).definition["stages"][2]
    assert (stage["name"], stage["manual"], stage["always_run"], stage["parallel"]) == ("Deploy", True, True, False)
    assert summary(pipeline) == "added stage Deploy" and fresh(pipeline).versions.count() == 2
    assert "Saved: added stage Deploy." in get(c, pipeline)  # the message after the redirect


def test_add_stage_with_htmx_swaps_the_workflow_area(world, pipeline):
    response = client(world).post(
        url(pipeline, "stages/add/"),
        {"name": "Deploy", "parallel": "parallel", "manual": "auto"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="workflow-area"' in html and 'hx-swap-oob="true"' in html and 'data-stage="Deploy"' in html
    assert '<div id="workflow-drawer" class="wf-drawer" data-testid="drawer" hx-swap-oob="true"></div>' in html
    assert "Saved: added stage Deploy." in html


def test_stage_errors_are_field_errors_and_nothing_is_saved(world, pipeline):
    """P5: a duplicate name is an error on the name; a stage holding a control task cannot become parallel."""
    c = client(world)
    html = send(c, pipeline, "stages/add/", {"name": "Build", "parallel": "serial"})
    assert 'data-field-error="name"' in html and "already exists" in html
    html = send(c, pipeline, "stages/0/edit/", {"name": "Build", "parallel": "parallel"})
    assert (
        "only allowed in serial stages" in html
        and 'value="parallel" class="btn-check" id="id_parallel_1" checked' in html
    )
    assert fresh(pipeline).version == 1


def test_edit_copy_move_delete_stage(world, pipeline):
    c = client(world)
    c.post(url(pipeline, "stages/1/edit/"), {"name": "Checks", "parallel": "parallel", "manual": "manual"})
    assert summary(pipeline) == "renamed stage Verify to Checks"
    assert fresh(pipeline).definition["stages"][1]["manual"] is True
    c.post(url(pipeline, "stages/0/copy/"))
    assert stage_names(pipeline) == ["Build", "Build copy", "Checks"] and summary(pipeline) == "copied stage Build"
    c.post(url(pipeline, "stages/0/right/"))
    assert stage_names(pipeline) == ["Build copy", "Build", "Checks"]
    assert summary(pipeline) == "moved stage Build right"
    c.post(url(pipeline, "stages/2/left/"))
    assert stage_names(pipeline) == ["Build copy", "Checks", "Build"]
    c.post(url(pipeline, "stages/0/delete/"))
    assert stage_names(pipeline) == ["Checks", "Build"] and summary(pipeline) == "deleted stage Build copy"
    assert fresh(pipeline).versions.count() == 6
    assert c.post(url(pipeline, "stages/0/bogus/")).status_code == 404


def test_move_beyond_the_edge_is_refused_with_a_message(world, pipeline):
    response = client(world).post(url(pipeline, "stages/0/left/"), follow=True)
    assert "already the first one" in response.content.decode() and fresh(pipeline).version == 1


# --------------------------------------------------------------------------- tasks (P6)


def test_add_build_task(world, pipeline):
    c = client(world)
    data = {"name": "package", "commands": "make dist\n", "artifacts": "dist/*.whl\n\nbuild/*.tar.gz",
            "package": "lib", "version": "${releaseversion}", "timeout_minutes": "30"}  # fmt: skip
    response = c.post(url(pipeline, "stages/0/tasks/add/build/"), data)
    assert response.status_code == 302
    task = fresh(pipeline).definition["stages"][0]["tasks"][2]
    assert task["type"] == "build" and task["config"]["artifacts"] == ["dist/*.whl", "build/*.tar.gz"]
    assert task["config"]["timeout_minutes"] == 30
    assert summary(pipeline) == "added task package to Build"


def test_build_with_empty_commands_is_a_field_error_and_nothing_is_saved(world, pipeline):
    """P6: the validator's ``stages[0].tasks[2].config.commands`` lands on the commands field; input kept."""
    response = client(world).post(
        url(pipeline, "stages/0/tasks/add/build/"), {"name": "package", "commands": "  ", "package": "lib-x"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-field-error="commands">“Commands” is required.' in html
    assert 'value="package"' in html and 'value="lib-x"' in html
    assert fresh(pipeline).version == 1 and task_names(pipeline, 0) == ["compile", "approve"]


def test_control_task_in_a_parallel_stage_is_refused(world, pipeline):
    """P6: delay and manual review only in serial stages — the validator's message is shown."""
    c = client(world)
    html = send(c, pipeline, "stages/1/tasks/add/delay/", {"name": "wait", "seconds": "60"})
    assert "control tasks (delay, manual review) are only allowed in serial stages" in html
    assert fresh(pipeline).version == 1
    types = get(c, pipeline, "stages/1/tasks/add/")
    assert "control tasks are only allowed in serial stages" in types
    c.post(url(pipeline, "stages/0/tasks/add/delay/"), {"name": "wait", "seconds": "60"})
    assert task_names(pipeline, 0) == ["compile", "approve", "wait"] and summary(pipeline) == "added task wait to Build"


def test_reordering_inside_a_parallel_stage_is_refused(world, pipeline):
    c = client(world)
    response = c.post(url(pipeline, "stages/1/tasks/0/down/"), HTTP_HX_REQUEST="true")
    assert "their order cannot be changed" in response.content.decode()
    response = c.post(url(pipeline, "stages/1/tasks/1/up/"), follow=True)
    assert "their order cannot be changed" in response.content.decode()
    assert task_names(pipeline, 1) == ["lint", "smoke"] and fresh(pipeline).version == 1


def test_edit_copy_move_delete_task(world, pipeline):
    c = client(world)
    form = get(c, pipeline, "stages/0/tasks/0/edit/")
    assert "make ${TARGET}" in form and "TARGET=staging" in form and 'value="web-app"' in form
    c.post(
        url(pipeline, "stages/0/tasks/0/edit/"),
        {"name": "compile", "commands": "make all", "task_parameters": "TARGET=staging"},
    )
    task = fresh(pipeline).definition["stages"][0]["tasks"][0]
    assert task["config"]["commands"] == "make all" and task["parameters"][0]["name"] == "TARGET"
    assert summary(pipeline) == "edited task compile in Build"
    c.post(url(pipeline, "stages/0/tasks/0/copy/"))
    assert task_names(pipeline, 0) == ["compile", "compile copy", "approve"]
    c.post(url(pipeline, "stages/0/tasks/2/up/"))
    assert task_names(pipeline, 0) == ["compile", "approve", "compile copy"]
    assert summary(pipeline) == "moved task approve up in Build"
    c.post(url(pipeline, "stages/0/tasks/0/down/"))
    assert task_names(pipeline, 0) == ["approve", "compile", "compile copy"]
    c.post(url(pipeline, "stages/0/tasks/2/delete/"))
    assert task_names(pipeline, 0) == ["approve", "compile"]
    assert summary(pipeline) == "deleted task compile copy from Build"


KUBECONFIG = """apiVersion: v1
kind: Config
current-context: prod
clusters: [{name: c, cluster: {server: "https://10.0.0.1:6443"}}]
users: [{name: u, user: {token: kube-token-123456}}]
contexts: [{name: prod, context: {cluster: c, user: u}}]
"""


def test_every_task_type_has_a_form_that_saves(world, pipeline):
    """P6: one form per type; pickers offer the project's host groups, usable Kubernetes endpoints, pipelines."""
    HostGroup.objects.create(project=world.project, name="web-servers")
    k8s = endpoint_services.create_endpoint(world.users["developer"], world.project, {
        "type": "kubernetes", "name": "prod-k8s", "url": "https://10.0.0.1:6443", "kubeconfig": KUBECONFIG,
        "scope": "public"})  # fmt: skip
    lib = services.create_pipeline(world.users["developer"], world.project, {**default_definition(), "name": "lib"})
    c = client(world)
    deploy_form = get(c, pipeline, "stages/0/tasks/add/deploy/")
    assert "web-servers" in deploy_form and f'value="{k8s.pk}">prod-k8s' in deploy_form
    assert f'value="{lib.pk}">lib' in get(c, pipeline, "stages/0/tasks/add/sub_pipeline/")
    posts = [
        ("code_check", {"name": "custom-check", "preset": "custom", "command": "semgrep", "sarif_path": "out.sarif"}),
        ("api_test", {"name": "junit", "mode": "junit", "command": "pytest", "junit_path": "reports/*.xml"}),
        ("deploy", {"name": "hosts", "target": "host_group", "host_group": "web-servers", "commands": "./up"}),
        ("deploy", {"name": "k8s", "target": "kubernetes", "endpoint": str(k8s.pk), "namespace": "web",
                    "manifests": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}),
        ("sub_pipeline", {"name": "call-lib", "pipeline": str(lib.pk), "values": "X=1"}),
        ("delay", {"name": "wait", "seconds": "90"}),
        ("manual_review", {"name": "sign-off", "reviewers": ["manager", "tester"], "mode": "all",
                           "forbid_starter": "on"}),
    ]  # fmt: skip
    for kind, data in posts:
        response = c.post(url(pipeline, f"stages/0/tasks/add/{kind}/"), data)
        assert response.status_code == 302, (kind, response.content.decode()[:3000])
    tasks = {t["name"]: t["config"] for t in fresh(pipeline).definition["stages"][0]["tasks"]}
    assert tasks["custom-check"]["sarif_path"] == "out.sarif"
    assert tasks["junit"]["junit_path"] == "reports/*.xml"
    assert tasks["hosts"]["host_group"] == "web-servers"
    assert tasks["k8s"]["endpoint"] == k8s.pk and tasks["k8s"]["namespace"] == "web"
    assert tasks["call-lib"] == {"pipeline": lib.pk, "parameters": {"X": "1"}}
    assert tasks["wait"] == {"seconds": 90}
    assert tasks["sign-off"]["reviewers"] == ["manager", "tester"] and tasks["sign-off"]["forbid_starter"] is True
    html = c.get(url(pipeline)).content.decode()
    assert "Wait 1 min 30 s" in html and "Kubernetes · web" in html and "all of manager, tester" in html
    HostGroup.objects.filter(name="web-servers").delete()  # a stale choice stays visible for the validator
    assert 'value="web-servers" selected>web-servers (not available)' in get(c, pipeline, "stages/0/tasks/4/edit/")


def test_list_field_errors_name_the_line(world, pipeline):
    """API-test checks are one per line; an error on ``config.checks[1].url`` names line 3 (blank lines skipped)."""
    checks = "GET https://ok.example/ 200\n\nPOST not-a-url 201"
    html = send(
        client(world), pipeline, "stages/1/tasks/add/api_test/", {"name": "h", "mode": "http", "checks": checks}
    )
    assert 'data-field-error="checks">Line 3: “URL” must be an http:// or https:// URL' in html
    assert fresh(pipeline).version == 1


def test_parameter_references_are_checked(world, pipeline):
    """R3: ``${name}`` must be a pipeline, system or task parameter; R9: task parameters count."""
    c = client(world)
    html = send(c, pipeline, "stages/0/tasks/add/build/", {"name": "ship", "commands": "deploy ${REGION}"})
    assert 'data-field-error="commands">' in html and "unknown parameter ${REGION}" in html
    assert fresh(pipeline).version == 1
    commands = "deploy ${REGION} ${releaseversion} ${PIPELINE_NUMBER}"
    send(
        c,
        pipeline,
        "stages/0/tasks/add/build/",
        {"name": "ship", "commands": commands, "task_parameters": "REGION=eu|us|ap"},
    )
    task = fresh(pipeline).definition["stages"][0]["tasks"][2]
    expected = {"name": "REGION", "type": "enum", "choices": ["eu", "us", "ap"], "default": "eu", "runtime": True}
    assert expected.items() <= task["parameters"][0].items()
    data = {"name": "x", "commands": "make", "task_parameters": "releaseversion=2"}
    html = send(c, pipeline, "stages/0/tasks/add/build/", data)
    assert 'data-field-error="task_parameters">Line 1: “releaseversion” is already a pipeline parameter' in html


def test_promote_a_task_parameter(world, pipeline):
    """R9: one step makes a task parameter a pipeline parameter; ``${TARGET}`` keeps working."""
    c = client(world)
    assert 'data-testid="promote-TARGET"' in get(c, pipeline, "stages/0/tasks/0/edit/")
    response = c.post(url(pipeline, "stages/0/tasks/0/promote/"), {"name": "TARGET"})
    assert response.status_code == 302
    definition = fresh(pipeline).definition
    assert "TARGET" in [p["name"] for p in definition["parameters"]]
    assert definition["stages"][0]["tasks"][0]["parameters"] == []
    assert summary(pipeline) == "promoted parameter TARGET of task compile to a pipeline parameter"
    assert "no parameter" in send(c, pipeline, "stages/0/tasks/0/promote/", {"name": "TARGET"}, follow=True)


def test_stale_form_is_refused(world, pipeline):
    """A form shown for version 1 cannot change version 2 (indexes may point elsewhere now)."""
    c = client(world)
    c.post(url(pipeline, "stages/0/copy/"), {"version": "1"})
    response = c.post(url(pipeline, "stages/1/delete/"), {"version": "1"}, follow=True)
    assert "changed meanwhile" in response.content.decode()
    assert stage_names(pipeline) == ["Build", "Build copy", "Verify"]


# --------------------------------------------------------------------------- quality gates (P7)


def test_gate_picker_sets_and_clears_gates(world, pipeline, system_gate):
    mine = GateTemplate.objects.create(
        project=world.project, name="Ours", items=[{"metric": "pass_rate", "threshold": 90}]
    )
    theirs = GateTemplate.objects.create(project=world.other_project, name="Theirs", items=[])
    c = client(world)
    html = get(c, pipeline, "stages/1/gates/")
    assert "No issues (test)" in html and "Ours" in html and "Theirs" not in html
    assert "API-test pass rate ≥ 90 %" in html
    c.post(url(pipeline, "stages/1/gates/"), {"templates": [system_gate.pk, mine.pk]})
    assert fresh(pipeline).definition["stages"][1]["gates"] == [{"template": system_gate.pk}, {"template": mine.pk}]
    assert summary(pipeline) == "set the quality gates of Verify: No issues (test), Ours"
    html = send(c, pipeline, "stages/1/gates/", {"templates": [theirs.pk]})
    assert 'data-field-error="templates">' in html and "not available to this project" in html
    c.post(url(pipeline, "stages/1/gates/"), {})
    assert fresh(pipeline).definition["stages"][1]["gates"] == []
    assert summary(pipeline) == "removed the quality gates of Verify"


def test_create_gate_template_inline(world, pipeline):
    c = client(world)
    response = c.post(
        url(pipeline, "stages/1/gates/template/"),
        {"gt_name": "Release bar", "issue_count_on": "on", "issue_count": "3", "pass_rate_on": "on", "pass_rate": "95"},
    )
    assert response.status_code == 302
    template = GateTemplate.objects.get(name="Release bar")
    assert template.project == world.project
    assert template.items == [{"metric": "issue_count", "threshold": 3}, {"metric": "pass_rate", "threshold": 95}]
    assert fresh(pipeline).definition["stages"][1]["gates"] == [{"template": template.pk}]
    assert summary(pipeline) == "set the quality gates of Verify: Release bar"


def test_gate_template_errors_save_nothing(world, pipeline):
    c = client(world)
    html = send(c, pipeline, "stages/1/gates/template/", {"gt_name": "Empty"})
    assert "Choose at least one gate item" in html
    html = send(
        c, pipeline, "stages/1/gates/template/", {"gt_name": "Too much", "pass_rate_on": "on", "pass_rate": "150"}
    )
    assert 'data-field-error="pass_rate">Enter a whole number from 0 to 100.' in html
    assert 'value="Too much"' in html
    GateTemplate.objects.create(project=world.project, name="Taken", items=[])
    html = send(
        c, pipeline, "stages/1/gates/template/", {"gt_name": "taken", "issue_count_on": "on", "issue_count": "0"}
    )
    assert 'data-field-error="gt_name">' in html
    assert not GateTemplate.objects.filter(name__in=["Empty", "Too much", "taken"]).exists()
    assert fresh(pipeline).version == 1


def test_create_gate_template_service_checks_the_role(world):
    items = [{"metric": "pass_rate", "threshold": 1}]
    with pytest.raises(PermissionDenied):
        services.create_gate_template(world.users["viewer"], world.project, "x", items)
    with pytest.raises(ValidationError) as exc:
        services.create_gate_template(world.users["tester"], world.project, "x", items * 2)
    assert "may appear once" in exc.value.message_dict["items"][0]


# --------------------------------------------------------------------------- permissions


POSTS = [
    ("stages/add/", {"name": "Deploy", "parallel": "serial", "manual": "auto"}),
    ("stages/0/edit/", {"name": "Build", "parallel": "serial", "manual": "manual"}),
    ("stages/0/copy/", {}),
    ("stages/0/right/", {}),
    ("stages/1/left/", {}),
    ("stages/1/delete/", {}),
    ("stages/1/gates/", {"templates": []}),
    ("stages/1/gates/template/", {"gt_name": "Bar", "issue_count_on": "on", "issue_count": "0"}),
    ("stages/0/tasks/add/build/", {"name": "package", "commands": "make dist"}),
    ("stages/0/tasks/0/edit/", {"name": "compile", "commands": "make all", "task_parameters": "TARGET=prod"}),
    ("stages/0/tasks/0/copy/", {}),
    ("stages/0/tasks/1/up/", {}),
    ("stages/0/tasks/0/down/", {}),
    ("stages/0/tasks/1/delete/", {}),
    ("stages/0/tasks/0/promote/", {"name": "TARGET"}),
]
FORMS = ["stages/add/", "stages/0/edit/", "stages/0/tasks/add/", "stages/0/tasks/add/build/",
         "stages/0/tasks/0/edit/", "stages/1/gates/"]  # fmt: skip


@pytest.fixture
def other(world):
    theirs = definition("theirs", {"stages": [WORKFLOW["stages"][1]]})
    return services.create_pipeline(world.users["other_creator"], world.other_project, theirs)


def test_editor_page_matrix(world, pipeline, other):
    check_matrix(world, "GET", url(pipeline), expect(200, anonymous=302), other_url=url(other))


@pytest.mark.parametrize("suffix", FORMS)
def test_change_forms_matrix(world, pipeline, other, suffix):
    check_matrix(
        world, "GET", url(pipeline, suffix), expect(200, anonymous=302, **REFUSED), other_url=url(other, suffix)
    )


@pytest.mark.parametrize(("suffix", "data"), POSTS)
def test_every_change_matrix(world, pipeline, other, suffix, data):
    """Creator, manager and developer (modify, A1 defaults) change it; the others get 403; anonymous the login."""
    expected = expect(302, anonymous=302, **REFUSED)
    check_matrix(world, "POST", url(pipeline, suffix), expected, data=data, other_url=url(other, suffix))


def test_viewer_and_tester_change_nothing(world, pipeline):
    for actor in ("viewer", "tester"):
        c = client(world, actor)
        for suffix, data in POSTS:
            assert c.post(url(pipeline, suffix), data).status_code == 403, (actor, suffix)
    assert fresh(pipeline).version == 1 and fresh(pipeline).definition == pipeline.definition
    assert not GateTemplate.objects.filter(name="Bar").exists()


def test_all_posts_succeed_for_a_developer(world, pipeline):
    """In a row, each change is one version — except clearing gates the stage never had: nothing to save."""
    c = client(world)
    for suffix, data in POSTS:
        response = c.post(url(pipeline, suffix), data, follow=True)
        assert 'class="alert alert-danger' not in response.content.decode(), suffix
        if suffix == "stages/1/gates/":
            assert "No changes to save." in response.content.decode()
    assert fresh(pipeline).version == len(POSTS)


def test_another_projects_pipeline_is_404(world, pipeline, other):
    """A member of project A asking for project B's pipeline under A's URL (or B's) gets 404."""
    c = client(world, "creator")
    crossed = f"/projects/{world.project.pk}/pipelines/{other.pk}/workflow/"
    assert c.get(crossed).status_code == 404
    assert c.post(crossed + "stages/0/copy/").status_code == 404
    assert c.get(url(other)).status_code == 404
    assert fresh(other).version == 1
