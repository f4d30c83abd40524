"""Request parsers of the API that never turn odd input into a 500.

Django bounds ``request.body`` by ``DATA_UPLOAD_MAX_MEMORY_SIZE``, but DRF parsers read the stream
directly; these read at most that many bytes, and deep nesting (which makes ``json`` raise
``RecursionError``) is a 400 like any other malformed body.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.parsers import BaseParser, JSONParser

DEFAULT_LIMIT = 2_621_440


class BodyTooLarge(exceptions.ParseError):
    error_number = 4001


def body_limit() -> int:
    return getattr(settings, "DATA_UPLOAD_MAX_MEMORY_SIZE", None) or DEFAULT_LIMIT


def read_limited(stream) -> bytes:
    limit = body_limit()
    data = stream.read(limit + 1) if stream is not None else b""
    if len(data) > limit:
        raise BodyTooLarge(_("The request body is larger than %(n)s bytes.") % {"n": limit})
    return data


class SafeJSONParser(BaseParser):
    """JSON, strictly (no NaN). Deliberately not a ``JSONParser`` subclass: DRF would then read
    ``request.body``, whose size error is not an API error."""

    media_type = "application/json"
    renderer_class = JSONParser.renderer_class

    def parse(self, stream, media_type=None, parser_context=None):
        data = read_limited(stream)
        try:
            return JSONParser().parse(io.BytesIO(data), media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(_("JSON parse error - the document is nested too deeply.")) from None


class YamlTextParser(BaseParser):
    """A YAML document as text (``application/yaml``); the view parses it."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return read_limited(stream).decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.ParseError(_("The document must be UTF-8 text.")) from None


class XYamlTextParser(YamlTextParser):
    media_type = "application/x-yaml"


class PlainTextParser(YamlTextParser):
    media_type = "text/*"
