"""``python manage.py seed_demo``: a demo project with one member per role and two demo pipelines, for a
newcomer to look at.

Idempotent: running it again changes nothing. Later capabilities add their demo objects here.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from devops_console.core.models import Membership, Project, Role

DEMO_USERS = {
    "demo-creator": Role.CREATOR,
    "demo-manager": Role.MANAGER,
    "demo-developer": Role.DEVELOPER,
    "demo-tester": Role.TESTER,
    "demo-operator": Role.OPERATOR,
    "demo-participant": Role.PARTICIPANT,
    "demo-viewer": Role.VIEWER,
}


#: demo pipelines (P1–P4): name -> (creator, definition without the name)
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


def seed_pipelines(project, users) -> list[str]:
    """Create the demo pipelines that do not exist yet (idempotent)."""
    from pipelines import services
    from pipelines.models import Pipeline

    created = []
    for name, (creator, definition) in DEMO_PIPELINES.items():
        if not Pipeline.objects.filter(project=project, name=name).exists():
            services.create_pipeline(users[creator], project, {"name": name, **definition})
            created.append(name)
    return created


class Command(BaseCommand):
    help = "Create a demo project with members in every role (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--password", default="demo-password", help="Password of the demo users.")

    @transaction.atomic
    def handle(self, *args, password, **options):
        User = get_user_model()
        users = {}
        for username in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
            if created:
                user.set_password(password)
                user.save()
            users[username] = user
        project, _ = Project.objects.get_or_create(
            name="Demo project",
            defaults={"creator": users["demo-creator"], "description": "A project to look around in."},
        )
        for username, role in DEMO_USERS.items():
            Membership.objects.get_or_create(project=project, user=users[username], defaults={"role": role})
        admin = User.objects.filter(is_superuser=True).order_by("pk").first()
        if admin and not Membership.objects.filter(project=project, user=admin).exists():
            Membership.objects.create(project=project, user=admin, role=Role.MANAGER)
        created = seed_pipelines(project, users)
        self.stdout.write(f"Demo project ready: {len(DEMO_USERS)} users (demo-*), password '{password}'.")
        if created:
            self.stdout.write(f"Demo pipelines created: {', '.join(created)}.")
