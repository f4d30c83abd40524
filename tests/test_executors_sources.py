"""Artifact sources resolved when a run starts (K2, P2): the release repository and a REAL Docker registry."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
import requests
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from endpoints.services import create_endpoint
from pipelines.runs.models import BuildPackage, Run
from pipelines.runs.sources import glob_match, latest_tag
from pipelines.runs.start import start_run
from tests.engine_support import build, log_of, make_pipeline, stage, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker", "drain_runs")]


def package(world, version: str, *, branch: str = "", content: bytes = b"", name: str = "web-app") -> BuildPackage:
    run = None
    if branch:
        holder = make_pipeline(world, [stage("S", build())], name=f"holder-{uuid.uuid4().hex[:6]}")
        run = Run.objects.create(pipeline=holder, number=1, state="succeeded", branch=branch)
    item = BuildPackage(project=world.project, run=run, name=name, version=version, filename="dist/app.txt")
    item.file.save(f"{name}-{version}.txt", ContentFile(content or version.encode()), save=False)
    item.size, item.sha256 = item.file.size, hashlib.sha256(content or version.encode()).hexdigest()
    item.save()
    return item


def release_pipeline(world, **source):
    source = {"kind": "release", "alias": "pkg", "directory": "web", "package": "web-app", **source}
    stages = [stage("Use", build(source="pkg", commands="cat dist/app.txt"))]
    return make_pipeline(world, stages, sources=[source], name=f"rel-{uuid.uuid4().hex[:6]}")


def test_release_latest_takes_the_newest_package_and_the_task_gets_its_file(world):
    """K2: Latest = the newest build package of that name; its file is put into the task's source."""
    package(world, "1.0.0")
    newest = package(world, "1.1.0", content=b"the newest build\n")
    package(world, "9.0.0", name="other-app")
    run = wait_for(start_run(world.users["developer"], release_pipeline(world)))
    assert run.sources["pkg"] == {
        "package": "web-app",
        "version": "1.1.0",
        "package_id": newest.pk,
        "package_ids": [newest.pk],
    }
    assert run.state == "succeeded" and "the newest build" in log_of(run, "compile")


def test_release_branch_filter_and_specific_version(world):
    """K2: the branch filter limits Latest to packages built on matching branches; Specific must exist."""
    package(world, "2.0.0", branch="release/2.0")
    package(world, "3.0.0-dev", branch="main")
    run = start_run(world.users["developer"], release_pipeline(world, branch_filter="release/*"))
    assert run.sources["pkg"]["version"] == "2.0.0"
    run = start_run(world.users["developer"], release_pipeline(world, version_strategy="specific", version="3.0.0-dev"))
    assert run.sources["pkg"]["version"] == "3.0.0-dev"
    for source in ({"version_strategy": "specific", "version": "4.0.0"}, {"package": "never-built"}):
        with pytest.raises(ValidationError) as exc:
            start_run(world.users["developer"], release_pipeline(world, **source))
        assert "Source pkg" in exc.value.message_dict["sources"][0]


def push_image(registry, name: str, tag: str) -> None:
    """Push a minimal image (config blob, one layer blob, schema-2 manifest) with the registry API."""
    session = requests.Session()
    session.auth = (registry.username, registry.password)
    if registry.token_server is not None:
        scope = f"repository:{name}:pull,push"
        token = session.get(registry.token_server.realm, params={"service": "test-registry", "scope": scope})
        session.auth = None
        session.headers["Authorization"] = f"Bearer {token.json()['token']}"
    descriptors = []
    for media_type, blob in (
        ("application/vnd.docker.container.image.v1+json", json.dumps({"os": "linux", "tag": tag}).encode()),
        ("application/vnd.docker.image.rootfs.diff.tar.gzip", f"layer {name}:{tag}".encode()),
    ):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        started = session.post(f"{registry.url}/v2/{name}/blobs/uploads/")
        assert started.status_code == 202, started.text
        location = requests.compat.urljoin(registry.url, started.headers["Location"])
        done = session.put(location, params={"digest": digest}, data=blob)
        assert done.status_code == 201, done.text
        descriptors.append({"mediaType": media_type, "size": len(blob), "digest": digest})
    manifest_type = "application/vnd.docker.distribution.manifest.v2+json"
    manifest = {"schemaVersion": 2, "mediaType": manifest_type, "config": descriptors[0], "layers": descriptors[1:]}
    response = session.put(
        f"{registry.url}/v2/{name}/manifests/{tag}", data=json.dumps(manifest), headers={"Content-Type": manifest_type}
    )
    assert response.status_code == 201, response.text


