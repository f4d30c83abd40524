"""Host groups through the REST API (R7): CRUD, validation of hosts, credentials the caller may use,
and the 409 for a host group that pipelines refer to."""

from __future__ import annotations

import pytest

from endpoints import services as endpoint_services
from pipelines.models import HostGroup
from tests.test_pipelines_api import api_fixture, plist, purl, snapshot  # noqa: F401

pytestmark = pytest.mark.django_db


def hg_url(world, group_id=None, project=None):
    base = f"/api/v1/projects/{(project or world.project).pk}/host-groups/"
    return f"{base}{group_id}/" if group_id else base


def credential(world, actor="operator", project=None, name="ssh", shared=False):
    data = {"name": name, "kind": "username_password", "identity": "deploy", "secret": "ssh-pw-123456",
            "shared": shared}  # fmt: skip
    return endpoint_services.create_credential(world.users[actor], project or world.project, data)


@pytest.fixture
def cred(world):
    return credential(world)


def host(cred, **extra):
    return {"address": "web1.example.com", "port": 22, "ssh_user": "deploy", "credential": cred.pk, **extra}


def create(api, world, cred, name="web", actor="operator", hosts=None):
    response = api(actor, "post", hg_url(world), {"name": name, "description": "Web servers",
                                                  "hosts": hosts if hosts is not None else [host(cred)]})  # fmt: skip
    assert response.status_code == 201, response.content
    return response.json()


def test_crud(api, world, cred):
    """Create, list, read, change (hosts replaced), delete; the credential is given by id, never shown."""
    group = create(api, world, cred, hosts=[host(cred), host(cred, address="10.0.0.7", port="2222")])
    assert group["name"] == "web" and [h["address"] for h in group["hosts"]] == ["10.0.0.7", "web1.example.com"]
    assert group["hosts"][0] == {**group["hosts"][0], "port": 2222, "ssh_user": "deploy", "credential": cred.pk}
    assert "ssh-pw-123456" not in str(group)
    listed = api("viewer", "get", hg_url(world)).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == group["id"]
    assert api("viewer", "get", hg_url(world, group["id"])).json() == group
    changed = api("manager", "patch", hg_url(world, group["id"]), {"name": "web-prod", "hosts": [host(cred,
                  address="2001:db8::1")]})  # fmt: skip
    assert changed.status_code == 200, changed.content
    assert changed.json()["name"] == "web-prod" and [h["address"] for h in changed.json()["hosts"]] == ["2001:db8::1"]
    assert api("operator", "patch", hg_url(world, group["id"]), {"description": ""}).json()["hosts"]  # kept
    assert api("operator", "delete", hg_url(world, group["id"])).status_code == 204
    assert not HostGroup.objects.exists()


BAD = [
    ({"name": ""}, "name"), ({"name": "WEB"}, "name"), ({"name": 5}, "name"), ({"name": "x" * 101}, "name"),
    ({"name": "a\nb"}, "name"), ({"name": "${hosts}"}, "name"), ({"colour": "red"}, "colour"),
    ({"description": ["x"]}, "description"), ({"hosts": "web1"}, "hosts"), ({"hosts": [5]}, "hosts[0]"),
    ({"hosts": [{}] * 201}, "hosts"),
    ({"hosts": [{"address": "bad host!"}]}, "hosts[0].address"),
    ({"hosts": [{"address": "1.2.3.999"}]}, "hosts[0].address"),
    ({"hosts": [{"address": "-web.example"}]}, "hosts[0].address"),
    ({"hosts": [{"address": "a" * 64 + ".example"}]}, "hosts[0].address"),
    ({"hosts": [{"address": 10}]}, "hosts[0].address"),
    ({"hosts": [{"port": 0}]}, "hosts[0].port"), ({"hosts": [{"port": 65536}]}, "hosts[0].port"),
    ({"hosts": [{"port": True}]}, "hosts[0].port"), ({"hosts": [{"port": "22a"}]}, "hosts[0].port"),
    ({"hosts": [{"port": 2.5}]}, "hosts[0].port"),
    ({"hosts": [{"ssh_user": ""}]}, "hosts[0].ssh_user"),
    ({"hosts": [{"ssh_user": "root;rm"}]}, "hosts[0].ssh_user"),
    ({"hosts": [{"ssh_user": "1abc"}]}, "hosts[0].ssh_user"),
    ({"hosts": [{"ssh_user": "u" * 33}]}, "hosts[0].ssh_user"),
    ({"hosts": [{"credential": "1"}]}, "hosts[0].credential"),
    ({"hosts": [{"credential": None}]}, "hosts[0].credential"),
    ({"hosts": [{"credential": 999999}]}, "hosts[0].credential"),
    ({"hosts": [{"shell": "bash"}]}, "hosts[0].shell"),
]  # fmt: skip


