"""Configure tabs (P4): basic information, parameters (R1–R7), execution plan (T1–T5), notifications (N1),
history (diff, restore). Errors land on the fields; the user's input is kept; nothing is saved."""

import pytest

from pipelines import services
from pipelines.models import HostGroup, Pipeline, PipelineSecret
from tests.test_pipeline_pages import SECRET, login, make_pipeline, purl, sample_definition

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline(world):
    return make_pipeline(world)


def reload(p):
    return Pipeline.objects.get(pk=p.pk)


def param(p, name):
    return next(x for x in reload(p).definition["parameters"] if x["name"] == name)


# --------------------------------------------------------------------------- basic information


def test_basic_info_saves_a_new_version(world, pipeline):
    client = login(world, "manager")
    response = client.post(purl(pipeline, "settings/basic/"), {"name": "web-app-2", "description": "new"})
    assert response.status_code == 302
    pipeline = reload(pipeline)
    assert (pipeline.name, pipeline.description, pipeline.version) == ("web-app-2", "new", 2)
    assert pipeline.versions.get(number=2).author == world.users["manager"]


def test_basic_info_errors_keep_the_input(world, pipeline):
    services.create_pipeline(world.users["manager"], world.project, sample_definition("taken"))
    client = login(world, "manager")
    response = client.post(purl(pipeline, "settings/basic/"), {"name": "TAKEN", "description": "my text"})
    assert response.status_code == 200 and b'data-field-error="name"' in response.content
    assert b"my text" in response.content and reload(pipeline).version == 1


def test_viewer_sees_a_read_only_tab(world, pipeline):
    html = login(world, "viewer").get(purl(pipeline, "settings/basic/")).content.decode()
    assert "<fieldset disabled>" in html and "read only" in html


# --------------------------------------------------------------------------- parameters


def post_param(client, p, **data):
    payload = {"action": "save", "original_name": "", "type": "string", **data}
    return client.post(purl(p, "settings/parameters/"), payload)


def test_add_edit_delete_parameter(world, pipeline):
    """R1: name, type, default, secret, runtime, description; delete."""
    client = login(world, "developer")
    response = post_param(client, pipeline, name="region", default="cn-north", runtime="on", description="where")
    assert response.status_code == 302
    assert param(pipeline, "region") == {
        "name": "region",
        "type": "string",
        "default": "cn-north",
        "choices": [],
        "secret": False,
        "runtime": True,
        "description": "where",
    }
    response = client.get(purl(pipeline, "settings/parameters/?edit=region"))
    assert response.context["form"].initial["default"] == "cn-north"
    post_param(client, pipeline, original_name="region", name="region2", default="eu")
    assert param(pipeline, "region2")["default"] == "eu" and param(pipeline, "region2")["runtime"] is False
    client.post(purl(pipeline, "settings/parameters/"), {"action": "delete", "name": "region2"})
    assert "region2" not in [p["name"] for p in reload(pipeline).definition["parameters"]]


def test_delete_of_a_referenced_parameter_is_refused_with_the_reason(world, pipeline):
    client = login(world, "developer")
    response = client.post(purl(pipeline, "settings/parameters/"), {"action": "delete", "name": "releaseversion"})
    assert response.status_code == 200 and b"stages[0].tasks[0].config" in response.content
    assert param(pipeline, "releaseversion")


def test_system_parameters_are_listed_read_only_and_reserved(world, pipeline):
    """R2: listed (with alias ones), not editable, and custom names may not reuse them."""
    from endpoints import services as endpoint_services

    endpoint = endpoint_services.create_endpoint(
        world.users["developer"],
        world.project,
        {
            "name": "repo",
            "type": "git",
            "url": "https://git.example/org/app.git",
            "username": "u",
            "password": "pw-123456",
            "scope": "public",
        },
    )
    source = {"kind": "git", "alias": "app", "endpoint": endpoint.pk, "repository": "org/app", "default_branch": "main"}
    pipeline = services.create_pipeline(
        world.users["developer"],
        world.project,
        {"name": "sourced", "sources": [source], "parameters": [], "stages": []},
    )
    client = login(world, "developer")
    html = client.get(purl(pipeline, "settings/parameters/")).content.decode()
    for name in (
        "PROJECT_ID",
        "PIPELINE_ID",
        "PIPELINE_NUMBER",
        "COMMIT_ID",
        "TIMESTAMP",
        "app_REPOSITORY_NAME",
        "app_SOURCE_BRANCH",
        "app_TARGET_BRANCH",
        "app_TAG",
        "app_COMMIT_ID",
    ):
        assert f'<td class="mono">{name}</td>' in html
        assert f"?edit={name}" not in html
    response = post_param(client, pipeline, name="app_TAG", default="x")
    assert response.status_code == 200 and "system parameter" in str(response.context["form"].errors["name"])


