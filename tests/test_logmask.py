"""Secrets are masked in any output in their raw, base64, URL-encoded, JSON-escaped and line-by-line forms."""

import base64
import json
import logging
from urllib.parse import quote, quote_plus

import pytest

from devops_console.core.logmask import MASK, Masker, SecretMaskFilter, active_secrets, mask

SECRET = 's3cr3t/p@ss+word="quoted"'


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        base64.b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode(),
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
    ],
)
def test_each_encoding_is_masked(form):
    out = mask(f"before {form} after", [SECRET])
    assert form not in out and MASK in out and out.startswith("before ") and out.endswith(" after")


@pytest.mark.parametrize("prefix", ["", "u:", "us:", "use:"])
def test_base64_inside_a_longer_value_is_masked(prefix):
    """e.g. an HTTP basic-auth header: base64 of ``user:password`` at any alignment."""
    encoded = base64.b64encode((prefix + SECRET + ":tail").encode()).decode()
    out = mask(f"Authorization: Basic {encoded}", [SECRET])
    assert MASK in out
    core = base64.b64encode(SECRET.encode()).decode()[4:-4]
    assert core not in out


def test_each_line_of_a_multiline_secret_is_masked():
    key = "-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\nEEEEFFFFGGGGHHHH\n-----END KEY-----"
    out = mask("line EEEEFFFFGGGGHHHH printed alone", [key])
    assert "EEEEFFFFGGGGHHHH" not in out


def test_short_values_are_not_masked():
    assert mask("a b c", ["a"]) == "a b c"
    assert not Masker([""])


def test_logging_filter_masks_active_secrets(caplog):
    logger = logging.getLogger("tests.mask")
    logger.addFilter(SecretMaskFilter())
    try:
        with caplog.at_level(logging.INFO, logger="tests.mask"), active_secrets([SECRET]):
            logger.info("connecting with %s", SECRET)
        logger.info("after %s", "plain")
    finally:
        logger.filters.clear()
    assert SECRET not in caplog.text and MASK in caplog.text
