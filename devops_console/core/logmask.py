"""Masking of secret values in any text that leaves the process (logs, task output, errors).

A secret is masked in its raw form and in the forms it commonly takes on the way out: each line
of a multi-line value, base64 (standard and URL-safe, at every byte alignment, so it is found
inside a longer encoded string such as ``user:password``), URL-encoding and JSON string escaping.
"""

from __future__ import annotations

import base64
import contextvars
import json
import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "******"
#: Values shorter than this are not masked: masking "a" would destroy every log line.
MIN_MASK_LENGTH = 4
_active: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("active_secrets", default=())


def _base64_forms(raw: bytes) -> set[str]:
    """Substrings that appear in any base64 encoding containing ``raw``, whatever its alignment."""
    forms = set()
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * offset + raw).decode().rstrip("=")
            # Characters touched by the padding prefix or the unfinished last group vary; drop them.
            start = (offset * 8 + 5) // 6 if offset else 0
            end = ((offset + len(raw)) * 8) // 6
            if offset == 0 and len(raw) % 3 == 0:
                end = len(encoded)
            core = encoded[start:end]
            if len(core) >= MIN_MASK_LENGTH:
                forms.add(core)
    return forms


def variants(secret: str) -> set[str]:
    """Every form of ``secret`` that must not appear in output."""
    if not secret:
        return set()
    forms = {secret}
    lines = [line.strip() for line in secret.splitlines()]
    forms.update(line for line in lines if len(line) >= MIN_MASK_LENGTH)
    forms.update({quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]})
    forms.update(_base64_forms(secret.encode()))
    return {form for form in forms if len(form) >= MIN_MASK_LENGTH}


class Masker:
    """Replaces every variant of the given secrets with ``******``; longest first so parts never leak."""

    def __init__(self, secrets: Iterable[str]):
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms.update(variants(secret))
        ordered = sorted(forms, key=len, reverse=True)
        self.forms = tuple(ordered)
        self.longest = len(ordered[0]) if ordered else 0
        self._pattern = re.compile("|".join(re.escape(form) for form in ordered)) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def held_back(self, text: str) -> int:
        """How many trailing characters of ``text`` could be the start of a secret form.

        A stream writer keeps those back until more text shows whether a secret follows.
        """
        hold = 0
        for form in self.forms:
            window = text[-(len(form) - 1):] if len(form) > 1 else ""
            start = window.find(form[0])
            while start != -1:
                tail = window[start:]
                if len(tail) > hold and form.startswith(tail):
                    hold = len(tail)
                    break
                start = window.find(form[0], start + 1)
        return hold

    def mask(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)


def mask(text: str, secrets: Iterable[str]) -> str:
    return Masker(secrets).mask(text)


class active_secrets:
    """Context manager: while it is active, log records of this context are masked for ``secrets``."""

    def __init__(self, secrets: Iterable[str]):
        self.secrets = tuple(s for s in secrets if s)

    def __enter__(self):
        self._token = _active.set(_active.get() + self.secrets)
        return self

    def __exit__(self, *exc):
        _active.reset(self._token)


class SecretMaskFilter(logging.Filter):
    """Logging filter that masks the secrets registered with ``active_secrets`` in every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _active.get()
        if secrets:
            masker = Masker(secrets)
            record.msg = masker.mask(record.getMessage())
            record.args = None
            if record.exc_text:
                record.exc_text = masker.mask(record.exc_text)
        return True
