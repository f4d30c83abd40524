"""Task configuration per type (P6) and sub-pipeline cycles (X8) of the pipeline definition."""

from __future__ import annotations

import dataclasses

import pytest

from pipelines.definition import find_cycle
from tests.test_pipeline_definition import CTX, assert_error, check_valid, errors, task, with_tasks

K8S = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n---\napiVersion: v1\nkind: Service\n"
BASE = "stages[0].tasks[0].config"


def config_of(t, **kwargs) -> dict:
    definition, _ = check_valid(with_tasks(t, **kwargs))
    return definition["stages"][0]["tasks"][0]["config"]


# --------------------------------------------------------------------------- normalized configs


@pytest.mark.parametrize(
    "type_, config, expected",
    [
        (
            "build",
            {"source": "app", "commands": "make"},
            {
                "source": "app",
                "commands": "make",
                "artifacts": [],
                "package": "",
                "version": "${PIPELINE_NUMBER}",
                "timeout_minutes": 60,
            },
        ),
        (
            "build",
            {
                "source": "app",
                "commands": "make\n",
                "artifacts": ["dist/*", "dist/*", "out/**/x.whl"],
                "package": "w",
                "timeout_minutes": "90",
            },
            {
                "source": "app",
                "commands": "make\n",
                "artifacts": ["dist/*", "out/**/x.whl"],
                "package": "w",
                "version": "${PIPELINE_NUMBER}",
                "timeout_minutes": 90,
            },
        ),
        (
            "code_check",
            {"preset": "ruff"},
            {"preset": "ruff", "command": "", "sarif_path": "", "source": "", "timeout_minutes": 60},
        ),
        (
            "code_check",
            {"preset": "flake8", "command": "ignored", "source": "app"},
            {"preset": "flake8", "command": "", "sarif_path": "", "source": "app", "timeout_minutes": 60},
        ),
        (
            "code_check",
            {"preset": "custom", "command": "semgrep --sarif -o out.sarif", "sarif_path": "out.sarif"},
            {
                "preset": "custom",
                "command": "semgrep --sarif -o out.sarif",
                "sarif_path": "out.sarif",
                "source": "",
                "timeout_minutes": 60,
            },
        ),
        (
            "api_test",
            {"mode": "junit", "command": "pytest --junitxml=r.xml", "junit_path": "r.xml", "checks": []},
            {
                "mode": "junit",
                "command": "pytest --junitxml=r.xml",
                "junit_path": "r.xml",
                "source": "",
                "timeout_minutes": 60,
            },
        ),
        (
            "api_test",
            {"mode": "http", "checks": [{"url": "https://api.example/health"}], "command": "ignored"},
            {
                "mode": "http",
                "checks": [
                    {"method": "GET", "url": "https://api.example/health", "expected_status": 200, "body_contains": ""}
                ],
                "timeout_minutes": 60,
            },
        ),
        (
            "api_test",
            {
                "mode": "http",
                "checks": [{"method": "post", "url": "${base_url}/v1", "expected_status": 201, "body_contains": "ok"}],
            },
            {
                "mode": "http",
                "checks": [{"method": "POST", "url": "${base_url}/v1", "expected_status": 201, "body_contains": "ok"}],
                "timeout_minutes": 60,
            },
        ),
        (
            "deploy",
            {"target": "host_group", "host_group": "web", "commands": "systemctl restart web"},
            {"target": "host_group", "host_group": "web", "commands": "systemctl restart web", "package": ""},
        ),
        (
            "deploy",
            {
                "target": "host_group",
                "host_group": "${hosts}",
                "commands": "deploy",
                "package": "web-app",
                "manifests": "dropped",
            },
            {"target": "host_group", "host_group": "${hosts}", "commands": "deploy", "package": "web-app"},
        ),
        (
            "deploy",
            {"target": "kubernetes", "endpoint": 5, "manifests": K8S},
            {"target": "kubernetes", "endpoint": 5, "manifests": K8S, "namespace": "", "rollout_timeout_seconds": 300},
        ),
        (
            "deploy",
            {
                "target": "kubernetes",
                "endpoint": 5,
                "manifests": K8S,
                "namespace": "prod-1",
                "rollout_timeout_seconds": 60,
            },
            {
                "target": "kubernetes",
                "endpoint": 5,
                "manifests": K8S,
                "namespace": "prod-1",
                "rollout_timeout_seconds": 60,
            },
        ),
        ("sub_pipeline", {"pipeline": 20}, {"pipeline": 20, "parameters": {}}),
        (
            "sub_pipeline",
            {"pipeline": "21", "parameters": {"ver": "${releaseversion}", "flag": ""}},
            {"pipeline": 21, "parameters": {"ver": "${releaseversion}", "flag": ""}},
        ),
        ("delay", {"seconds": 86400}, {"seconds": 86400}),
        (
            "manual_review",
            {"reviewers": ["alice", " bob ", "alice"]},
            {"reviewers": ["alice", "bob"], "mode": "any", "timeout_minutes": None, "forbid_starter": False},
        ),
        (
            "manual_review",
            {"reviewers": ["carol"], "mode": "all", "timeout_minutes": 10080, "forbid_starter": True},
            {"reviewers": ["carol"], "mode": "all", "timeout_minutes": 10080, "forbid_starter": True},
        ),
    ],
)
def test_config_normalization(type_, config, expected):
    """P6: each task type's config with defaults filled; other-mode fields dropped."""
    params = [
        {"name": "releaseversion", "type": "auto_increment"},
        {"name": "base_url", "default": "https://api.example"},
        {"name": "hosts", "type": "host_group", "default": "web"},
    ]
    assert config_of(task(type_, config), parameters=params) == expected


