"""Junk fuzz of ``validate_definition``: whatever the input, it returns a normalized definition or raises
``DefinitionError`` (never another exception), and what it returns validates again to itself.

hypothesis is not installed here, so this is a seeded random loop over hand-made junk and mutations of a
rich valid document (every source kind, parameter type and task type).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random

import pytest

from pipelines.definition import DefinitionError, validate_definition
from tests.test_pipeline_definition import API_EXAMPLE, CTX

K8S = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"

RICH = {
    **copy.deepcopy(API_EXAMPLE),
    "sources": [
        {"kind": "git", "alias": "app", "endpoint": 12, "repository": "org/app", "default_branch": "main"},
        {"kind": "github_app", "alias": "gh", "endpoint": 2, "repository": "o/r", "default_branch": "dev"},
        {
            "kind": "release",
            "alias": "pkg",
            "directory": "d",
            "package": "p",
            "version_strategy": "specific",
            "version": "1",
        },
        {"kind": "docker", "alias": "img", "endpoint": 4, "organization": "o", "image": "i", "branch_filter": "m*"},
    ],
    "parameters": [
        {"name": "releaseversion", "type": "auto_increment", "runtime": True},
        {"name": "flavour", "type": "enum", "choices": "a,b,c", "default": "b"},
        {"name": "hosts", "type": "host_group", "default": "web"},
        {"name": "api_key", "secret": True, "default": "abcdef-123"},
        {"name": "token", "secret": True, "value_set": True},
    ],
    "stages": [
        {
            "name": "Build",
            "parallel": True,
            "gates": [{"template": 3}, {"template": 4}],
            "tasks": [
                {
                    "name": "compile",
                    "type": "build",
                    "config": {
                        "source": "app",
                        "commands": "make ${flavour}",
                        "artifacts": ["dist/*"],
                        "package": "web",
                    },
                    "parameters": [{"name": "extra", "type": "enum", "choices": ["x", "y"]}],
                },
                {
                    "name": "lint",
                    "type": "code_check",
                    "config": {"preset": "custom", "command": "c", "sarif_path": "o.sarif"},
                },
                {
                    "name": "api",
                    "type": "api_test",
                    "config": {
                        "mode": "http",
                        "checks": [{"method": "POST", "url": "https://x/${PIPELINE_ID}", "expected_status": 201}],
                    },
                },
                {
                    "name": "junit",
                    "type": "api_test",
                    "config": {"mode": "junit", "command": "t", "junit_path": "r/*.xml"},
                },
            ],
        },
        {
            "name": "Ship",
            "always_run": True,
            "manual": True,
            "tasks": [
                {"name": "wait", "type": "delay", "config": {"seconds": 30}},
                {"name": "ok", "type": "manual_review", "config": {"reviewers": ["alice"], "mode": "all"}},
                {
                    "name": "hg",
                    "type": "deploy",
                    "config": {"target": "host_group", "host_group": "${hosts}", "commands": "run"},
                },
                {
                    "name": "k8s",
                    "type": "deploy",
                    "config": {"target": "kubernetes", "endpoint": 5, "manifests": K8S, "namespace": "prod"},
                },
                {"name": "sub", "type": "sub_pipeline", "config": {"pipeline": 21, "parameters": {"v": "${gh_TAG}"}}},
            ],
        },
    ],
    "notifications": {"run_succeeded": {"email": True}},
}

KEYS = sorted(
    {
        "name",
        "description",
        "sources",
        "parameters",
        "stages",
        "triggers",
        "notifications",
        "kind",
        "alias",
        "endpoint",
        "repository",
        "default_branch",
        "directory",
        "package",
        "branch_filter",
        "version_strategy",
        "version",
        "organization",
        "image",
        "type",
        "default",
        "choices",
        "secret",
        "runtime",
        "value_set",
        "always_run",
        "manual",
        "parallel",
        "tasks",
        "gates",
        "template",
        "config",
        "source",
        "commands",
        "artifacts",
        "timeout_minutes",
        "preset",
        "command",
        "sarif_path",
        "mode",
        "junit_path",
        "checks",
        "method",
        "url",
        "expected_status",
        "body_contains",
        "target",
        "host_group",
        "manifests",
        "namespace",
        "rollout_timeout_seconds",
        "pipeline",
        "seconds",
        "reviewers",
        "forbid_starter",
        "push",
        "tag",
        "merge_request",
        "schedules",
        "timezone",
        "missed_schedule_policy",
        "enabled",
        "branches",
        "paths",
        "tags",
        "include",
        "exclude",
        "events",
        "days",
        "time",
        "in_app",
        "email",
        "run_failed",
    }
)
WORDS = [
    "git",
    "none",
    "enum",
    "build",
    "delay",
    "deploy",
    "kubernetes",
    "host_group",
    "custom",
    "http",
    "junit",
    "sub_pipeline",
    "manual_review",
    "specific",
    "web",
    "alice",
    "mon",
    "02:30",
    "UTC",
    "main",
    "${x}",
    "$${x}",
    "${releaseversion}",
    "a,b",
    "",
    " ",
    "..",
    "/",
    "***",
    "//",
    "-",
    "\x00",
    "\ud800",
    "中文",
]


def deep(depth: int, leaf=None):
    value = leaf
    for _ in range(depth):
        value = [value] if depth % 2 else {"tasks": value}
    return value


def junk(rng: random.Random, depth: int = 0):
    roll = rng.randrange(22 if depth < 3 else 14)
    if roll == 0:
        return None
    if roll == 1:
        return rng.choice([True, False])
    if roll == 2:
        return rng.choice([0, -1, 1, 5, 10, 12, 20, 21, 300, 86401, 2**63, -(2**70)])
    if roll == 3:
        return rng.choice([0.5, 60.0, float("nan"), float("inf"), -0.0, 1e308])
    if roll in (4, 5, 6):
        return rng.choice(WORDS)
    if roll == 7:
        return rng.choice(["x" * 100_001, "\n" * 5000, "${a}" * 10_000, "[" * 20_000])
    if roll == 8:
        return "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(1, 40)))
    if roll == 9:
        return rng.choice([b"bytes", (1, 2), {1, 2}, frozenset(), object(), 3j, Ellipsis])
    if roll == 10:
        return deep(rng.choice([50, 2000, 20_000]), rng.choice([None, "x", {}]))
    if roll == 11:
        return rng.choice([[], {}, [[]], [{}], {"": None}])
    if roll == 12:
        return rng.choice(KEYS)
    if roll == 13:
        return rng.randrange(-3, 30)
    if roll < 18:
        return [junk(rng, depth + 1) for _ in range(rng.randrange(0, 6))]
    return {rng.choice(KEYS + [1, None, "x" * 70]): junk(rng, depth + 1) for _ in range(rng.randrange(0, 6))}


def _containers(value, found, depth=0):
    if depth > 12:
        return
    if isinstance(value, dict | list):
        found.append(value)
        for child in value.values() if isinstance(value, dict) else value:
            _containers(child, found, depth + 1)


def mutate(rng: random.Random, data: dict) -> dict:
    """A fresh copy of ``data`` with a few random nodes replaced, removed, duplicated or added."""
    data = copy.deepcopy(data)
    for _ in range(rng.randrange(1, 4)):
        found: list = []
        _containers(data, found)
        target = rng.choice(found)
        if isinstance(target, dict) and target:
            key = rng.choice(list(target))
            action = rng.randrange(4)
            if action == 0:
                del target[key]
            elif action == 1:
                target[rng.choice(KEYS)] = junk(rng)
            else:
                target[key] = junk(rng)
        elif isinstance(target, list) and target:
            index = rng.randrange(len(target))
            action = rng.randrange(4)
            if action == 0:
                del target[index]
            elif action == 1:
                target.extend([copy.deepcopy(target[index])] * rng.choice([1, 11, 60]))
            else:
                target[index] = junk(rng)
        elif isinstance(target, list):
            target.append(junk(rng))
    return data


def check_never_crashes(data, ctx=CTX) -> bool:
    """Validate; on success the output is JSON and validates to itself. True when valid."""
    try:
        definition, secrets = validate_definition(data, ctx)
    except DefinitionError as exc:
        assert exc.errors and all(isinstance(p, str) for p in exc.errors)
        assert all(m and all(isinstance(s, str) and s for s in m) for m in exc.errors.values())
        str(exc)
        return False
    assert isinstance(definition, dict) and isinstance(secrets, dict)
    assert json.loads(json.dumps(definition)) == definition
    for value in secrets.values():
        assert value not in json.dumps(definition)
    ctx2 = dataclasses.replace(ctx, stored_secrets=frozenset(ctx.stored_secrets) | set(secrets))
    again, more = validate_definition(definition, ctx2)
    assert again == definition and more == {}
    return True


def test_rich_document_is_valid():
    assert check_never_crashes(RICH)


@pytest.mark.parametrize("seed", range(8))
def test_mutations_of_a_valid_document(seed):
    """Never anything but DefinitionError, whatever part of a valid document is broken."""
    rng = random.Random(seed)
    valid = sum(check_never_crashes(mutate(rng, RICH)) for _ in range(250))
    assert valid < 250  # the mutations do break things


@pytest.mark.parametrize("seed", range(4))
def test_pure_junk(seed):
    rng = random.Random(1000 + seed)
    for _ in range(300):
        check_never_crashes(junk(rng))
        check_never_crashes({"name": "x", rng.choice(KEYS): junk(rng)})


@pytest.mark.parametrize(
    "data",
    [
        {"name": "x", "stages": deep(50_000)},
        {"name": "x", "stages": [{"name": "s", "tasks": [{"name": "t", "type": "delay", "config": deep(30_000)}]}]},
        {"name": "x" * 10_000_000},
        {"name": "x", "parameters": [{"name": "p"}] * 100_000},
        {"name": "x", "sources": [{"kind": "none"}] * 10},
        {"name": "x", "triggers": {"schedules": [{}] * 1_000_000}},
        {"name": "\ud800"},
        {"name": "x", "description": "\x00"},
        {("tuple",): 1, 3: 4, None: 5},
    ],
    ids=[
        "deep-stages",
        "deep-config",
        "huge-name",
        "many-params",
        "many-none",
        "many-schedules",
        "surrogate",
        "nul",
        "odd-keys",
    ],
)
def test_hostile_shapes(data):
    assert check_never_crashes(data) is False
