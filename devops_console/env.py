"""Strict helpers that read settings from the environment and fail loudly.

Every helper raises ``ImproperlyConfigured`` naming the variable when a value is present but
malformed; nothing is silently coerced. Secrets may also come from a file named by
``<NAME>_FILE`` (Docker / Kubernetes secrets style).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = "true"
_FALSE = "false"


def env_str(name: str, default: str | None = None) -> str | None:
    """The variable's value, or ``<name>_FILE``'s content, or the default."""
    value = os.environ.get(name)
    file_name = os.environ.get(f"{name}_FILE")
    if value is not None and file_name is not None:
        raise ImproperlyConfigured(f"Set either {name} or {name}_FILE, not both.")
    if file_name is not None:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc.strerror}") from exc
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    """Only the words ``true`` and ``false`` (any case) are accepted."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered == _TRUE:
        return True
    if lowered == _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be 'true' or 'false', not {value!r}.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """An integer, optionally with a lower bound."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; empty items are dropped."""
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def key_from_env_or_file(name: str, path: Path, *, generate, allow_generate: bool) -> str:
    """A secret key from the environment, else from ``path`` (created once with mode 0600).

    ``allow_generate`` is only true for the embedded single-machine default or DEBUG: a
    production deployment without the key must stop at start-up rather than invent one.
    """
    value = env_str(name)
    if value:
        return value
    if path.exists():
        return path.read_text().strip()
    if not allow_generate:
        raise ImproperlyConfigured(
            f"{name} is not set. Set {name} (or {name}_FILE) in the environment; "
            f"a key is only generated automatically for the embedded default or with DEBUG=true."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    value = generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def generate_secret_key() -> str:
    """A Django SECRET_KEY."""
    return secrets.token_urlsafe(50)


def generate_fernet_key() -> str:
    """A key for django-encrypted-model-fields (Fernet, url-safe base64 of 32 bytes)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