def test_build_without_sources_needs_no_source():
    """P6: build's source is required unless the pipeline has no sources."""
    assert config_of(task("build", {"commands": "make"}), sources=[])["source"] == ""
    assert config_of(task("build", {"commands": "make"}), sources=[{"kind": "none"}])["source"] == ""
    assert_error(with_tasks(task("build", {"commands": "make"})), f"{BASE}.source", "required")


# --------------------------------------------------------------------------- invalid configs


def _b(**config):
    return task("build", {"source": "app", "commands": "make", **config})


def _k8s(**config):
    return task("deploy", {"target": "kubernetes", "endpoint": 5, "manifests": K8S, **config})


CASES = [
    # build
    (_b(source="lib"), "source", "unknown source “lib”"),
    (_b(commands=""), "commands", "required"),
    (_b(commands="  \n "), "commands", "required"),
    (_b(commands="x" * 20001), "commands", "at most 20000"),
    (_b(commands="echo \x00"), "commands", "cannot be stored"),
    (_b(artifacts="dist/*"), "artifacts", "list"),
    (_b(artifacts=["dist/*"]), "package", "required"),
    (_b(artifacts=["/etc/passwd"], package="p"), "artifacts[0]", "relative"),
    (_b(artifacts=["../up/*"], package="p"), "artifacts[0]", "relative"),
    (_b(artifacts=["a/***"], package="p"), "artifacts[0]", "***"),
    (_b(artifacts=[""], package="p"), "artifacts[0]", "file path"),
    (_b(artifacts=[3], package="p"), "artifacts[0]", "file path"),
    (_b(artifacts=[f"f{i}" for i in range(51)], package="p"), "artifacts[50]", "at most 50"),
    (_b(package="web app"), "package", "letters, digits"),
    (_b(package=".."), "package", "only dots"),
    (_b(package="p" * 101), "package", "at most 100"),
    (_b(version="1 0"), "version", "spaces"),
    (_b(version="../x"), "version", "“/”"),
    (_b(version="v" * 101), "version", "at most 100"),
    (_b(timeout_minutes=0), "timeout_minutes", "1 to 1440"),
    (_b(timeout_minutes=1441), "timeout_minutes", "1 to 1440"),
    (_b(timeout_minutes=True), "timeout_minutes", "1 to 1440"),
    (_b(timeout_minutes=2.5), "timeout_minutes", "1 to 1440"),
    (_b(image="python:3"), "image", "Unknown field"),
    # code check
    (task("code_check", {}), "preset", "required"),
    (task("code_check", {"preset": "pylint"}), "preset", "ruff, flake8, custom"),
    (task("code_check", {"preset": "custom", "sarif_path": "o.sarif"}), "command", "required"),
    (task("code_check", {"preset": "custom", "command": "x"}), "sarif_path", "required"),
    (task("code_check", {"preset": "custom", "command": "x", "sarif_path": "/tmp/o"}), "sarif_path", "relative"),
    (task("code_check", {"preset": "custom", "command": "x", "sarif_path": "*.sarif"}), "sarif_path", "not a pattern"),
    (task("code_check", {"preset": "ruff", "source": "nope"}), "source", "unknown source"),
    # API test
    (task("api_test", {}), "mode", "required"),
    (task("api_test", {"mode": "soap"}), "mode", "junit, http"),
    (task("api_test", {"mode": "junit", "junit_path": "r.xml"}), "command", "required"),
    (task("api_test", {"mode": "junit", "command": "pytest"}), "junit_path", "required"),
    (task("api_test", {"mode": "http"}), "checks", "at least one"),
    (task("api_test", {"mode": "http", "checks": []}), "checks", "at least one"),
    (task("api_test", {"mode": "http", "checks": "GET /"}), "checks", "list"),
    (task("api_test", {"mode": "http", "checks": [{"url": "ftp://x"}]}), "checks[0].url", "http://"),
    (task("api_test", {"mode": "http", "checks": [{"url": "https://"}]}), "checks[0].url", "http://"),
    (task("api_test", {"mode": "http", "checks": [{"url": "https://a b"}]}), "checks[0].url", "http://"),
    (task("api_test", {"mode": "http", "checks": [{}]}), "checks[0].url", "required"),
    (
        task("api_test", {"mode": "http", "checks": [{"url": "http://a", "method": "TRACE"}]}),
        "checks[0].method",
        "GET, POST",
    ),
    (
        task("api_test", {"mode": "http", "checks": [{"url": "http://a", "expected_status": 600}]}),
        "checks[0].expected_status",
        "100 to 599",
    ),
    (
        task("api_test", {"mode": "http", "checks": [{"url": "http://a", "expect": 200}]}),
        "checks[0].expect",
        "Unknown field",
    ),
    (task("api_test", {"mode": "http", "checks": [{"url": "http://a"}] * 51}), "checks[50]", "at most 50"),
    (
        task("api_test", {"mode": "http", "checks": [{"url": "http://a/${nope}"}]}),
        "checks[0].url",
        "unknown parameter ${nope}",
    ),
    # deploy
    (task("deploy", {}), "target", "required"),
    (task("deploy", {"target": "ecs"}), "target", "host_group, kubernetes"),
    (task("deploy", {"target": "host_group", "commands": "x"}), "host_group", "required"),
    (
        task("deploy", {"target": "host_group", "host_group": "cache", "commands": "x"}),
        "host_group",
        "not a host group",
    ),
    (
        task("deploy", {"target": "host_group", "host_group": "${releaseversion}", "commands": "x"}),
        "host_group",
        "not of type host group",
    ),
    (
        task("deploy", {"target": "host_group", "host_group": "${nope}", "commands": "x"}),
        "host_group",
        "unknown parameter ${nope}",
    ),
    (task("deploy", {"target": "host_group", "host_group": "web"}), "commands", "required"),
    (
        task("deploy", {"target": "host_group", "host_group": "web", "commands": "x", "package": "a/b"}),
        "package",
        "letters, digits",
    ),
    (task("deploy", {"target": "kubernetes", "manifests": K8S}), "endpoint", "Choose a service endpoint"),
    (_k8s(endpoint=12), "endpoint", "kubernetes"),
    (_k8s(endpoint=404), "endpoint", "does not exist"),
    (_k8s(manifests=""), "manifests", "required"),
    (_k8s(manifests="kind: [unclosed"), "manifests", "not valid YAML"),
    (_k8s(manifests="- a\n- b\n"), "manifests", "document 1 must be a mapping"),
    (_k8s(manifests="apiVersion: v1\n"), "manifests", "no kind"),
    (_k8s(manifests=K8S + "---\nkind: Pod\n"), "manifests", "document 3 has no apiVersion"),
    (_k8s(manifests="---\n---\n"), "manifests", "no YAML document"),
    (_k8s(manifests="[" * 5000), "manifests", "not valid YAML"),
    (_k8s(namespace="Prod"), "namespace", "DNS label"),
    (_k8s(namespace="a" * 64), "namespace", "DNS label"),
    (_k8s(namespace="-a"), "namespace", "DNS label"),
    (_k8s(rollout_timeout_seconds=5), "rollout_timeout_seconds", "10 to 3600"),
    (_k8s(rollout_timeout_seconds=3601), "rollout_timeout_seconds", "10 to 3600"),
    (_k8s(replicas=2), "replicas", "Unknown field"),
    # sub-pipeline
    (task("sub_pipeline", {}), "pipeline", "Choose the pipeline"),
    (task("sub_pipeline", {"pipeline": "x"}), "pipeline", "id"),
    (task("sub_pipeline", {"pipeline": 99}), "pipeline", "#99 does not exist"),
    (task("sub_pipeline", {"pipeline": 20, "parameters": ["a"]}), "parameters", "object"),
    (task("sub_pipeline", {"pipeline": 20, "parameters": {"bad-name": "x"}}), "parameters.bad-name", "not a valid"),
    (task("sub_pipeline", {"pipeline": 20, "parameters": {"n": 3}}), "parameters.n", "text"),
    (task("sub_pipeline", {"pipeline": 20, "parameters": {"n": "${nope}"}}), "parameters.n", "unknown parameter"),
    # delay
    (task("delay", {}), "seconds", "required"),
    (task("delay", {"seconds": 0}), "seconds", "1 to 86400"),
    (task("delay", {"seconds": 86401}), "seconds", "1 to 86400"),
    (task("delay", {"seconds": "soon"}), "seconds", "1 to 86400"),
    # manual review
    (task("manual_review", {}), "reviewers", "at least one reviewer"),
    (task("manual_review", {"reviewers": []}), "reviewers", "at least one reviewer"),
    (task("manual_review", {"reviewers": "alice"}), "reviewers", "list"),
    (task("manual_review", {"reviewers": ["mallory"]}), "reviewers[0]", "not a member"),
    (task("manual_review", {"reviewers": [7]}), "reviewers[0]", "username"),
    (task("manual_review", {"reviewers": ["alice"] * 21}), "reviewers[20]", "at most 20"),
    (task("manual_review", {"reviewers": ["alice"], "mode": "majority"}), "mode", "any, all"),
    (task("manual_review", {"reviewers": ["alice"], "timeout_minutes": 10081}), "timeout_minutes", "1 to 10080"),
    (task("manual_review", {"reviewers": ["alice"], "forbid_starter": "yes"}), "forbid_starter", "true or false"),
]


