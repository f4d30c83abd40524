"""Pipeline definition document (API.md "Pipeline definition"): top level, sources (P2), parameters
(R1–R9), stages (P5), task shells (P6).

${name} references, substitution and the referenced_* helpers: test_pipeline_definition_refs.py;
task configs per type and sub-pipeline cycles: test_pipeline_definition_tasks.py;
execution plan (T1–T5) and notifications (N1): test_pipeline_definition_triggers.py.
"""

from __future__ import annotations

import copy
import json

import pytest

from pipelines.definition import (
    ROOT,
    SYSTEM_PARAMETERS,
    DefinitionContext,
    DefinitionError,
    default_definition,
    default_notifications,
    empty_triggers,
    system_parameters,
    validate_definition,
)

CTX = DefinitionContext(
    endpoints={
        1: "git",
        2: "github_app",
        3: "hosted_repo",
        4: "docker_registry",
        5: "kubernetes",
        6: "gitlab",
        12: "git",
    },
    host_groups=frozenset({"web", "db"}),
    gate_templates=frozenset({3, 4}),
    pipelines={20: frozenset(), 21: frozenset({20}), 22: frozenset({10}), 23: frozenset({22})},
    pipeline_id=10,
    members=frozenset({"alice", "bob", "carol"}),
    stored_secrets=frozenset({"token"}),
)

API_EXAMPLE = {
    "name": "web-app",
    "description": "",
    "sources": [{"kind": "git", "alias": "app", "endpoint": 12, "repository": "org/app", "default_branch": "main"}],
    "parameters": [
        {"name": "releaseversion", "type": "auto_increment", "default": "1.0.0", "secret": False, "runtime": True}
    ],
    "stages": [
        {
            "name": "Build",
            "always_run": False,
            "manual": False,
            "parallel": False,
            "tasks": [
                {
                    "name": "compile",
                    "type": "build",
                    "config": {
                        "source": "app",
                        "commands": "make",
                        "artifacts": ["dist/*"],
                        "package": "web-app",
                        "version": "${releaseversion}",
                    },
                }
            ],
            "gates": [{"template": 3}],
        }
    ],
    "triggers": {
        "push": {
            "enabled": True,
            "branches": {"include": ["main", "release/*"], "exclude": []},
            "paths": {"include": [], "exclude": ["docs/"]},
        },
        "tag": {"enabled": False, "tags": {"include": ["v*"], "exclude": []}},
        "merge_request": {
            "enabled": False,
            "events": ["created", "updated", "merged", "reopened"],
            "branches": {"include": ["main"], "exclude": []},
            "paths": {"include": [], "exclude": []},
        },
        "schedules": [{"enabled": True, "days": ["mon", "tue", "wed", "thu", "fri"], "time": "02:30"}],
        "timezone": "Asia/Shanghai",
        "missed_schedule_policy": "skip",
    },
    "notifications": {"run_failed": {"in_app": True, "email": False}},
}


def doc(**top) -> dict:
    """The API.md example, with top-level keys replaced."""
    data = copy.deepcopy(API_EXAMPLE)
    data.update(top)
    return data


def with_tasks(*tasks, parallel=False, parameters=None, sources=None) -> dict:
    """A document with one stage “Build” holding ``tasks`` (dicts)."""
    stage = {"name": "Build", "parallel": parallel, "tasks": list(tasks)}
    data = doc(stages=[stage])
    if parameters is not None:
        data["parameters"] = parameters
    if sources is not None:
        data["sources"] = sources
    return data


def task(type_, config=None, name="t", **extra) -> dict:
    return {"name": name, "type": type_, "config": config if config is not None else {}, **extra}


def check_valid(data, ctx=CTX) -> tuple[dict, dict]:
    try:
        return validate_definition(data, ctx)
    except DefinitionError as exc:  # pragma: no cover - shown on failure
        pytest.fail(f"unexpected errors: {exc.errors}")


