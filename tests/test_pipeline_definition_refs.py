"""Pipeline definition document: ${name} references (R3), substitution and the referenced_* helpers
(E8, X8). The document's other parts: test_pipeline_definition.py."""

from __future__ import annotations

import pytest

from pipelines.definition import (
    SYSTEM_PARAMETERS,
    default_definition,
    referenced_endpoints,
    referenced_parameters,
    referenced_pipelines,
    substitute,
    system_parameters,
)
from tests.test_pipeline_definition import _src, assert_error, check_valid, doc, errors, task, with_tasks

# --------------------------------------------------------------------------- ${name} references (R3)


def _build(commands, parameters=None, **config) -> dict:
    extra = {} if parameters is None else {"parameters": parameters}
    return task("build", {"source": "app", "commands": commands, **config}, name="compile", **extra)


@pytest.mark.parametrize(
    "commands",
    [
        "make VERSION=${releaseversion}",
        "echo ${PIPELINE_NUMBER} ${PROJECT_ID} ${PIPELINE_ID} ${COMMIT_ID} ${TIMESTAMP}",
        "git checkout ${app_SOURCE_BRANCH} && echo ${app_COMMIT_ID} ${app_TAG}",
        "echo $${HOME} and $${not a name}",
        "echo ${VAR:-default} $HOME $$",
        "echo ${ releaseversion }",
    ],
)
def test_known_references_pass(commands):
    """R3: pipeline, system and alias-derived parameters; $${…} escapes; ${…} that is no name is not a reference."""
    check_valid(with_tasks(_build(commands)))


def test_unknown_reference_names_stage_and_task():
    """R3: an unknown ${name} is refused on the field's path, naming the stage and the task."""
    errs = assert_error(with_tasks(_build("make VERSION=${relver}")), "stages[0].tasks[0].config.commands")
    assert errs["stages[0].tasks[0].config.commands"][0].startswith(
        "Stage “Build”, task “compile”: unknown parameter ${relver}"
    )


def test_unknown_references_in_every_field_are_reported():
    t = _build("echo ${a}", version="${b}", artifacts=["dist/${c}/*"], package="web")
    errs = errors(with_tasks(t))
    base = "stages[0].tasks[0].config."
    assert {base + "commands", base + "version", base + "artifacts[0]"} <= set(errs)
    assert "${c}" in errs[base + "artifacts[0]"][0]


def test_shell_variables_must_be_escaped():
    """R3: ${HOME} looks like a parameter; the message shows the $${HOME} escape."""
    errs = assert_error(with_tasks(_build("echo ${HOME}")), "stages[0].tasks[0].config.commands", "$${HOME}")
    assert len(errs) == 1


def test_task_parameters_are_known_to_their_own_task_only():
    """R9: a task's own parameters are referenced as ${name} in that task, not in others."""
    own = _build("make ${flavour}", parameters=[{"name": "flavour", "default": "x"}])
    other = task("build", {"source": "app", "commands": "make ${flavour}"}, name="other")
    errs = errors(with_tasks(own, other))
    assert list(errs) == ["stages[0].tasks[1].config.commands"]


def test_task_parameter_defaults_may_reference_pipeline_parameters():
    """R9 (seed §3.3): a task parameter's value references a pipeline parameter as ${name}."""
    t = _build("make", parameters=[{"name": "rv", "default": "${releaseversion}"}])
    check_valid(with_tasks(t))
    t = _build("make", parameters=[{"name": "rv", "default": "${nope}"}])
    assert_error(with_tasks(t), "stages[0].tasks[0].parameters[0].default", "unknown parameter ${nope}")


# --------------------------------------------------------------------------- substitute (R3)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("v${ver}", "v1.2"),
        ("${ver}-${ver}", "1.2-1.2"),
        ("${unknown} stays", "${unknown} stays"),
        ("$${ver} is literal", "${ver} is literal"),
        ("$${HOME}", "${HOME}"),
        ("$$${ver}", "$${ver}"),
        ("${VAR:-x} ${ ver }", "${VAR:-x} ${ ver }"),
        ("$ver $$ ${", "$ver $$ ${"),
        ("${loop}", "${ver}"),
        ("${empty}.", "."),
        ("", ""),
    ],
)
def test_substitute(text, expected):
    """R3: ${name} replaced once (values are not rescanned), unknown names kept, $${ escapes."""
    assert substitute(text, {"ver": "1.2", "loop": "${ver}", "empty": ""}) == expected


# --------------------------------------------------------------------------- referenced_* helpers (E8, X8)


def _rich() -> dict:
    return check_valid(
        doc(
            sources=[_src(), {"kind": "docker", "alias": "img", "endpoint": 4, "organization": "t", "image": "i"}],
            stages=[
                {
                    "name": "Build",
                    "tasks": [
                        _build(
                            "make ${releaseversion} ${PIPELINE_NUMBER}",
                            parameters=[{"name": "x", "default": "${app_TAG}"}],
                        ),
                        task("sub_pipeline", {"pipeline": 20, "parameters": {"v": "${releaseversion}"}}, name="sub"),
                    ],
                },
                {
                    "name": "Deploy",
                    "tasks": [
                        task(
                            "deploy",
                            {"target": "kubernetes", "endpoint": 5, "manifests": "apiVersion: v1\nkind: ConfigMap\n"},
                            name="k8s",
                        ),
                        task("sub_pipeline", {"pipeline": 21}, name="sub2"),
                    ],
                },
            ],
        )
    )[0]


def test_referenced_parameters():
    """R6 needs to know which parameters the tasks reference (configs and task parameter defaults)."""
    assert referenced_parameters(_rich()) == {"releaseversion", "PIPELINE_NUMBER", "app_TAG"}
    assert referenced_parameters(default_definition()) == set()


def test_referenced_endpoints():
    """E8: every endpoint with a human label for the usage index."""
    assert referenced_endpoints(_rich()) == [(12, "source app"), (4, "source img"), (5, "Deploy › k8s")]


def test_referenced_pipelines():
    """X8: the pipelines that sub-pipeline tasks call."""
    assert referenced_pipelines(_rich()) == {20, 21}


@pytest.mark.parametrize("junk", [None, [], "x", {"stages": "x"}, {"stages": [None, {"tasks": [1, {"config": 3}]}]}])
def test_referenced_helpers_tolerate_any_shape(junk):
    assert referenced_parameters(junk) == set()
    assert referenced_endpoints(junk) == []
    assert referenced_pipelines(junk) == set()
    assert system_parameters(junk) == list(SYSTEM_PARAMETERS)
