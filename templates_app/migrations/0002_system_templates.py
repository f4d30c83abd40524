"""Load the shipped system templates (M1) from templates_app/system_templates/*.yaml.

Idempotent: templates are created or updated by key, so a later migration that calls ``load`` again
ships updated templates. Also creates the system gate templates they use when missing (P7).
"""

from django.db import migrations


def load_system_templates(apps, schema_editor):
    from templates_app import system_templates

    system_templates.load(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("templates_app", "0001_initial"),
        ("pipelines", "0001_initial"),
    ]

    operations = [migrations.RunPython(load_system_templates, migrations.RunPython.noop)]