def errors(data, ctx=CTX) -> dict[str, list[str]]:
    with pytest.raises(DefinitionError) as info:
        validate_definition(data, ctx)
    assert info.value.errors, "DefinitionError without errors"
    return info.value.errors


def assert_error(data, path, fragment="", ctx=CTX) -> dict:
    errs = errors(data, ctx)
    assert path in errs, f"no error on {path!r}; got {errs}"
    if fragment:
        assert any(fragment in message for message in errs[path]), errs[path]
    return errs


# --------------------------------------------------------------------------- whole document


def test_api_example_is_valid_and_filled_with_defaults():
    """API.md example validates; optional fields are filled (P6 build defaults, N1 notification defaults)."""
    definition, secrets = check_valid(API_EXAMPLE)
    assert secrets == {}
    build = definition["stages"][0]["tasks"][0]
    assert build["config"]["timeout_minutes"] == 60
    assert build["parameters"] == []
    assert definition["parameters"][0]["choices"] == []
    assert definition["parameters"][0]["description"] == ""
    assert definition["notifications"] == default_notifications()
    assert definition["triggers"]["push"]["paths"]["exclude"] == ["docs/"]
    assert json.loads(json.dumps(definition)) == definition


def test_normalized_output_validates_to_itself():
    """Saving a stored (normalized) definition again changes nothing (PATCH/restore round trip)."""
    first, _ = check_valid(API_EXAMPLE)
    again, secrets = check_valid(first)
    assert again == first and secrets == {}


def test_default_definition_is_valid_and_empty():
    """A new pipeline: no sources, no stages, triggers off (T1–T5), N1 defaults."""
    base = default_definition()
    assert base["sources"] == [] and base["stages"] == [] and base["parameters"] == []
    assert base["triggers"] == empty_triggers()
    assert not any(t["enabled"] for t in (base["triggers"]["push"], base["triggers"]["tag"]))
    assert base["notifications"] == default_notifications()
    definition, _ = validate_definition(base, DefinitionContext())
    assert definition == base


def test_minimal_document_only_needs_a_name():
    definition, _ = check_valid({"name": "x"})
    assert definition["sources"] == [] and definition["stages"] == [] and definition["description"] == ""
    assert definition["triggers"] == empty_triggers()


@pytest.mark.parametrize("junk", [None, [], "name", 3, 2.5, True, {1, 2}])
def test_document_must_be_an_object(junk):
    errs = errors(junk)
    assert list(errs) == [ROOT]


@pytest.mark.parametrize(
    "top, path, fragment",
    [
        ({"name": ""}, "name", "required"),
        ({"name": "   "}, "name", "required"),
        ({"name": "x" * 101}, "name", "at most 100"),
        ({"name": 5}, "name", "text"),
        ({"name": "a\nb"}, "name", "single line"),
        ({"description": "d" * 2001}, "description", "at most 2000"),
        ({"nmae": "typo"}, "nmae", "Unknown field"),
        ({"sources": {"kind": "git"}}, "sources", "list"),
        ({"stages": "Build"}, "stages", "list"),
        ({"parameters": 1}, "parameters", "list"),
        ({"triggers": []}, "triggers", "object"),
        ({"notifications": "all"}, "notifications", "object"),
    ],
)
def test_top_level_fields(top, path, fragment):
    """Top level: name 1–100 (required), description ≤ 2000, unknown keys refused."""
    assert_error(doc(**top), path, fragment)


def test_name_is_trimmed_and_description_may_span_lines():
    definition, _ = check_valid(doc(name="  web  ", description="line one\nline two"))
    assert definition["name"] == "web" and definition["description"] == "line one\nline two"


