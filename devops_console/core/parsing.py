"""Strict parsing of numbers that arrive as text (URLs, query strings, form and JSON fields).

``str.isdigit()`` accepts characters such as "²" that ``int()`` then rejects with a 500; these helpers
accept ASCII digits only and answer None for anything else, so callers turn bad input into a clear error.
"""

from __future__ import annotations

import re

_DIGITS = {n: re.compile(rf"[0-9]{{1,{n}}}") for n in (9, 18)}


def parse_uint(value, max_digits: int = 9) -> int | None:
    """A non-negative integer from ``value`` (int or ASCII digits), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    pattern = _DIGITS.get(max_digits) or re.compile(rf"[0-9]{{1,{max_digits}}}")
    return int(value) if pattern.fullmatch(value.strip()) else None