def test_secret_value_is_never_rendered(world, pipeline):
    """R4: the planted value appears in no page, whatever the user does; an empty value keeps it."""
    client = login(world, "developer")
    responses = [
        client.get(purl(pipeline, suffix))
        for suffix in (
            "",
            "settings/basic/",
            "settings/parameters/",
            "settings/parameters/?edit=token",
            "settings/triggers/",
            "settings/permissions/",
            "settings/notifications/",
            "settings/history/",
            "settings/history/1/",
        )
    ]
    responses.append(client.get("/pipelines/"))
    new_secret = "another-Secret-5520"
    responses.append(post_param(client, pipeline, name="2bad", secret="on", secret_value=new_secret))
    responses.append(post_param(client, pipeline, original_name="token", name="token", secret="on", secret_value=""))
    assert PipelineSecret.objects.get(pipeline=pipeline, name="token").value == SECRET  # kept
    responses.append(
        post_param(client, pipeline, original_name="token", name="token", secret="on", secret_value=new_secret)
    )
    assert PipelineSecret.objects.get(pipeline=pipeline, name="token").value == new_secret
    responses += [
        client.get(purl(pipeline, "settings/parameters/?edit=token")),
        client.get(purl(pipeline, "settings/history/2/")),
    ]
    for response in responses:
        assert SECRET.encode() not in response.content and new_secret.encode() not in response.content


def test_secret_needs_a_value_when_new(world, pipeline):
    response = post_param(login(world, "developer"), pipeline, name="apikey", secret="on", secret_value="")
    assert "secret_value" in response.context["form"].errors


def test_enum_choices_and_default(world, pipeline):
    """R5: comma-separated choices; the default must be one of them."""
    client = login(world, "developer")
    response = post_param(client, pipeline, name="env", type="enum", choices="dev, prod", default="qa")
    assert response.status_code == 200 and "one of the choices" in str(response.context["form"].errors["default"])
    assert b'value="dev, prod"' in response.content  # input kept
    post_param(client, pipeline, name="env", type="enum", choices="dev, prod", default="prod")
    assert param(pipeline, "env")["choices"] == ["dev", "prod"] and param(pipeline, "env")["default"] == "prod"


def test_auto_increment_defaults_to_1_0_0(world, pipeline):
    """R6."""
    post_param(login(world, "developer"), pipeline, name="build_no", type="auto_increment", default="", runtime="on")
    assert param(pipeline, "build_no")["default"] == "1.0.0"


def test_host_group_parameter_offers_the_project_host_groups(world, pipeline):
    """R7: the value is one of the project's host groups."""
    HostGroup.objects.create(project=world.project, name="web-servers")
    HostGroup.objects.create(project=world.other_project, name="their-servers")
    client = login(world, "developer")
    choices = dict(client.get(purl(pipeline, "settings/parameters/")).context["form"].fields["host_group"].choices)
    assert "web-servers" in choices and "their-servers" not in choices
    response = post_param(client, pipeline, name="targets", type="host_group", host_group="their-servers")
    assert "host_group" in response.context["form"].errors
    post_param(client, pipeline, name="targets", type="host_group", host_group="web-servers")
    assert param(pipeline, "targets")["default"] == "web-servers"


# --------------------------------------------------------------------------- execution plan


def plan(schedules=(), **extra):
    data = {
        "missed_schedule_policy": "skip",
        "timezone": "",
        "schedules-TOTAL_FORMS": str(len(schedules)),
        "schedules-INITIAL_FORMS": "0",
        **extra,
    }
    for i, (days, time) in enumerate(schedules):
        data[f"schedules-{i}-enabled"] = "on"
        data[f"schedules-{i}-days"] = days
        data[f"schedules-{i}-time"] = time
    return data