def test_all_errors_are_collected_in_one_pass():
    """Validate the WHOLE document: errors from every section come back together."""
    data = doc(name="", description=7)
    data["sources"][0]["endpoint"] = 999
    data["parameters"].append({"name": "1bad"})
    data["stages"][0]["tasks"][0]["config"]["commands"] = ""
    data["stages"][0]["gates"] = [{"template": 99}]
    data["triggers"]["schedules"][0]["time"] = "25:00"
    data["notifications"]["run_failed"]["email"] = "yes"
    errs = errors(data)
    assert {
        "name",
        "description",
        "sources[0].endpoint",
        "parameters[1].name",
        "stages[0].tasks[0].config.commands",
        "stages[0].gates[0].template",
        "triggers.schedules[0].time",
        "notifications.run_failed.email",
    } <= set(errs)


def test_none_values_count_as_missing():
    data = doc(description=None, parameters=None, triggers=None, notifications=None)
    data["stages"][0]["gates"] = None
    data["stages"][0]["tasks"][0]["config"]["version"] = None
    definition, _ = check_valid(data)
    assert definition["description"] == "" and definition["parameters"] == []
    assert definition["triggers"] == empty_triggers() and definition["stages"][0]["gates"] == []
    assert definition["stages"][0]["tasks"][0]["config"]["version"] == "${PIPELINE_NUMBER}"


# --------------------------------------------------------------------------- sources (P2)


def _src(**fields) -> dict:
    return {"kind": "git", "alias": "app", "endpoint": 12, "repository": "org/app", "default_branch": "main", **fields}


VALID_SOURCES = [
    _src(),
    _src(kind="repo", endpoint=3),
    _src(kind="repo", endpoint=1),
    _src(kind="git", endpoint=6),
    _src(kind="github_app", endpoint=2),
    _src(default_branch="release/v1.2"),
    {"kind": "release", "alias": "pkg", "directory": "web", "package": "web-app.tar.gz"},
    {
        "kind": "release",
        "alias": "pkg",
        "directory": "web",
        "package": "web.zip",
        "branch_filter": "release/*",
        "version_strategy": "specific",
        "version": "1.2.3",
    },
    {"kind": "docker", "alias": "img", "endpoint": 4, "organization": "my-team", "image": "web/app"},
    {
        "kind": "docker",
        "alias": "img",
        "endpoint": 4,
        "organization": "team",
        "image": "app",
        "version_strategy": "specific",
        "version": "v1.0",
    },
    {"kind": "none"},
]


@pytest.mark.parametrize("source", VALID_SOURCES, ids=lambda s: s["kind"])
def test_valid_sources(source):
    """P2 source kinds: hosted repo, generic Git, GitHub App, release repository, Docker, none."""
    data = doc(sources=[source], stages=[])
    definition, _ = check_valid(data)
    assert definition["sources"][0]["kind"] == source["kind"]


def test_source_normalization():
    """P2: version strategy defaults to latest (and drops a version); endpoint ids from forms become ints."""
    data = doc(
        sources=[
            {"kind": "release", "alias": "pkg", "directory": "web", "package": "p", "version": "9"},
            _src(alias="lib", endpoint="12"),
        ],
        stages=[],
    )
    definition, _ = check_valid(data)
    assert definition["sources"][0] == {
        "kind": "release",
        "alias": "pkg",
        "directory": "web",
        "package": "p",
        "branch_filter": "",
        "version_strategy": "latest",
        "version": "",
    }
    assert definition["sources"][1]["endpoint"] == 12


