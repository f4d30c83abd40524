"""Create or update the shipped system templates (M1) by key, as the data migration does."""

from django.core.management.base import BaseCommand
from django.db import transaction

from templates_app import system_templates


class Command(BaseCommand):
    help = "Create or update the system pipeline templates from templates_app/system_templates/*.yaml."

    def handle(self, *args, **options):
        with transaction.atomic():
            count = system_templates.load()
        self.stdout.write(f"{count} system templates loaded.")
