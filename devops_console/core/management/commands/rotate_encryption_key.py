"""Re-encrypt every stored secret with the first FIELD_ENCRYPTION_KEY (E5 key rotation).

Rotate by putting the new key first (``FIELD_ENCRYPTION_KEY=new,old``), running this command, then
dropping the old key. A secret no configured key decrypts stops the command, and nothing is changed.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from devops_console.core.fields import SecretDecryptionError, secret_fields


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first FIELD_ENCRYPTION_KEY."

    def handle(self, *args, **options):
        total = 0
        try:
            with transaction.atomic():
                for model, name in secret_fields():
                    for pk, value in model._base_manager.exclude(**{name: None}).values_list("pk", name).iterator():
                        # Saving goes through SecretField.get_db_prep_save → encrypted with the first key.
                        model._base_manager.filter(pk=pk).update(**{name: value})
                        total += 1
        except SecretDecryptionError as exc:
            raise CommandError(f"{exc}. Nothing was changed.") from None
        self.stdout.write(f"Re-encrypted {total} secret value(s) with the first key.")
