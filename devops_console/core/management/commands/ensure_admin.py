"""Create the first admin account when there is no superuser yet (README command 1)."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first superuser (password from DEVOPS_ADMIN_PASSWORD, or generated and printed once)."

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin account exists already.")
            return
        username = os.environ.get("DEVOPS_ADMIN_USERNAME", "admin")
        password = os.environ.get("DEVOPS_ADMIN_PASSWORD")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if generated:
            # Printed once on the operator's terminal, deliberately: it is never stored in clear anywhere.
            self.stdout.write(self.style.WARNING(f"Created admin account '{username}' with password: {password}"))
            self.stdout.write("Write it down now: it is not shown again (set DEVOPS_ADMIN_PASSWORD to choose one).")
        else:
            self.stdout.write(f"Created admin account '{username}' with the password from DEVOPS_ADMIN_PASSWORD.")