@pytest.mark.parametrize("t, field, fragment", CASES, ids=lambda v: v if isinstance(v, str) else None)
def test_config_rules(t, field, fragment):
    """P6: per-type config rules, each on the field's own path (``stages[0].tasks[0].config.<field>``)."""
    params = [{"name": "releaseversion", "type": "auto_increment"}]
    assert_error(with_tasks(t, parameters=params), f"{BASE}.{field}", fragment)


def test_config_errors_name_the_stage_and_task_for_references():
    t = task("deploy", {"target": "host_group", "host_group": "web", "commands": "run ${who}"}, name="ship")
    errs = errors(with_tasks(t))
    assert errs[f"{BASE}.commands"][0].startswith("Stage “Build”, task “ship”: unknown parameter ${who}")


def test_secret_parameters_may_be_referenced():
    """R4: secret pipeline parameters are referenced like any other."""
    t = task("build", {"source": "app", "commands": "deploy --token ${token}"})
    check_valid(with_tasks(t, parameters=[{"name": "token", "secret": True}]))


# --------------------------------------------------------------------------- sub-pipeline cycles (X8)


def _ctx(pipeline_id, calls):
    return dataclasses.replace(CTX, pipeline_id=pipeline_id, pipelines={k: frozenset(v) for k, v in calls.items()})


