"""API errors in the API.md format: ``{"error_code": "<APP>.<NNNN>", "error_msg": "…", "errors": {…}}``.

``NNNN`` is the HTTP status followed by one digit that tells cases apart (4010 invalid token, 4011
expired, 4012 revoked, 4013 malformed, …). ``<APP>`` is the app the view belongs to.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

APP_CODES = {"core": "CORE", "endpoints": "ENDPOINTS", "pipelines": "PIPELINES", "templates_app": "TEMPLATES"}


class Conflict(exceptions.APIException):
    """409: the action conflicts with the current state (e.g. deleting an endpoint in use)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict."
    default_code = "conflict"

    def __init__(self, detail=None, extra: dict | None = None):
        super().__init__(detail)
        self.extra = extra or {}


def _app_code(view) -> str:
    explicit = getattr(view, "error_app", None)
    if explicit:
        return explicit
    module = type(view).__module__ if view is not None else ""
    for prefix, code in APP_CODES.items():
        if module.startswith(prefix) or module.startswith(f"devops_console.{prefix}"):
            return code
    return "API"


def _field_errors(detail) -> dict:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    return {"non_field_errors": _flatten(detail)}


def _flatten(value) -> list:
    if isinstance(value, list | tuple):
        out = []
        for item in value:
            out.extend(
                _flatten(item) if isinstance(item, list | tuple) else [item if isinstance(item, dict) else str(item)]
            )
        return out
    if isinstance(value, dict):
        return [_field_errors(value)]
    return [str(value)]


def _message(exc, field_errors: dict | None) -> str:
    if field_errors:
        return _("Some fields are not valid: %(fields)s.") % {"fields": ", ".join(field_errors)}
    detail = exc.detail
    if isinstance(detail, list | tuple) and detail:
        return str(detail[0])
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Not found."))
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    number = getattr(exc, "error_number", response.status_code * 10)
    field_errors = _field_errors(exc.detail) if isinstance(exc, exceptions.ValidationError) else None
    body = {"error_code": f"{_app_code(context.get('view'))}.{number}", "error_msg": _message(exc, field_errors)}
    if field_errors is not None:
        body["errors"] = field_errors
    body.update(getattr(exc, "extra", {}))
    return Response(body, status=response.status_code, headers=_keep_headers(response))


def _keep_headers(response) -> dict:
    return {key: value for key, value in response.items() if key in ("WWW-Authenticate", "Retry-After", "Allow")}