@pytest.mark.parametrize(
    "sources, path, fragment",
    [
        ([{"alias": "app"}], "sources[0].kind", "required"),
        ([_src(kind="svn")], "sources[0].kind", "one of"),
        ([_src(alias="")], "sources[0].alias", "required"),
        ([_src(alias="1app")], "sources[0].alias", "start with a letter"),
        ([_src(alias="my-app")], "sources[0].alias", "letters, digits"),
        ([_src(alias="a" * 33)], "sources[0].alias", "at most 32"),
        ([_src(), _src()], "sources[1].alias", "unique"),
        ([_src(), {"kind": "release", "alias": "app", "directory": "d", "package": "p"}], "sources[1].alias", "unique"),
        ([_src(endpoint=None)], "sources[0].endpoint", "Choose a service endpoint"),
        ([_src(endpoint=999)], "sources[0].endpoint", "does not exist"),
        ([_src(endpoint="abc")], "sources[0].endpoint", "id"),
        ([_src(endpoint=True)], "sources[0].endpoint", "id"),
        ([_src(endpoint=5)], "sources[0].endpoint", "kubernetes"),
        ([_src(kind="github_app", endpoint=12)], "sources[0].endpoint", "github_app"),
        ([_src(kind="repo", endpoint=6)], "sources[0].endpoint", "hosted_repo"),
        ([_src(repository="")], "sources[0].repository", "required"),
        ([_src(repository="r" * 301)], "sources[0].repository", "at most 300"),
        ([_src(default_branch="")], "sources[0].default_branch", "required"),
        ([_src(default_branch="my branch")], "sources[0].default_branch", "Git branch name"),
        ([_src(default_branch="a..b")], "sources[0].default_branch", "Git branch name"),
        ([_src(default_branch="-x")], "sources[0].default_branch", "Git branch name"),
        ([_src(default_branch="x.lock")], "sources[0].default_branch", "Git branch name"),
        ([_src(default_branch="feature/")], "sources[0].default_branch", "Git branch name"),
        ([_src(default_branch="a~1")], "sources[0].default_branch", "Git branch name"),
        ([_src(default_branch="b" * 201)], "sources[0].default_branch", "at most 200"),
        ([_src(branch="main")], "sources[0].branch", "Unknown field"),
        ([{"kind": "release", "alias": "p", "package": "x"}], "sources[0].directory", "required"),
        ([{"kind": "release", "alias": "p", "directory": "d"}], "sources[0].package", "required"),
        ([{"kind": "release", "alias": "p", "directory": "../d", "package": "x"}], "sources[0].directory", ".."),
        (
            [{"kind": "release", "alias": "p", "directory": "d", "package": "x", "version_strategy": "specific"}],
            "sources[0].version",
            "required",
        ),
        (
            [{"kind": "release", "alias": "p", "directory": "d", "package": "x", "version_strategy": "newest"}],
            "sources[0].version_strategy",
            "latest, specific",
        ),
        (
            [{"kind": "release", "alias": "p", "directory": "d", "package": "x", "branch_filter": "a//b"}],
            "sources[0].branch_filter",
            "//",
        ),
        (
            [{"kind": "docker", "alias": "i", "endpoint": 12, "organization": "o", "image": "i"}],
            "sources[0].endpoint",
            "docker_registry",
        ),
        (
            [{"kind": "docker", "alias": "i", "endpoint": 4, "organization": "Team", "image": "i"}],
            "sources[0].organization",
            "lowercase",
        ),
        (
            [{"kind": "docker", "alias": "i", "endpoint": 4, "organization": "t", "image": "App"}],
            "sources[0].image",
            "lowercase",
        ),
        ([{"kind": "docker", "alias": "i", "endpoint": 4, "organization": "t"}], "sources[0].image", "required"),
        ([{"kind": "none", "alias": "x"}], "sources[0].alias", "no alias"),
        ([{"kind": "none"}, _src()], "sources[0]", "only source"),
        ([_src(), {"kind": "none"}], "sources[1]", "only source"),
        (["git"], "sources[0]", "object"),
    ],
)
def test_source_rules(sources, path, fragment):
    """P2: kinds, alias regex and uniqueness, endpoint existence and type, branch names, artifact fields."""
    assert_error(doc(sources=sources, stages=[]), path, fragment)


