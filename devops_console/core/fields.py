"""``SecretField``: an encrypted text field (django-encrypted-model-fields) that refuses to hand out
ciphertext. The library returns the stored token unchanged when it cannot decrypt it (wrong or
rotated-away key); a secret must then fail loudly, never travel on as if it were the value (E5)."""

from __future__ import annotations

import cryptography.fernet
from django.apps import apps
from encrypted_model_fields.fields import EncryptedTextField, decrypt_str


class SecretDecryptionError(RuntimeError):
    """A stored secret cannot be decrypted with any configured FIELD_ENCRYPTION_KEY."""


class SecretField(EncryptedTextField):
    """Encrypted at rest with the first FIELD_ENCRYPTION_KEY; any configured key decrypts."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        try:
            return decrypt_str(value)
        except cryptography.fernet.InvalidToken:
            raise SecretDecryptionError(
                f"{self.model._meta.label}.{self.name} cannot be decrypted with the configured "
                "FIELD_ENCRYPTION_KEY (a key was removed before `manage.py rotate_encryption_key` ran?)"
            ) from None

    def to_python(self, value):
        # Values from forms and assignments are plaintext; only from_db_value sees ciphertext.
        if isinstance(value, bytes):
            value = value.decode()
        return value

    def formfield(self, **kwargs):
        from django import forms

        kwargs.setdefault("widget", forms.PasswordInput(render_value=False))
        return super().formfield(**kwargs)


def secret_fields():
    """Every (model, field name) that stores a secret, for key rotation and audits."""
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, SecretField):
                yield model, field.name