def docker_pipeline(world, registry, image: str, **source):
    endpoint = create_endpoint(
        world.users["developer"],
        world.project,
        {
            "name": f"registry-{uuid.uuid4().hex[:6]}",
            "type": "docker_registry",
            "url": registry.url,
            "username": registry.username,
            "password": registry.password,
            "scope": "public",
        },
    )
    source = {
        "kind": "docker",
        "alias": "img",
        "endpoint": endpoint.pk,
        "organization": "team",
        "image": image,
        **source,
    }
    stages = [stage("Use", build(source="img", commands="true"))]
    return make_pipeline(world, stages, sources=[source], name=f"img-{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
def pushed(docker_registry):
    image = f"web{uuid.uuid4().hex[:6]}"
    for tag in ("1.2.0", "1.10.0-rc1", "1.10.0", "1.9.3", "latest"):
        push_image(docker_registry, f"team/{image}", tag)
    return image


def test_docker_latest_and_specific_from_the_real_registry(world, docker_registry, pushed):
    """K2: Docker tags come from the registry (basic auth); Latest is the highest version, Specific must exist."""
    host = docker_registry.url.removeprefix("http://")
    run = wait_for(start_run(world.users["developer"], docker_pipeline(world, docker_registry, pushed)))
    assert run.sources["img"] == {"image": f"{host}/team/{pushed}:1.10.0", "version": "1.10.0"}
    assert run.state == "succeeded" and f"image {host}/team/{pushed}:1.10.0" in log_of(run, "compile")
    specific = docker_pipeline(world, docker_registry, pushed, version_strategy="specific", version="1.2.0")
    assert start_run(world.users["developer"], specific).sources["img"]["version"] == "1.2.0"
    filtered = docker_pipeline(world, docker_registry, pushed, branch_filter="1.9*")
    assert start_run(world.users["developer"], filtered).sources["img"]["version"] == "1.9.3"
    for image, source, reason in (
        (pushed, {"version_strategy": "specific", "version": "2.0.0"}, "tag 2.0.0"),
        ("never-pushed", {}, "does not exist in the registry"),
    ):
        with pytest.raises(ValidationError) as exc:
            start_run(world.users["developer"], docker_pipeline(world, docker_registry, image, **source))
        assert reason in exc.value.message_dict["sources"][0]


def test_docker_tags_through_the_bearer_token_flow(world, docker_registry_token):
    """K2: a registry with token auth: the tag list is read after the bearer challenge."""
    push_image(docker_registry_token, "team/api", "0.1.0")
    push_image(docker_registry_token, "team/api", "0.2.0")
    run = start_run(world.users["developer"], docker_pipeline(world, docker_registry_token, "api"))
    assert run.sources["img"]["version"] == "0.2.0"
    scopes = [claim["access"] for claim in docker_registry_token.token_server.issued]
    assert {"type": "repository", "name": "team/api", "actions": ["pull"]} in [a for s in scopes for a in s]


def test_version_ordering_and_patterns():
    """K2 Latest: numeric version order, releases above their pre-releases; T4 glob patterns."""
    assert latest_tag(["1.9.2", "v1.10.0", "1.10.0-rc1", "latest", "nightly"]) == "v1.10.0"
    assert latest_tag(["main", "latest"]) == "latest" and latest_tag([]) is None
    assert glob_match("release/*", "release/1.0") and not glob_match("release/*", "release/1/hotfix")
    assert glob_match("release/**", "release/1/hotfix") and glob_match("v?.0", "v2.0")