def test_at_most_ten_sources():
    """P2: the 11th source is refused on its own path."""
    sources = [_src(alias=f"s{i}") for i in range(11)]
    errs = assert_error(doc(sources=sources, stages=[]), "sources[10]", "at most 10")
    assert "sources[9]" not in errs
    check_valid(doc(sources=sources[:10], stages=[]))


def test_endpoint_the_user_may_not_use_is_refused():
    """E3: ctx.endpoints holds only endpoints the saving user may USE."""
    assert_error(API_EXAMPLE, "sources[0].endpoint", "may not use", ctx=DefinitionContext(gate_templates={3}))


# --------------------------------------------------------------------------- system parameters (R2)


def test_system_parameters_with_aliases():
    """R2: fixed names, then <alias>_… for every aliased code source (not for artifact sources)."""
    definition, _ = check_valid(
        doc(
            sources=[
                _src(),
                _src(kind="github_app", alias="lib", endpoint=2),
                {"kind": "release", "alias": "pkg", "directory": "d", "package": "p"},
            ]
        )
    )
    assert system_parameters(definition) == [
        *SYSTEM_PARAMETERS,
        "app_REPOSITORY_NAME",
        "app_SOURCE_BRANCH",
        "app_TARGET_BRANCH",
        "app_TAG",
        "app_COMMIT_ID",
        "lib_REPOSITORY_NAME",
        "lib_SOURCE_BRANCH",
        "lib_TARGET_BRANCH",
        "lib_TAG",
        "lib_COMMIT_ID",
    ]
    assert system_parameters(default_definition()) == list(SYSTEM_PARAMETERS)
    assert system_parameters({"sources": "junk"}) == list(SYSTEM_PARAMETERS)


@pytest.mark.parametrize("name", ["PIPELINE_ID", "TIMESTAMP", "COMMIT_ID", "app_COMMIT_ID", "app_TAG"])
def test_parameter_may_not_reuse_a_system_name(name):
    """R2: custom names may not reuse system names, including alias-derived ones."""
    data = doc(parameters=[{"name": name}])
    assert_error(data, "parameters[0].name", "system parameter")


def test_parameter_named_like_an_artifact_alias_derivative_is_fine():
    data = doc(
        sources=[{"kind": "release", "alias": "pkg", "directory": "d", "package": "p"}],
        parameters=[{"name": "pkg_TAG"}],
        stages=[],
    )
    check_valid(data)


# --------------------------------------------------------------------------- parameters (R1, R4–R7)


def _param(**fields) -> dict:
    return {"name": "p", **fields}


@pytest.mark.parametrize(
    "param, expected",
    [
        (_param(), {"type": "string", "default": "", "choices": [], "secret": False, "runtime": False}),
        (_param(default="  keep spaces  "), {"default": "  keep spaces  "}),
        (_param(type="enum", choices="a, b ,a,, c"), {"choices": ["a", "b", "c"], "default": "a"}),
        (_param(type="enum", choices=[" x ", "y", "x"], default="y"), {"choices": ["x", "y"], "default": "y"}),
        (_param(type="auto_increment"), {"default": "1.0.0"}),
        (_param(type="auto_increment", default="2.3"), {"default": "2.3"}),
        (_param(type="host_group", default="web", runtime=True), {"default": "web", "runtime": True}),
        (_param(description="what it is"), {"description": "what it is"}),
        (_param(name="_x9", default="${PIPELINE_NUMBER}"), {"name": "_x9"}),
    ],
)
def test_parameter_normalization(param, expected):
    """R1 defaults; R5 enum choices trimmed/unique, default = first choice; R6 auto-increment 1.0.0; R7."""
    definition, _ = check_valid(doc(parameters=[param], stages=[]))
    normalized = definition["parameters"][0]
    assert {k: normalized[k] for k in expected} == expected
    assert set(normalized) == {"name", "type", "default", "choices", "secret", "runtime", "description"}


