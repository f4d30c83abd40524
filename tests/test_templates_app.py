"""Template services (SPEC §9): system templates shipped by migration and read-only (M1), custom template
CRUD by the owner, copy and follow (M1), template definitions with R8 parameters (M2), generating a pipeline
(M3) and a template from a pipeline."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.http import Http404

from pipelines import services as pipeline_services
from pipelines.models import GateTemplate, Pipeline
from templates_app import services, system_templates
from templates_app.models import PipelineTemplate, TemplateFollow
from templates_app.validation import TemplateError, validate_template_definition
from tests.conftest import make_user
from tests.test_templates_support import (  # noqa: F401 (fixtures)
    SIMPLE,
    custom,
    git_endpoint_fixture,
    git_source,
    host_group_fixture,
    k8s_endpoint_fixture,
    other_custom,
    system,
    system_templates_loaded,
)

pytestmark = pytest.mark.django_db
SYSTEM_KEYS = ["blank", "maven-kubernetes", "python-ci", "docker-image", "host-group-deploy"]


# --------------------------------------------------------------------------- M1: system templates


def test_system_templates_are_present_after_migrate():
    templates = PipelineTemplate.objects.filter(system=True)
    assert sorted(t.key for t in templates) == sorted(SYSTEM_KEYS)
    assert all(t.owner_id is None and t.project_id is None for t in templates)
    assert system("maven-kubernetes").name == "Maven build → deploy to Kubernetes"
    gates = [g["template"] for s in system("python-ci").stages for g in s.get("gates", [])]
    assert len(gates) == 2 and GateTemplate.objects.filter(pk__in=gates, project__isnull=True).count() == 2


def test_loading_again_updates_by_key_and_adds_nothing():
    template = system("blank")
    PipelineTemplate.objects.filter(pk=template.pk).update(name="Changed", definition={})
    call_command("load_system_templates", stdout=open("/dev/null", "w"))
    template.refresh_from_db()
    assert template.name == "Blank" and template.definition == {"parameters": [], "stages": []}
    assert PipelineTemplate.objects.filter(system=True).count() == len(SYSTEM_KEYS)
    for name in system_templates.GATE_TEMPLATES:  # the gate templates they use exist once
        assert GateTemplate.objects.filter(project__isnull=True, name=name).count() == 1


@pytest.mark.parametrize("key", SYSTEM_KEYS)
def test_every_system_template_is_a_valid_template(key):
    gates = frozenset(GateTemplate.objects.filter(project__isnull=True).values_list("pk", flat=True))
    assert "stages" in validate_template_definition(system(key).definition, gates)  # raises when invalid


@pytest.mark.parametrize("key", SYSTEM_KEYS)
def test_every_system_template_generates_a_valid_pipeline(world, key, git_endpoint, k8s_endpoint, host_group):
    """M3: project + name + source (+ deploy targets) → a pipeline the definition validator accepts."""
    developer = world.users["developer"]
    template = system(key)
    data = {
        "project": world.project.pk,
        "name": f"from {key}",
        "sources": [git_source(git_endpoint)],
        "deploy": {"endpoint": k8s_endpoint.pk, "host_group": host_group.name},
    }
    pipeline = services.generate_pipeline(developer, template, data)
    assert pipeline.creator == developer and pipeline.project == world.project
    definition = pipeline.definition
    assert [s["name"] for s in definition["stages"]] == [s["name"] for s in template.stages]
    assert [p["name"] for p in definition["parameters"]] == [p["name"] for p in template.parameters]
    assert definition["sources"][0]["endpoint"] == git_endpoint.pk
    for stage in definition["stages"]:
        for task in stage["tasks"]:
            config = task["config"]
            if task["type"] == "deploy":
                assert config.get("endpoint") == k8s_endpoint.pk or config.get("host_group") == "web-servers"
            if task["type"] == "manual_review":
                assert config["reviewers"] == ["developer"]  # the caller reviews by default
            if "source" in config and task["type"] == "build":
                assert config["source"] == "app"
    # it is a pipeline like any other: saving it again validates
    pipeline_services.update_pipeline(developer, pipeline, definition)


def test_system_templates_are_read_only_even_for_superusers(world):
    admin = make_user("root", is_superuser=True, is_staff=True)
    template = system("python-ci")
    for actor in (world.users["creator"], admin):
        with pytest.raises(PermissionDenied):
            services.update_template(actor, template, {"name": "mine now"})
        with pytest.raises(PermissionDenied):
            services.delete_template(actor, template)
    assert PipelineTemplate.objects.filter(pk=template.pk, name=template.name).exists()


# --------------------------------------------------------------------------- M1: custom templates


def test_custom_template_crud_by_owner_only(world):
    template = custom(world)
    assert template.owner == world.users["developer"] and not template.system
    assert template.definition["stages"][0]["tasks"][0]["config"]["timeout_minutes"] == 60  # normalized
    services.update_template(world.users["developer"], template, {"description": "shared build"})
    assert PipelineTemplate.objects.get(pk=template.pk).description == "shared build"
    with pytest.raises(PermissionDenied):  # a project member sees it but is not the owner
        services.update_template(world.users["manager"], template, {"name": "taken over"})
    with pytest.raises(PermissionDenied):
        services.delete_template(world.users["creator"], template)
    with pytest.raises(Http404):  # not shared with the outsider at all
        services.delete_template(world.users["outsider"], template)
    services.delete_template(world.users["developer"], template)
    assert not PipelineTemplate.objects.filter(pk=template.pk).exists()


def test_visibility_system_owner_and_project_members(world):
    shared = custom(world, name="Shared")
    private = custom(world, project=False, name="Private")
    other = other_custom(world)
    visible = set(services.visible_templates(world.users["viewer"]).values_list("pk", flat=True))
    assert shared.pk in visible and private.pk not in visible and other.pk not in visible
    assert {t.pk for t in PipelineTemplate.objects.filter(system=True)} <= visible
    owner_sees = set(services.visible_templates(world.users["developer"]).values_list("pk", flat=True))
    assert {shared.pk, private.pk} <= owner_sees
    outsider = set(services.visible_templates(world.users["outsider"]).values_list("pk", flat=True))
    assert outsider == set(PipelineTemplate.objects.filter(system=True).values_list("pk", flat=True))


def test_basic_info_is_validated(world):
    custom(world)
    cases = [
        ({"name": "", "definition": SIMPLE}, "name"),
        ({"name": "team BUILD", "definition": SIMPLE}, "name"),  # the owner's names are unique
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "project": world.other_project.pk}, "project"),  # not my project
        ({"name": "ok", "project": "abc"}, "project"),
        ({"name": "ok", "project": 10**30}, "project"),
        ({"name": "ok", "definition": []}, "definition"),
        ({"name": "ok", "description": 5}, "description"),
    ]
    for data, field in cases:
        with pytest.raises(ValidationError) as exc:
            services.create_template(world.users["developer"], data)
        assert field in exc.value.message_dict, data


def test_copy_system_template_into_custom(world):
    developer = world.users["developer"]
    first = services.copy_template(developer, system("python-ci"))
    second = services.copy_template(developer, system("python-ci"))
    assert first.name == "Python CI with code check, API test and gates - copy"
    assert second.name.endswith("- copy (2)")
    assert first.owner == developer and not first.system and len(first.stages) == 3
    assert [g for s in first.stages for g in s["gates"]]  # the system gate templates are visible to all
    services.update_template(developer, first, {"name": "Our CI"})  # the copy is editable
    with pytest.raises(Http404):
        services.copy_template(developer, other_custom(world))


def test_follow_and_unfollow(world):
    user = world.users["tester"]
    template = system("blank")
    services.follow(user, template)
    services.follow(user, template)
    assert services.followed_ids(user) == {template.pk}
    services.follow(user, template, False)
    assert not TemplateFollow.objects.exists()
    with pytest.raises(Http404):
        services.follow(user, other_custom(world))


# --------------------------------------------------------------------------- M2 / R8: template definitions


def _errors(definition) -> dict:
    with pytest.raises(TemplateError) as exc:
        validate_template_definition(definition)
    return exc.value.errors


def test_template_parameters_refuse_host_group_and_secret():
    """R8: string, enum and auto-increment only; never secret."""
    errors = _errors(
        {
            "parameters": [
                {"name": "hosts", "type": "host_group"},
                {"name": "token", "type": "string", "default": "s3cret-value", "secret": True},
                {"name": "ok", "type": "auto_increment"},
            ]
        }
    )
    assert set(errors) == {"parameters[0].type", "parameters[1].secret"}
    assert "R8" in errors["parameters[0].type"][0]


def test_template_tasks_leave_endpoints_host_groups_reviewers_and_sub_pipelines_out():
    tasks = [
        {
            "name": "k8s",
            "type": "deploy",
            "config": {"target": "kubernetes", "endpoint": 3, "manifests": "apiVersion: v1\nkind: ConfigMap\n"},
        },
        {
            "name": "hosts",
            "type": "deploy",
            "config": {"target": "host_group", "host_group": "web", "commands": "true"},
        },
        {"name": "review", "type": "manual_review", "config": {"reviewers": ["bob"]}},
        {"name": "child", "type": "sub_pipeline", "config": {"pipeline": 7}},
    ]
    errors = _errors({"stages": [{"name": "Deploy", "tasks": tasks}]})
    assert set(errors) == {
        "stages[0].tasks[0].config.endpoint",
        "stages[0].tasks[1].config.host_group",
        "stages[0].tasks[2].config.reviewers",
        "stages[0].tasks[3].type",
    }


def test_template_definition_errors_use_pipeline_paths():
    bad = {
        "stages": [
            {"name": "Build", "tasks": [{"name": "b", "type": "build", "config": {"source": "web", "commands": ""}}]}
        ],
        "triggers": {},
    }
    errors = _errors(bad)
    assert {"stages[0].tasks[0].config.source", "stages[0].tasks[0].config.commands", "triggers"} <= set(errors)
    for junk in (None, [], "x", 5, {"stages": "x"}, {"parameters": [1]}):
        _errors(junk)


def test_valid_template_keeps_deploy_targets_empty():
    definition = validate_template_definition(system("docker-image").definition)
    deploy = definition["stages"][2]["tasks"][0]["config"]
    review = definition["stages"][1]["tasks"][0]["config"]
    assert deploy["endpoint"] is None and review["reviewers"] == []


# --------------------------------------------------------------------------- M3: generate


def test_generate_needs_add_pipeline_on_the_project(world, git_endpoint):
    data = {"project": world.project.pk, "name": "p", "sources": [git_source(git_endpoint)]}
    with pytest.raises(PermissionDenied):
        services.generate_pipeline(world.users["viewer"], system("blank"), data)
    with pytest.raises(Http404):
        services.generate_pipeline(
            world.users["developer"], system("blank"), {**data, "project": world.other_project.pk}
        )
    with pytest.raises(Http404):  # a template the caller does not see
        services.generate_pipeline(world.users["developer"], other_custom(world), data)
    assert not Pipeline.objects.exists()


def test_generate_with_parameter_values_and_another_alias(world, git_endpoint):
    template = custom(world)
    data = {
        "project": world.project.pk,
        "name": "web",
        "sources": [git_source(git_endpoint, alias="web")],
        "parameters": {"target": "prod", "releaseversion": "2.0.0"},
    }
    pipeline = services.generate_pipeline(world.users["manager"], template, data)
    params = {p["name"]: p["default"] for p in pipeline.definition["parameters"]}
    assert params == {"releaseversion": "2.0.0", "target": "prod"}
    assert pipeline.definition["stages"][0]["tasks"][0]["config"]["source"] == "web"


def test_generate_without_a_source(world):
    pipeline = services.generate_pipeline(
        world.users["developer"], custom(world), {"project": world.project.pk, "name": "no source"}
    )
    assert pipeline.definition["sources"] == []
    assert pipeline.definition["stages"][0]["tasks"][0]["config"]["source"] == ""


def test_generate_bad_input_is_a_validation_error(world, git_endpoint):
    template = system("maven-kubernetes")
    base = {"project": world.project.pk, "name": "m", "sources": [git_source(git_endpoint)]}
    cases = [
        ({**base, "project": None}, "project"),
        ({**base, "project": "x"}, "project"),
        ({**base, "name": ""}, "name"),
        ({**base, "sources": "git"}, "sources"),
        ({**base, "parameters": {"nope": "1"}}, "parameters.nope"),
        ({**base, "parameters": {"replicas": "7"}}, "parameters[3].default"),
        ({**base, "parameters": []}, "parameters"),
        ({**base, "deploy": "k8s"}, "deploy"),
        (base, "stages[1].tasks[0].config.endpoint"),  # the Kubernetes endpoint is still to choose
        ({**base, "deploy": {"endpoint": git_endpoint.pk}}, "stages[1].tasks[0].config.endpoint"),
    ]
    for data, path in cases:
        with pytest.raises(ValidationError) as exc:
            services.generate_pipeline(world.users["developer"], template, data)
        assert path in exc.value.message_dict, (data, exc.value.message_dict)
    services.generate_pipeline(world.users["developer"], system("blank"), {**base, "name": "taken"})
    with pytest.raises(ValidationError) as exc:
        services.generate_pipeline(world.users["developer"], system("blank"), {**base, "name": "taken"})
    assert "name" in exc.value.message_dict


# --------------------------------------------------------------------------- a template from a pipeline


def test_template_from_pipeline_keeps_stages_and_non_secret_parameters(world, git_endpoint, k8s_endpoint):
    creator = world.users["creator"]
    other = pipeline_services.create_pipeline(creator, world.project, {"name": "child"})
    pipeline = pipeline_services.create_pipeline(
        creator,
        world.project,
        {
            "name": "svc",
            "sources": [git_source(git_endpoint, alias="svc")],
            "parameters": [
                {"name": "releaseversion", "type": "auto_increment", "runtime": True},
                {"name": "token", "type": "string", "default": "super-Secret-1", "secret": True},
            ],
            "stages": [
                {
                    "name": "Ship",
                    "tasks": [
                        {
                            "name": "build",
                            "type": "build",
                            "config": {"source": "svc", "commands": "make TOKEN=${token} REF=${svc_COMMIT_ID}"},
                        },
                        {
                            "name": "deploy",
                            "type": "deploy",
                            "config": {
                                "target": "kubernetes",
                                "endpoint": k8s_endpoint.pk,
                                "manifests": "apiVersion: v1\nkind: ConfigMap\n",
                            },
                        },
                        {"name": "child", "type": "sub_pipeline", "config": {"pipeline": other.pk}},
                        {"name": "ok", "type": "manual_review", "config": {"reviewers": ["creator"]}},
                    ],
                }
            ],
        },
    )
    template = services.create_from_pipeline(world.users["viewer"], pipeline, {"name": "From svc"})
    assert template.owner == world.users["viewer"] and template.project == world.project
    tasks = {t["name"]: t["config"] for t in template.stages[0]["tasks"]}
    assert set(tasks) == {"build", "deploy", "ok"}
    assert tasks["build"]["source"] == "app" and "${app_COMMIT_ID}" in tasks["build"]["commands"]
    assert tasks["deploy"]["endpoint"] is None and tasks["ok"]["reviewers"] == []
    params = {p["name"]: p for p in template.parameters}
    assert params["token"]["default"] == "" and not params["token"]["secret"]  # the value never leaves
    assert "super-Secret-1" not in str(template.definition)
    with pytest.raises(Http404):
        services.create_from_pipeline(world.users["outsider"], pipeline, {})


# --------------------------------------------------------------------------- bad input: errors, never a crash

_ATOMS = [None, True, 0, -1, 1.5, "", "app", "${x}", [], {}, "kubernetes", "host_group", "deploy", "manual_review"]
_KEYS = ["parameters", "stages", "tasks", "config", "name", "type", "target", "endpoint", "host_group", "reviewers",
         "source", "secret", "choices", "default", "gates", "alias"]  # fmt: skip


def _junk(rng, depth=0):
    roll = rng.random()
    if depth > 4 or roll < 0.3:
        return rng.choice(_ATOMS)
    if roll < 0.65:
        return {rng.choice(_KEYS): _junk(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [_junk(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def test_fuzzed_definitions_give_errors_never_crashes(world):
    import random

    rng = random.Random(7)
    template = custom(world)
    for _ in range(1500):
        stages = [{"name": "s", "tasks": [{"name": "t", "type": rng.choice(["build", "deploy", "manual_review",
                   "sub_pipeline", _junk(rng, 4)]), "config": _junk(rng, 1)}]}]  # fmt: skip
        for data in (_junk(rng), {"parameters": _junk(rng, 1), "stages": stages}):
            try:
                assert isinstance(validate_template_definition(data), dict)
            except TemplateError as exc:
                assert exc.errors  # refused with errors by path, never a crash
            template.definition = data if isinstance(data, dict) else {}
            services.template_needs(template)
            services.template_data_from_pipeline(Pipeline(definition=template.definition))
            try:
                services.pipeline_definition(world.users["developer"], template, _junk(rng))
            except ValidationError:
                pass
