"""Shared fixtures and helpers of the template tests (SPEC §9, M1–M3); holds no tests itself."""

from __future__ import annotations

import pytest
import yaml

from endpoints import services as endpoint_services
from pipelines.models import HostGroup
from templates_app import services, system_templates
from templates_app.models import PipelineTemplate

KUBECONFIG = yaml.safe_dump(
    {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "prod",
        "clusters": [{"name": "prod", "cluster": {"server": "https://prod.example:6443"}}],
        "users": [{"name": "admin", "user": {"token": "kube-Planted-token"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "admin"}}],
    }
)

SIMPLE = {
    "parameters": [
        {"name": "releaseversion", "type": "auto_increment", "default": "1.0.0", "runtime": True},
        {"name": "target", "type": "enum", "choices": ["dev", "prod"], "default": "dev"},
    ],
    "stages": [
        {
            "name": "Build",
            "tasks": [
                {
                    "name": "compile",
                    "type": "build",
                    "config": {
                        "source": "app",
                        "commands": "make ENV=${target}",
                        "artifacts": ["dist/*"],
                        "package": "web",
                        "version": "${releaseversion}",
                    },
                }
            ],
        }
    ],
}


@pytest.fixture(autouse=True)
def system_templates_loaded(db):
    """The data migration loads the system templates; a transactional test earlier in the session (live
    server, workers) flushes every table, so reload them then, exactly as the migration does."""
    if PipelineTemplate.objects.filter(system=True).count() < len(system_templates.read()):
        system_templates.load()


@pytest.fixture(name="git_endpoint")
def git_endpoint_fixture(world):
    return endpoint_services.create_endpoint(
        world.users["creator"],
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


@pytest.fixture(name="k8s_endpoint")
def k8s_endpoint_fixture(world):
    return endpoint_services.create_endpoint(
        world.users["creator"],
        world.project,
        {
            "name": "cluster",
            "type": "kubernetes",
            "url": "https://prod.example:6443",
            "kubeconfig": KUBECONFIG,
            "scope": "public",
        },
    )


@pytest.fixture(name="host_group")
def host_group_fixture(world):
    return HostGroup.objects.create(project=world.project, name="web-servers")


def git_source(endpoint, alias="app"):
    return {"kind": "git", "alias": alias, "endpoint": endpoint.pk, "repository": "org/app", "default_branch": "main"}


def system(key) -> PipelineTemplate:
    return PipelineTemplate.objects.get(system=True, key=key)


def custom(world, owner="developer", project=True, name="Team build", definition=None) -> PipelineTemplate:
    data = {"name": name, "definition": definition or SIMPLE}
    if project:
        data["project"] = world.project.pk
    return services.create_template(world.users[owner], data)


def other_custom(world, name="Beta build") -> PipelineTemplate:
    """A template shared with the other project: invisible to every actor of ``world.project``."""
    return services.create_template(
        world.users["other_creator"], {"name": name, "project": world.other_project.pk, "definition": SIMPLE}
    )