@pytest.mark.parametrize(
    "params, path, fragment",
    [
        ([{"type": "string"}], "parameters[0].name", "required"),
        ([_param(name="9lives")], "parameters[0].name", "not a valid parameter name"),
        ([_param(name="my-param")], "parameters[0].name", "not a valid parameter name"),
        ([_param(name="a" * 65)], "parameters[0].name", "at most 64"),
        ([_param(), _param()], "parameters[1].name", "twice"),
        ([_param(type="number")], "parameters[0].type", "string, enum, auto_increment, host_group"),
        ([_param(default="d" * 1001)], "parameters[0].default", "at most 1000"),
        ([_param(default=5)], "parameters[0].default", "text"),
        ([_param(runtime="yes")], "parameters[0].runtime", "true or false"),
        ([_param(description="x" * 501)], "parameters[0].description", "at most 500"),
        ([_param(value="x")], "parameters[0].value", "Unknown field"),
        ([_param(type="enum")], "parameters[0].choices", "at least one choice"),
        ([_param(type="enum", choices=" , ,")], "parameters[0].choices", "at least one choice"),
        ([_param(type="enum", choices=",".join(str(i) for i in range(51)))], "parameters[0].choices", "at most 50"),
        ([_param(type="enum", choices=["a,b"])], "parameters[0].choices[0]", "commas"),
        ([_param(type="enum", choices=[1])], "parameters[0].choices[0]", "text"),
        ([_param(type="enum", choices={"a": 1})], "parameters[0].choices", "comma-separated"),
        ([_param(type="enum", choices="a,b", default="c")], "parameters[0].default", "one of the choices"),
        ([_param(choices="a,b")], "parameters[0].choices", "Only enum"),
        ([_param(type="host_group", default="cache")], "parameters[0].default", "not a host group"),
        ([_param(type="host_group")], "parameters[0].default", "host groups"),
        (["p"], "parameters[0]", "object"),
    ],
)
def test_parameter_rules(params, path, fragment):
    """R1 names and types; R5 enum choices and default; R7 host group from the project."""
    assert_error(doc(parameters=params, stages=[]), path, fragment)


def test_host_group_parameter_without_host_groups():
    """R7: with no host groups the message says to create one."""
    ctx = DefinitionContext(endpoints={12: "git"})
    assert_error(doc(parameters=[_param(type="host_group")], stages=[]), "parameters[0].default", "create one", ctx)


def test_parameter_names_are_case_sensitive():
    check_valid(doc(parameters=[_param(name="Ver"), _param(name="ver")], stages=[]))


def test_at_most_100_parameters():
    params = [_param(name=f"p{i}") for i in range(101)]
    assert_error(doc(parameters=params, stages=[]), "parameters[100]", "at most 100")
    check_valid(doc(parameters=params[:100], stages=[]))


# --------------------------------------------------------------------------- secret parameters (R4)


def test_secret_value_leaves_the_document():
    """R4: the value is returned for encrypted storage; the document keeps "" and value_set."""
    value = "s3cret-Value!"
    definition, secrets = check_valid(doc(parameters=[_param(name="api_key", secret=True, default=value)], stages=[]))
    assert secrets == {"api_key": value}
    assert definition["parameters"][0]["default"] == ""
    assert definition["parameters"][0]["value_set"] is True
    assert value not in json.dumps(definition)


def test_empty_secret_keeps_the_stored_value():
    """R4 / API.md: an empty secret field means keep; stored definitions (value_set) round-trip."""
    stored = {"name": "token", "type": "string", "default": "", "secret": True, "value_set": True}
    definition, secrets = check_valid(doc(parameters=[stored], stages=[]))
    assert secrets == {} and definition["parameters"][0]["value_set"] is True
    again, secrets = check_valid(definition)
    assert again == definition and secrets == {}


