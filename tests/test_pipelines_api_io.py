"""Pipeline as code through the API (export / import YAML) and bad input of every shape: never a 500,
always the API.md error format, nothing saved."""

from __future__ import annotations

import json

import pytest
import yaml

from pipelines.models import Pipeline
from tests.test_pipelines_api import SECRET, api_fixture, definition, make, plist, purl, snapshot  # noqa: F401

pytestmark = pytest.mark.django_db


def import_url(world):
    return plist(world) + "import/"


def test_export_import_round_trip(api, world):
    """Export is YAML (application/yaml) without secret values; importing it (with the secret value
    filled in, since it is not in the file) gives the same definition."""
    original = make(world)
    response = api("viewer", "get", purl(original, "export/"))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/yaml")
    assert 'filename="web-app.yaml"' in response["Content-Disposition"]
    text = response.content.decode()
    assert SECRET not in text and "releaseversion" in text
    data = yaml.safe_load(text)
    data["name"] = "imported"
    refused = api("developer", "post", import_url(world), raw=yaml.safe_dump(data), content_type="application/yaml")
    assert refused.status_code == 400 and "parameters[1].default" in refused.json()["errors"]  # asks for the secret
    data["parameters"][1]["default"] = "another-Secret-77"
    api.plant("another-Secret-77")
    response = api("developer", "post", import_url(world), raw=yaml.safe_dump(data), content_type="application/yaml")
    assert response.status_code == 201, response.content
    imported = Pipeline.objects.get(pk=response.json()["id"])
    assert {**imported.definition, "name": "web-app"} == original.definition
    assert imported.creator == world.users["developer"]


@pytest.mark.parametrize("content_type", ["text/yaml", "application/x-yaml", "text/plain"])
def test_import_as_text_or_json(api, world, content_type):
    text = "name: from-text\nstages:\n  - name: Build\n    tasks:\n"
    text += "      - {name: make, type: build, config: {commands: make}}\n"
    response = api("developer", "post", import_url(world), raw=text, content_type=content_type)
    assert response.status_code == 201, response.content
    response = api("developer", "post", import_url(world), {"yaml": text.replace("from-text", "from-json")})
    assert response.status_code == 201 and response.json()["stages"][0]["tasks"][0]["config"]["commands"] == "make"


BAD_YAML = [
    ("name: [unclosed", "yaml", "line 1"),
    ("- a\n- list", "yaml", "mapping"),
    ("", "yaml", "YAML"),
    ("[" * 5000 + "]" * 5000, "yaml", "nested"),
    ("name: x\nstages:\n  - name: A\n    tasks: []\n  - name: B\n    tasks:\n"
     "      - {name: t, type: build, config: {commands: ''}}",
     "stages[1].tasks[0].config.commands", "required"),
    ("name: 2024-01-01", "name", "text"),
    ("{1: 2, name: x}", "<int>", "Unknown"),
    ("name: x\nstages: &a [*a]", "stages[0]", "stage"),
]  # fmt: skip


@pytest.mark.parametrize("text, field, message", BAD_YAML, ids=[f"{f}-{i}" for i, (_t, f, _m) in enumerate(BAD_YAML)])
def test_import_errors_have_paths(api, world, text, field, message):
    before = snapshot()
    response = api("developer", "post", import_url(world), raw=text, content_type="application/yaml")
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field in errors and message in " ".join(errors[field]), errors
    assert snapshot() == before


def test_import_envelopes(api, world):
    before = snapshot()
    for body in ({"yaml": 5}, {"text": "name: x"}, [], 5):
        response = api("developer", "post", import_url(world), body)
        assert response.status_code == 400 and "yaml" in response.json()["errors"], body
    laughs = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    response = api("developer", "post", import_url(world), raw=laughs, content_type="application/yaml")
    assert response.status_code == 400  # billion laughs: unknown keys, not an expansion
    response = api("developer", "post", import_url(world), raw=b"name: \xff\xfe", content_type="application/yaml")
    assert response.status_code == 400
    response = api("developer", "post", import_url(world), raw="name: x\n" + "#" * 600_000, content_type="text/yaml")
    assert response.status_code == 400 and "512 KiB" in response.json()["errors"]["yaml"][0]
    assert snapshot() == before


RAW = ["[]", '"text"', "5", "null", "[{}]", "{not json", "[" * 100_000, '{"name": NaN}', '{"a": 1e999999}']


@pytest.mark.parametrize("raw", RAW, ids=range(len(RAW)))
def test_non_object_json_is_400_everywhere(api, world, raw):
    """Bad envelopes on every pipeline write URL: 400 in the API.md format, nothing saved."""
    pipeline = make(world)
    before = snapshot()
    for method, url in (("post", plist(world)), ("put", purl(pipeline)), ("patch", purl(pipeline)),
                        ("put", purl(pipeline, "permissions/")), ("post", purl(pipeline, "copy/")),
                        ("post", import_url(world))):  # fmt: skip
        response = api("creator", method, url, raw=raw)
        assert response.status_code == 400, (method, url, raw[:20], response.content[:200])
        assert response.json()["error_code"].startswith("PIPELINES.400")
    assert snapshot() == before


def test_huge_body_is_400(api, world):
    pipeline = make(world)
    before = snapshot()
    huge = json.dumps({"name": "x", "description": "d" * 3_000_000})
    for method, url in (("post", plist(world)), ("put", purl(pipeline)), ("post", import_url(world))):
        response = api("creator", method, url, raw=huge)
        assert response.status_code == 400 and response.json()["error_code"] == "PIPELINES.4001", response.content
    assert snapshot() == before


def _wrong_types():
    """A wrong value at every level of a definition."""
    base = definition()
    task = base["stages"][0]["tasks"][0]
    yield from ({**base, key: value} for key in base for value in (5, "x", [1], {"a": 1}, True, None))
    yield from ({**base, "stages": [value]} for value in (5, "x", [], None, {"name": {}}))
    yield from ({**base, "stages": [{"name": "S", "tasks": value}]} for value in (5, "x", {"a": 1}, [5], [[]]))
    for key in task:
        for value in (5, "x", [1], {"a": 1}, False):
            yield {**base, "stages": [{"name": "S", "tasks": [{**task, key: value}]}]}
    for key in task["config"]:
        for value in (5, [{}], {"a": [1]}, "${", None, 1.5):
            yield {**base, "stages": [{"name": "S", "tasks": [{**task, "config": {**task["config"], key: value}}]}]}
    yield from ({**base, "parameters": [{**base["parameters"][0], "default": v}]} for v in (5, [1], {"a": 1}))
    yield from ({**base, "triggers": {"push": value}} for value in (5, "x", [1], {"branches": 5}))


def test_wrong_types_at_every_level_never_500(api, world):
    pipeline = make(world)
    statuses = set()
    for body in _wrong_types():
        for method, url in (("post", plist(world)), ("put", purl(pipeline)), ("patch", purl(pipeline))):
            response = api("creator", method, url, body)
            assert response.status_code in (200, 201, 400), (method, body, response.content[:300])
            if response.status_code == 400:
                assert response.json()["errors"], response.content
            statuses.add(response.status_code)
    assert 400 in statuses
