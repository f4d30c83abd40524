"""Pipeline definition services: create, update, copy (P3), delete (P8), versions and restore, YAML round
trip, secret parameters (R4), the endpoint usage index (E8) and sub-pipeline cycles (X8)."""

import pytest
from django.core.exceptions import ValidationError

from endpoints import services as endpoint_services
from endpoints.models import EndpointUsage
from pipelines import services
from pipelines.models import Pipeline, PipelineSecret

pytestmark = pytest.mark.django_db
SECRET = "deploy-Token-42xyz"


def definition(name="web-app", endpoint_id=None, **extra):
    sources = []
    if endpoint_id:
        sources = [{"kind": "git", "alias": "app", "endpoint": endpoint_id, "repository": "org/app",
                    "default_branch": "main"}]
    return {
        "name": name,
        "sources": sources,
        "parameters": [
            {"name": "releaseversion", "type": "auto_increment", "default": "1.0.0", "runtime": True},
            {"name": "token", "type": "string", "default": SECRET, "secret": True},
        ],
        "stages": [{"name": "Build", "tasks": [{"name": "compile", "type": "build", "config": {
            "source": "app" if endpoint_id else None, "commands": "make TOKEN=${token}", "artifacts": ["dist/*"],
            "package": "web-app", "version": "${releaseversion}"}}]}],
        **extra,
    }


@pytest.fixture
def endpoint(world):
    return endpoint_services.create_endpoint(world.users["developer"], world.project, {
        "name": "repo", "type": "git", "url": "https://git.example/org/app.git", "username": "u",
        "password": "pw-123456", "scope": "public"})


def test_create_stores_definition_version_and_encrypted_secret(world, endpoint):
    pipeline = services.create_pipeline(world.users["developer"], world.project, definition(endpoint_id=endpoint.pk))
    assert pipeline.version == 1 and pipeline.versions.count() == 1
    assert SECRET not in str(pipeline.definition)
    assert PipelineSecret.objects.get(pipeline=pipeline, name="token").value == SECRET
    usage = EndpointUsage.objects.get(endpoint=endpoint)
    assert usage.pipeline_id == pipeline.pk and usage.label.startswith("web-app › ")


def test_used_endpoint_cannot_be_deleted_and_edit_applies_at_once(world, endpoint):
    """E8: tasks reference endpoints by id — the pipeline makes the endpoint 'in use'."""
    services.create_pipeline(world.users["developer"], world.project, definition(endpoint_id=endpoint.pk))
    with pytest.raises(endpoint_services.EndpointInUse) as exc:
        endpoint_services.delete_endpoint(world.users["developer"], endpoint)
    assert exc.value.usages[0]["label"].startswith("web-app")


def test_invalid_definition_saves_nothing(world):
    bad = definition()
    bad["stages"][0]["tasks"][0]["config"]["commands"] = ""
    with pytest.raises(ValidationError) as exc:
        services.create_pipeline(world.users["developer"], world.project, bad)
    assert "stages[0].tasks[0].config.commands" in exc.value.message_dict
    assert not Pipeline.objects.exists() and not PipelineSecret.objects.exists()


def test_endpoint_the_user_may_not_use_is_refused(world):
    private = endpoint_services.create_endpoint(world.users["manager"], world.project, {
        "name": "mine", "type": "git", "url": "https://git.example/x.git", "username": "u", "password": "pw-123456"})
    with pytest.raises(ValidationError) as exc:
        services.create_pipeline(world.users["developer"], world.project, definition(endpoint_id=private.pk))
    assert "sources[0].endpoint" in exc.value.message_dict


def test_update_versions_and_restore(world):
    actor = world.users["developer"]
    pipeline = services.create_pipeline(actor, world.project, definition())
    changed = {**pipeline.definition, "description": "second"}
    pipeline = services.update_pipeline(actor, pipeline, changed)
    assert pipeline.version == 2 and pipeline.description == "second"
    assert "+description: second" in services.version_diff(pipeline, 2)
    pipeline = services.restore_version(actor, pipeline, 1)
    assert pipeline.version == 3 and pipeline.description == ""
    assert PipelineSecret.objects.get(pipeline=pipeline, name="token").value == SECRET  # kept


def test_copy_keeps_secret_values_and_gets_a_new_name(world):
    original = services.create_pipeline(world.users["developer"], world.project, definition())
    copy = services.copy_pipeline(world.users["tester"], original)
    assert copy.name == "web-app - copy" and copy.creator == world.users["tester"]
    assert PipelineSecret.objects.get(pipeline=copy, name="token").value == SECRET
    assert services.copy_pipeline(world.users["tester"], original).name == "web-app - copy (2)"


def test_duplicate_name_is_refused(world):
    services.create_pipeline(world.users["developer"], world.project, definition())
    with pytest.raises(ValidationError) as exc:
        services.create_pipeline(world.users["developer"], world.project, definition(name="WEB-APP"))
    assert "name" in exc.value.message_dict


def test_yaml_round_trip_omits_secrets(world):
    pipeline = services.create_pipeline(world.users["developer"], world.project, definition())
    text = services.to_yaml(pipeline.definition)
    assert SECRET not in text and "releaseversion" in text
    data = services.from_yaml(text.replace("name: web-app", "name: imported", 1))
    with pytest.raises(ValidationError) as exc:  # secret values are not in the file: importing asks for them
        services.create_pipeline(world.users["developer"], world.project, data)
    assert "parameters[1].default" in exc.value.message_dict
    token = next(p for p in data["parameters"] if p["secret"])
    token.update(default="another-Secret-77", value_set=False)
    token.pop("value_set")
    imported = services.create_pipeline(world.users["developer"], world.project, data)
    assert imported.definition["stages"] == pipeline.definition["stages"]


def test_yaml_errors_are_field_errors(world):
    with pytest.raises(ValidationError) as exc:
        services.from_yaml("name: [unclosed")
    assert "line" in exc.value.message_dict["yaml"][0]
    with pytest.raises(ValidationError):
        services.from_yaml("- a list")


def test_sub_pipeline_cycle_is_refused(world):
    actor = world.users["developer"]
    a = services.create_pipeline(actor, world.project, {"name": "a", "stages": []})
    b = services.create_pipeline(actor, world.project, {"name": "b", "stages": [{"name": "S", "tasks": [
        {"name": "call-a", "type": "sub_pipeline", "config": {"pipeline": a.pk}}]}]})
    with pytest.raises(ValidationError) as exc:
        services.update_pipeline(actor, a, {"name": "a", "stages": [{"name": "S", "tasks": [
            {"name": "call-b", "type": "sub_pipeline", "config": {"pipeline": b.pk}}]}]})
    assert "cycle" in " ".join(exc.value.message_dict["stages[0].tasks[0].config.pipeline"])


def test_delete_removes_usage_rows(world, endpoint):
    pipeline = services.create_pipeline(world.users["developer"], world.project, definition(endpoint_id=endpoint.pk))
    services.delete_pipeline(world.users["developer"], pipeline)
    assert not EndpointUsage.objects.exists()
    endpoint_services.delete_endpoint(world.users["developer"], endpoint)