@pytest.mark.parametrize("change, field", BAD, ids=[f"{f}-{i}" for i, (_c, f) in enumerate(BAD)])
def test_bad_host_groups_are_400(api, world, cred, change, field):
    """Address a host name or IP, port 1–65535, SSH user pattern, credential id, unique name: 400 with
    the field path, nothing saved."""
    create(api, world, cred)
    body = {"name": "db", **change}
    if "hosts" in change and isinstance(change["hosts"], list):
        body["hosts"] = [host(cred, **h) if isinstance(h, dict) else h for h in change["hosts"]]
    before = snapshot()
    response = api("operator", "post", hg_url(world), body)
    assert response.status_code == 400 and field in response.json()["errors"], response.content
    assert snapshot() == before


def test_duplicate_host_is_400(api, world, cred):
    response = api("operator", "post", hg_url(world), {"name": "db", "hosts": [host(cred), host(cred)]})
    assert response.status_code == 400 and "hosts[1].address" in response.json()["errors"]


def test_credentials_the_caller_may_not_use(api, world, cred):
    """Only a password or SSH key credential the caller may use (not another member's private one, not
    another project's); an unchanged host may keep its credential when someone else edits the group."""
    foreign = credential(world, "other_creator", project=world.other_project)
    token = endpoint_services.create_credential(world.users["operator"], world.project, {
        "name": "tok", "kind": "username_token", "identity": "u", "secret": "glpat-123456789abc"})  # fmt: skip
    response = api("operator", "post", hg_url(world), {"name": "db", "hosts": [host(token)]})
    assert response.status_code == 400 and "SSH" in response.json()["errors"]["hosts[0].credential"][0]
    private = credential(world, "manager", name="mgr")
    shared = credential(world, "tester", name="shared", shared=True)
    for bad in (foreign, private):
        response = api("operator", "post", hg_url(world), {"name": "db", "hosts": [host(bad)]})
        assert response.status_code == 400 and "hosts[0].credential" in response.json()["errors"]
    assert api("operator", "post", hg_url(world), {"name": "db", "hosts": [host(shared)]}).status_code == 201
    group = create(api, world, cred, name="mgr-group", actor="manager", hosts=[host(private)])
    kept = [host(private), host(cred, address="web2.example.com")]
    assert api("operator", "patch", hg_url(world, group["id"]), {"hosts": kept}).status_code == 200
    moved = [host(private, address="evil.example.com")]
    response = api("operator", "patch", hg_url(world, group["id"]), {"hosts": moved})
    assert response.status_code == 400 and "hosts[0].credential" in response.json()["errors"]


def _deploy_definition(name, group="web", via_parameter=False):
    target = "${hosts}" if via_parameter else group
    parameters = [{"name": "hosts", "type": "host_group", "default": group}] if via_parameter else []
    return {"name": name, "parameters": parameters, "stages": [{"name": "Deploy", "tasks": [
        {"name": "ship", "type": "deploy", "config": {"target": "host_group", "host_group": target,
                                                      "commands": "systemctl restart web"}}]}]}  # fmt: skip


def test_in_use_host_group_cannot_be_deleted_or_renamed(api, world, cred):
    """R7: a host group referenced by a deploy task or a host-group parameter → 409 with the list."""
    group = create(api, world, cred)
    for name, via in (("direct", False), ("param", True)):
        response = api("developer", "post", plist(world), _deploy_definition(name, via_parameter=via))
        assert response.status_code == 201, response.content
    before = snapshot()
    response = api("operator", "delete", hg_url(world, group["id"]))
    assert response.status_code == 409 and response.json()["error_code"] == "PIPELINES.4090"
    usages = {u["pipeline"]: u["where"] for u in response.json()["usages"]}
    assert usages == {"direct": ["Deploy › ship"], "param": ["parameter hosts"]}
    response = api("operator", "patch", hg_url(world, group["id"]), {"name": "renamed"})
    assert response.status_code == 409 and len(response.json()["usages"]) == 2
    assert snapshot() == before
    for usage in response.json()["usages"]:
        pipeline = type("P", (), {"pk": usage["pipeline_id"], "project_id": world.project.pk})
        assert api("developer", "delete", purl(pipeline)).status_code == 204
    assert api("operator", "delete", hg_url(world, group["id"])).status_code == 204


def test_unknown_host_group_in_a_deploy_task(api, world):
    response = api("developer", "post", plist(world), _deploy_definition("x", group="nowhere"))
    assert response.status_code == 400 and "stages[0].tasks[0].config.host_group" in response.json()["errors"]


@pytest.mark.parametrize("raw", ["[]", '"text"', "5", "null", "{not json", "[" * 100_000])
def test_bad_envelopes(api, world, cred, raw):
    group = create(api, world, cred)
    before = snapshot()
    for method, url in (("post", hg_url(world)), ("patch", hg_url(world, group["id"]))):
        response = api("operator", method, url, raw=raw)
        assert response.status_code == 400 and response.json()["error_code"].startswith("PIPELINES.400"), raw
    assert snapshot() == before
