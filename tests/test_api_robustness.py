"""Never a 500 for odd input on any JSON API: deeply nested and oversized bodies answer 400 in the API.md
error format, and a credential still used by a host group cannot be deleted (409 with the list)."""

import pytest

from endpoints import services as endpoint_services
from pipelines.models import Host, HostGroup

pytestmark = pytest.mark.django_db


def urls(world):
    pid = world.project.pk
    return [
        f"/api/v1/projects/{pid}/endpoints/",
        f"/api/v1/projects/{pid}/credentials/",
        f"/api/v1/projects/{pid}/pipelines/",
        f"/api/v1/projects/{pid}/members/",
        "/api/v1/projects/",
        "/api/v1/templates/",
        f"/api/v1/projects/{pid}/host-groups/",
    ]


@pytest.mark.parametrize(
    "body", ["[" * 100_000 + "]" * 100_000, '{"a": "' + "x" * 3_000_000 + '"}'], ids=["deep", "huge"]
)
def test_odd_json_is_a_400_everywhere(client, world, body):
    for url in urls(world):
        response = client.post(
            url, data=body, content_type="application/json", HTTP_X_AUTH_TOKEN=world.token("manager")
        )
        assert response.status_code == 400, (url, response.status_code)
        assert "error_code" in response.json(), url


def test_credential_used_by_a_host_cannot_be_deleted(client, world):
    credential = endpoint_services.create_credential(
        world.users["manager"],
        world.project,
        {"name": "ssh", "kind": "username_password", "identity": "deploy", "secret": "pw-123456"},
    )
    group = HostGroup.objects.create(project=world.project, name="web")
    Host.objects.create(group=group, address="10.0.0.1", ssh_user="deploy", credential=credential)
    response = client.delete(
        f"/api/v1/projects/{world.project.pk}/credentials/{credential.pk}/", HTTP_X_AUTH_TOKEN=world.token("manager")
    )
    assert response.status_code == 409
    assert response.json()["usages"][0]["label"].startswith("web › deploy@10.0.0.1")