def _sub(pipeline_id):
    return with_tasks(task("sub_pipeline", {"pipeline": pipeline_id}, name="call"))


def test_self_call_is_a_cycle():
    """X8: a pipeline cannot call itself."""
    errs = assert_error(_sub(10), f"{BASE}.pipeline", "Sub-pipeline cycle: #10 → #10", ctx=_ctx(10, {20: []}))
    assert len(errs) == 1


def test_two_pipeline_cycle():
    """X8: A → B → A is refused with the ids of the chain."""
    assert_error(_sub(20), f"{BASE}.pipeline", "Sub-pipeline cycle: #10 → #20 → #10", ctx=_ctx(10, {20: [10]}))


def test_three_pipeline_cycle():
    """X8: A → B → C → A is refused with the ids of the chain."""
    ctx = _ctx(10, {20: [30], 30: [10], 40: []})
    assert_error(_sub(20), f"{BASE}.pipeline", "Sub-pipeline cycle: #10 → #20 → #30 → #10", ctx=ctx)


def test_shortest_cycle_is_reported():
    ctx = _ctx(1, {2: [3, 1], 3: [1]})
    assert find_cycle(ctx, 2) == [1, 2, 1]
    assert find_cycle(ctx, 3) == [1, 3, 1]


def test_no_cycle_without_a_path_back():
    """X8: calling a pipeline that never reaches this one is fine, even past other cycles."""
    ctx = _ctx(10, {20: [30], 30: [20, 40], 40: []})
    assert find_cycle(ctx, 20) is None
    check_valid(_sub(20), ctx=ctx)


def test_new_pipeline_cannot_be_in_a_cycle():
    """X8: while creating (no id yet) nothing calls the new pipeline."""
    ctx = _ctx(None, {20: [21], 21: [20]})
    assert find_cycle(ctx, 20) is None
    check_valid(_sub(20), ctx=ctx)


def test_stored_calls_of_the_saved_pipeline_are_ignored():
    """The definition being saved replaces the pipeline's own stored calls."""
    ctx = _ctx(10, {10: [20], 20: []})
    check_valid(_sub(20), ctx=ctx)
