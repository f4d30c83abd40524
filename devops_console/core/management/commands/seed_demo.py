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
        from pipelines.demo import seed_pipelines

        created = seed_pipelines(project, users)
        self.stdout.write(f"Demo project ready: {len(DEMO_USERS)} users (demo-*), password '{password}'.")
        if created:
            self.stdout.write(f"Demo pipelines created: {', '.join(created)}.")