def test_execution_plan_is_stored(world, pipeline):
    """T1–T3, T5: triggers with include/exclude lists one per line, schedules, time zone."""
    client = login(world, "developer")
    data = plan(
        [(["mon", "fri"], "02:30")],
        push_enabled="on",
        push_branches_include="main\nrelease/*\n",
        push_paths_exclude="docs/",
        tag_enabled="on",
        tag_tags_include="v*",
        merge_request_enabled="on",
        merge_request_events=["created", "merged"],
        merge_request_branches_include="main",
        timezone="Asia/Shanghai",
        missed_schedule_policy="run_latest",
    )
    assert client.post(purl(pipeline, "settings/triggers/"), data).status_code == 302
    triggers = reload(pipeline).definition["triggers"]
    assert triggers["push"] == {
        "enabled": True,
        "branches": {"include": ["main", "release/*"], "exclude": []},
        "paths": {"include": [], "exclude": ["docs/"]},
    }
    assert triggers["tag"]["tags"]["include"] == ["v*"]
    assert triggers["merge_request"]["events"] == ["created", "merged"]
    assert triggers["schedules"] == [{"enabled": True, "days": ["mon", "fri"], "time": "02:30"}]
    assert (triggers["timezone"], triggers["missed_schedule_policy"]) == ("Asia/Shanghai", "run_latest")
    page = client.get(purl(pipeline, "settings/triggers/"))
    assert page.context["schedules"].total_form_count() == 2  # the stored one and an empty row
    # delete the schedule
    data = plan([(["mon", "fri"], "02:30")], **{"schedules-INITIAL_FORMS": "1", "schedules-0-DELETE": "on"})
    client.post(purl(pipeline, "settings/triggers/"), data)
    assert reload(pipeline).definition["triggers"]["schedules"] == []


def test_eleventh_schedule_is_a_field_error(world, pipeline):
    """T5: at most 10 time points; the 11th is refused on its row, nothing saved, input kept."""
    client = login(world, "developer")
    data = plan([(["mon"], f"0{i}:00") for i in range(10)] + [(["tue"], "23:59")])
    response = client.post(purl(pipeline, "settings/triggers/"), data)
    assert response.status_code == 200
    assert b'data-field-error="schedules-10"' in response.content and b"at most 10" in response.content
    assert b'value="23:59"' in response.content
    assert reload(pipeline).definition["triggers"]["schedules"] == [] and reload(pipeline).version == 1


def test_execution_plan_field_errors(world, pipeline):
    client = login(world, "developer")
    response = client.post(purl(pipeline, "settings/triggers/"), plan(timezone="Mars/Base"))
    assert b'data-field-error="timezone"' in response.content
    data = plan([([], "25:00")], push_enabled="on", push_branches_include="main\nrel***", timezone="UTC")
    response = client.post(purl(pipeline, "settings/triggers/"), data)
    html = response.content.decode()
    assert 'data-field-error="push_branches_include"' in html and "rel***" in html
    assert 'data-field-error="schedules-0-days"' in html and 'data-field-error="schedules-0-time"' in html
    assert reload(pipeline).version == 1


# --------------------------------------------------------------------------- notifications


def test_notification_defaults_and_save(world, pipeline):
    """N1: in-app on, email off by default; each event × channel is a switch."""
    client = login(world, "developer")
    form = client.get(purl(pipeline, "settings/notifications/")).context["form"]
    assert all(
        form.initial[f"{e}__in_app"] for e in ("pipeline_deleted", "run_failed", "run_succeeded", "config_updated")
    )
    assert not any(v for k, v in form.initial.items() if k.endswith("__email"))
    client.post(purl(pipeline, "settings/notifications/"), {"run_failed__email": "on", "run_failed__in_app": "on"})
    notifications = reload(pipeline).definition["notifications"]
    assert notifications["run_failed"] == {"in_app": True, "email": True}
    assert notifications["run_succeeded"] == {"in_app": False, "email": False}


# --------------------------------------------------------------------------- history


def test_history_diff_and_restore(world, pipeline):
    client = login(world, "developer")
    client.post(purl(pipeline, "settings/basic/"), {"name": "web-app", "description": "changed text"})
    html = client.get(purl(pipeline, "settings/history/")).content.decode()
    assert 'data-version="2"' in html and 'data-version="1"' in html and "basic information" in html
    diff = client.get(purl(pipeline, "settings/history/2/")).content.decode()
    assert "-description: Builds the web app" in diff and "+description: changed text" in diff
    assert client.get(purl(pipeline, "settings/history/9/")).status_code == 404
    response = client.post(purl(pipeline, "settings/history/1/restore/"))
    assert response.status_code == 302
    restored = reload(pipeline)
    assert (restored.version, restored.description) == (3, "Builds the web app")
    assert restored.versions.get(number=3).summary == "restored version 1"
    assert PipelineSecret.objects.get(pipeline=pipeline, name="token").value == SECRET