@pytest.mark.parametrize(
    "param, path, fragment",
    [
        (_param(name="new_secret", secret=True), "parameters[0].default", "Enter a value"),
        (_param(name="new_secret", secret=True, default="   "), "parameters[0].default", "Enter a value"),
        (_param(name="token", secret=True, default="12345"), "parameters[0].default", "cannot be masked reliably"),
        (_param(name="k", secret=True, default=123456), "parameters[0].default", "text"),
        (_param(type="enum", choices="aaaaaa", secret=True), "parameters[0].secret", "Only string"),
        (_param(type="auto_increment", secret=True), "parameters[0].secret", "Only string"),
        (_param(secret="true"), "parameters[0].secret", "true or false"),
    ],
)
def test_secret_rules(param, path, fragment):
    """R4: a value is needed (unless stored), ≥ 6 characters, string type only."""
    errs = assert_error(doc(parameters=[param], stages=[]), path, fragment)
    assert "12345" not in json.dumps(errs)


def test_renamed_secret_needs_a_new_value():
    """R4: stored values are by name; a renamed secret has none."""
    assert_error(doc(parameters=[_param(name="token2", secret=True)], stages=[]), "parameters[0].default", "value")


# --------------------------------------------------------------------------- stages (P5) and gates (P7)


def _stage(name="S", **fields) -> dict:
    return {"name": name, "tasks": [], **fields}


def test_stage_defaults():
    """P5: always_run, manual, parallel default false; tasks and gates default empty."""
    definition, _ = check_valid(doc(stages=[{"name": "Deploy"}]))
    assert definition["stages"] == [
        {"name": "Deploy", "always_run": False, "manual": False, "parallel": False, "tasks": [], "gates": []}
    ]


@pytest.mark.parametrize(
    "stages, path, fragment",
    [
        ([_stage(name="")], "stages[0].name", "required"),
        ([_stage(name="x" * 101)], "stages[0].name", "at most 100"),
        ([_stage(), _stage()], "stages[1].name", "unique"),
        ([_stage(name="a/b")], "stages[0].name", "/"),
        ([_stage(manual="no")], "stages[0].manual", "true or false"),
        ([_stage(always_run=1)], "stages[0].always_run", "true or false"),
        ([_stage(parallel=None, serial=True)], "stages[0].serial", "Unknown field"),
        ([_stage(tasks={})], "stages[0].tasks", "list"),
        ([_stage(gates=[{"template": 99}])], "stages[0].gates[0].template", "does not exist"),
        ([_stage(gates=[{"template": "x"}])], "stages[0].gates[0].template", "id"),
        ([_stage(gates=[{}])], "stages[0].gates[0].template", "Choose a gate template"),
        ([_stage(gates=[{"template": 3}, {"template": 3}])], "stages[0].gates[1].template", "already used"),
        ([_stage(gates=[{"template": 3, "threshold": 1}])], "stages[0].gates[0].threshold", "Unknown field"),
        ([_stage(gates=[3])], "stages[0].gates[0]", "object"),
        ([_stage(gates=[{"template": 3}] * 6)], "stages[0].gates[5]", "at most 5"),
        (["Build"], "stages[0]", "object"),
    ],
)
def test_stage_rules(stages, path, fragment):
    """P5 stage fields; P7 gates from the project's gate templates, at most 5 per stage."""
    assert_error(doc(stages=stages), path, fragment)


def test_at_most_20_stages_and_50_tasks():
    """P5: 21st stage and 51st task are refused on their own paths."""
    stages = [_stage(name=f"S{i}") for i in range(21)]
    assert_error(doc(stages=stages), "stages[20]", "at most 20")
    check_valid(doc(stages=stages[:20]))
    tasks = [task("delay", {"seconds": 1}, name=f"t{i}") for i in range(51)]
    assert_error(with_tasks(*tasks), "stages[0].tasks[50]", "at most 50")
    check_valid(with_tasks(*tasks[:50]))


def test_zero_stages_is_fine_for_a_new_pipeline():
    check_valid(doc(stages=[]))


