"""Demo pipelines for ``manage.py seed_demo``: a newcomer sees every feature of a pipeline (idempotent).

``web-app`` and ``nightly-report`` run green on a fresh console; ``release`` shows quality gates, a manual
stage with a review, a sub-pipeline and a deploy to a host group (its host is a placeholder: the run waits
for approval before it would deploy).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

DEMO_PIPELINES = {
    "web-app": (
        "demo-developer",
        {
            "description": "Builds the web app, checks it and runs its API smoke tests.",
            "parameters": [
                {"name": "releaseversion", "type": "auto_increment", "default": "1.0.0", "runtime": True},
                {"name": "env", "type": "enum", "choices": ["dev", "staging"], "default": "dev", "runtime": True},
            ],
            "stages": [
                {
                    "name": "Build",
                    "tasks": [
                        {
                            "name": "compile",
                            "type": "build",
                            "config": {
                                # self-contained, so the demo succeeds on a fresh console without a repository
                                "commands": "mkdir -p dist && echo 'print(1)' > dist/app.py"
                                " && echo built ${releaseversion} for ${env}",
                                "artifacts": ["dist/*"],
                                "package": "web-app",
                                "version": "${releaseversion}",
                            },
                        }
                    ],
                },
                {
                    "name": "Check",
                    "parallel": True,
                    "tasks": [
                        {"name": "lint", "type": "code_check", "config": {"preset": "ruff"}},
                        {
                            "name": "unit tests",
                            "type": "build",
                            "config": {
                                "commands": 'for t in login cart checkout; do echo "test_$t ... ok"; sleep 0.3; done'
                            },
                        },
                    ],
                },
                {
                    "name": "Smoke test",
                    "tasks": [
                        {
                            "name": "health",
                            "type": "api_test",
                            "config": {
                                "mode": "junit",
                                "command": 'printf \'%s\' \'<testsuite tests="2" failures="0">'
                                '<testcase name="home"/><testcase name="health"/></testsuite>\' > report.xml',
                                "junit_path": "report.xml",
                            },
                        }
                    ],
                },
            ],
            "triggers": {"push": {"enabled": True, "branches": {"include": ["main"], "exclude": []}}},
        },
    ),
    "nightly-report": (
        "demo-manager",
        {
            "description": "Runs every weekday night.",
            "stages": [
                {
                    "name": "Report",
                    "tasks": [
                        {
                            "name": "collect",
                            "type": "build",
                            "config": {"commands": "date; echo collecting the report; echo rows: 42"},
                        }
                    ],
                }
            ],
            "triggers": {
                "schedules": [{"enabled": True, "days": ["mon", "tue", "wed", "thu", "fri"], "time": "02:30"}]
            },
        },
    ),
}


def _simple(project, users) -> list[str]:
    """Create the demo pipelines that do not exist yet (idempotent)."""
    from pipelines import services
    from pipelines.models import Pipeline

    created = []
    for name, (creator, definition) in DEMO_PIPELINES.items():
        if not Pipeline.objects.filter(project=project, name=name).exists():
            services.create_pipeline(users[creator], project, {"name": name, **definition})
            created.append(name)
    return created


def _release_definition(project, users) -> dict:
    """Gates, a manual stage with a review, a sub-pipeline and a host-group deploy."""
    from endpoints import services as endpoint_services
    from endpoints.models import Credential
    from pipelines.models import GateTemplate, Host, HostGroup, Pipeline

    gate, _ = GateTemplate.objects.get_or_create(
        project=project,
        name="Release bar",
        defaults={"items": [{"metric": "issue_count", "threshold": 0}, {"metric": "pass_rate", "threshold": 90}]},
    )
    group, created = HostGroup.objects.get_or_create(
        project=project, name="demo-hosts", defaults={"description": "Replace with your servers."}
    )
    if created:
        credential = Credential.objects.filter(project=project, name="demo deploy key").first()
        if credential is None:
            key = ed25519.Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
            )
            credential = endpoint_services.create_credential(
                users["demo-operator"],
                project,
                {
                    "name": "demo deploy key",
                    "kind": "ssh_key",
                    "identity": "deploy",
                    "secret": key.decode(),
                    "shared": True,
                },
            )
        Host.objects.create(
            group=group, address="app-1.example.internal", port=22, ssh_user="deploy", credential=credential
        )
    report = Pipeline.objects.get(project=project, name="nightly-report")
    junit = (
        'printf \'%s\' \'<testsuite tests="2" failures="0"><testcase name="a"/><testcase name="b"/>'
        "</testsuite>' > report.xml"
    )
    return {
        "name": "release",
        "description": "Gates, approval, a sub-pipeline and a deploy: everything a pipeline can do.",
        "parameters": [{"name": "releaseversion", "type": "auto_increment", "default": "2.0.0", "runtime": True}],
        "stages": [
            {
                "name": "Build",
                "tasks": [
                    {
                        "name": "package",
                        "type": "build",
                        "config": {
                            "commands": "mkdir -p dist && echo 'print(2)' > dist/app.py",
                            "artifacts": ["dist/*"],
                            "package": "release",
                            "version": "${releaseversion}",
                        },
                    }
                ],
            },
            {
                "name": "Verify",
                "parallel": True,
                "gates": [{"template": gate.pk}],
                "tasks": [
                    {"name": "lint", "type": "code_check", "config": {"preset": "ruff"}},
                    {
                        "name": "api",
                        "type": "api_test",
                        "config": {"mode": "junit", "command": junit, "junit_path": "report.xml"},
                    },
                ],
            },
            {
                "name": "Report",
                "tasks": [{"name": "nightly", "type": "sub_pipeline", "config": {"pipeline": report.pk}}],
            },
            {
                "name": "Approve",
                "manual": True,
                "tasks": [
                    {
                        "name": "sign-off",
                        "type": "manual_review",
                        "config": {"reviewers": ["demo-manager", "demo-operator"], "mode": "any"},
                    }
                ],
            },
            {
                "name": "Deploy",
                "tasks": [
                    {
                        "name": "ship",
                        "type": "deploy",
                        "config": {
                            "target": "host_group",
                            "host_group": "demo-hosts",
                            "package": "release",
                            "commands": "echo deploying ${releaseversion} to $DEPLOY_HOST",
                        },
                    }
                ],
            },
        ],
    }


def seed_pipelines(project, users) -> list[str]:
    """Create the demo pipelines that do not exist yet (idempotent)."""
    from pipelines import services
    from pipelines.models import Pipeline

    created = _simple(project, users)
    if not Pipeline.objects.filter(project=project, name="release").exists():
        services.create_pipeline(users["demo-manager"], project, _release_definition(project, users))
        created.append("release")
    return created
