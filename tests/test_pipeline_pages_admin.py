"""Pipeline admin (I2, A6): restricted to what the staff user may see and do; the definition read-only;
secret parameter values never shown; name changes go through the service (a new version)."""

import pytest
from django.contrib.auth import get_user_model

from pipelines import services
from pipelines.models import HostGroup, Pipeline
from tests.test_pipeline_pages import SECRET, make_other_pipeline, make_pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline(world):
    return make_pipeline(world)


@pytest.fixture
def other_pipeline(world):
    return make_other_pipeline(world)


def staff(world, actor):
    user = world.users[actor]
    user.is_staff = True
    user.save()
    return user


def test_admin_lists_only_visible_pipelines_and_hides_secrets(client, world, pipeline, other_pipeline):
    client.force_login(staff(world, "viewer"))
    listing = client.get("/admin/pipelines/pipeline/").content.decode()
    assert "web-app" in listing and "theirs" not in listing
    page = client.get(f"/admin/pipelines/pipeline/{pipeline.pk}/change/").content.decode()
    assert "token (set)" in page and SECRET not in page and "releaseversion" in page
    assert client.get(f"/admin/pipelines/pipeline/{other_pipeline.pk}/change/").status_code == 302
    versions = client.get("/admin/pipelines/pipelineversion/").content.decode()
    assert "web-app" in versions and "theirs" not in versions


def test_admin_edit_needs_modify_and_goes_through_the_service(client, world, pipeline):
    client.force_login(staff(world, "viewer"))
    url = f"/admin/pipelines/pipeline/{pipeline.pk}/change/"
    assert client.post(url, {"name": "x", "description": ""}).status_code == 403
    client.force_login(staff(world, "manager"))
    data = {
        "name": "renamed",
        "description": "d",
        "role_permissions-TOTAL_FORMS": "7",
        "role_permissions-INITIAL_FORMS": "7",
        "person_permissions-TOTAL_FORMS": "0",
        "person_permissions-INITIAL_FORMS": "0",
    }
    for i, perm in enumerate(pipeline.role_permissions.order_by("pk")):
        data[f"role_permissions-{i}-id"] = perm.pk
        data[f"role_permissions-{i}-pipeline"] = pipeline.pk
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    pipeline = Pipeline.objects.get(pk=pipeline.pk)
    assert (pipeline.name, pipeline.version) == ("renamed", 2)


def test_superuser_sees_host_groups_and_gate_templates(client, world):
    HostGroup.objects.create(project=world.project, name="web")
    admin = get_user_model().objects.create_superuser("root", password="pw-root-1")
    client.force_login(admin)
    assert "web" in client.get("/admin/pipelines/hostgroup/").content.decode()
    assert client.get("/admin/pipelines/gatetemplate/").status_code == 200


def test_admin_keeps_a_host_group_that_pipelines_use(client, world):
    """The admin follows the host-group service's rules: no rename and no delete while a pipeline uses it."""
    group = HostGroup.objects.create(project=world.project, name="web")
    deploy = {"name": "ship", "type": "deploy",
              "config": {"target": "host_group", "host_group": "web", "commands": "true"}}  # fmt: skip
    pipeline = services.create_pipeline(
        world.users["creator"], world.project, {"name": "uses-web", "stages": [{"name": "Deploy", "tasks": [deploy]}]}
    )
    admin = get_user_model().objects.create_superuser("root", password="pw-root-1")
    client.force_login(admin)
    url = f"/admin/pipelines/hostgroup/{group.pk}/change/"
    inline = {"hosts-TOTAL_FORMS": "0", "hosts-INITIAL_FORMS": "0"}
    response = client.post(url, {"name": "renamed", "description": "", **inline})
    assert response.status_code == 200 and "cannot be renamed: uses-web" in response.content.decode()
    assert client.get(f"/admin/pipelines/hostgroup/{group.pk}/delete/").status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [group.pk], "post": "yes"}
    client.post("/admin/pipelines/hostgroup/", bulk)
    assert HostGroup.objects.get(pk=group.pk).name == "web"
    services.delete_pipeline(world.users["creator"], pipeline)
    assert client.get(f"/admin/pipelines/hostgroup/{group.pk}/delete/").status_code == 200  # unused now


def test_admin_host_rows_are_checked_as_the_pages_and_api_check_them(client, world):
    """R7 through the admin: the host-group service checks the rows (hostgroups.check_hosts) — address, SSH
    user, a password or key credential of the group's project, no host twice — each error on its row and
    field, nothing saved; correct rows are saved."""
    from endpoints import services as endpoint_services
    from pipelines.models import Host

    def credential(name, kind="username_password", project=None, actor="manager"):
        data = {"name": name, "kind": kind, "identity": "deploy", "secret": "ssh-pw-123456", "shared": True}
        return endpoint_services.create_credential(world.users[actor], project or world.project, data)

    ssh, token = credential("ssh"), credential("tok", kind="username_token")
    foreign = credential("theirs", project=world.other_project, actor="other_creator")
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-root-1"))

    def post(*rows):
        data = {"project": world.project.pk, "name": "web", "description": "",
                "hosts-TOTAL_FORMS": str(len(rows)), "hosts-INITIAL_FORMS": "0"}  # fmt: skip
        for i, (address, user, cred) in enumerate(rows):
            data |= {f"hosts-{i}-address": address, f"hosts-{i}-port": "22", f"hosts-{i}-ssh_user": user,
                     f"hosts-{i}-credential": cred.pk}  # fmt: skip
        return client.post("/admin/pipelines/hostgroup/add/", data)

    response = post(("not a host!", "deploy", ssh), ("web1.example.com", "1root", ssh),
                    ("web2.example.com", "deploy", token), ("web3.example.com", "deploy", foreign),
                    ("web4.example.com", "deploy", ssh), ("WEB4.example.com", "deploy", ssh))  # fmt: skip
    page = response.content.decode()
    assert response.status_code == 200 and not HostGroup.objects.filter(name="web").exists()
    errors = response.context["inline_admin_formsets"][0].formset.errors
    assert [sorted(e) for e in errors] == [["address"], ["ssh_user"], ["credential"], ["credential"], [], ["address"]]
    assert "cannot log in over SSH" in page and "does not exist in this project" in page and "listed twice" in page
    response = post(("web1.example.com", "deploy", ssh), ("10.0.0.7", "deploy", ssh))
    assert response.status_code == 302
    hosts = Host.objects.filter(group__name="web").order_by("address").values_list("address", "ssh_user")
    assert list(hosts) == [("10.0.0.7", "deploy"), ("web1.example.com", "deploy")]