# --------------------------------------------------------------------------- task shells (P6, R9)


@pytest.mark.parametrize(
    "tasks, path, fragment",
    [
        ([task("delay", {"seconds": 1}, name="")], "stages[0].tasks[0].name", "required"),
        ([task("delay", {"seconds": 1}, name="n" * 101)], "stages[0].tasks[0].name", "at most 100"),
        ([task("delay", {"seconds": 1}), task("delay", {"seconds": 2})], "stages[0].tasks[1].name", "unique"),
        ([task("shell", {})], "stages[0].tasks[0].type", "build, code_check"),
        ([{"name": "t", "config": {}}], "stages[0].tasks[0].type", "required"),
        ([task("delay", {"seconds": 1}, timeout=3)], "stages[0].tasks[0].timeout", "Unknown field"),
        ([task("delay", {"seconds": 1, "minutes": 2})], "stages[0].tasks[0].config.minutes", "Unknown field"),
        ([task("delay", [1])], "stages[0].tasks[0].config", "object"),
        ([task("delay", None)], "stages[0].tasks[0].config.seconds", "required"),
    ],
)
def test_task_rules(tasks, path, fragment):
    """P6: name unique within a stage, a known type, a config object with known keys only."""
    assert_error(with_tasks(*tasks), path, fragment)


def test_same_task_name_in_two_stages_is_fine():
    t = task("delay", {"seconds": 5})
    check_valid(doc(stages=[_stage("A", tasks=[t]), _stage("B", tasks=[t])]))


@pytest.mark.parametrize(
    "control",
    [task("delay", {"seconds": 5}), task("manual_review", {"reviewers": ["alice"]})],
    ids=["delay", "manual_review"],
)
def test_control_tasks_only_in_serial_stages(control):
    """P6: delay and manual review are refused in parallel stages, on the task path."""
    errs = assert_error(with_tasks(control, parallel=True), "stages[0].tasks[0]", "only allowed in serial stages")
    assert "Stage “Build”, task “t”" in errs["stages[0].tasks[0]"][0]
    check_valid(with_tasks(control, parallel=False))


def test_non_control_tasks_may_run_in_parallel():
    build = task("build", {"source": "app", "commands": "make"})
    check = task("code_check", {"preset": "ruff"}, name="lint")
    check_valid(with_tasks(build, check, parallel=True))


def test_task_parameters():
    """R9: task runtime parameters are string or enum, normalized like pipeline parameters."""
    t = task(
        "build",
        {"source": "app", "commands": "make ${mode} ${flavour}"},
        parameters=[{"name": "mode", "type": "enum", "choices": "debug,release"}, {"name": "flavour", "runtime": True}],
    )
    definition, secrets = check_valid(with_tasks(t))
    params = definition["stages"][0]["tasks"][0]["parameters"]
    assert params[0]["choices"] == ["debug", "release"] and params[0]["default"] == "debug"
    assert params[1]["type"] == "string" and params[1]["runtime"] is True
    assert secrets == {}


@pytest.mark.parametrize(
    "param, path, fragment",
    [
        ({"name": "n", "type": "auto_increment"}, "type", "string or enum"),
        ({"name": "n", "type": "host_group", "default": "web"}, "type", "string or enum"),
        ({"name": "n", "secret": True, "default": "long-enough"}, "secret", "cannot be secret"),
        ({"name": "releaseversion"}, "name", "already a pipeline parameter"),
        ({"name": "PIPELINE_NUMBER"}, "name", "system parameter"),
        ({"name": "app_TAG"}, "name", "system parameter"),
    ],
)
def test_task_parameter_rules(param, path, fragment):
    """R9: only string/enum, never secret, no pipeline or system parameter names."""
    t = task("build", {"source": "app", "commands": "make"}, parameters=[param])
    assert_error(with_tasks(t), f"stages[0].tasks[0].parameters[0].{path}", fragment)
