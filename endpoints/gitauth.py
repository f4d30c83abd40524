"""Seed-compatible Git repository authorization API (SPEC E9; seed 004, ServiceStage "Git Repository
Access APIs").

An authorization is not a separate object: it IS a Git-type service endpoint (``GIT_TYPES``) seen
through the seed's shape; the mapping and creating are ``endpoints.git_authorizations``, this module is
the API. Listing reads ``ServiceEndpoint.objects.restrict(user, VIEW)``, creating calls
``services.create_endpoint`` and deleting calls ``services.delete_endpoint``, so the same object shows on
the endpoints page, in ``/api/v1/projects/{id}/endpoints/`` and here.

Contract (``X-Auth-Token: <personal API token>``; JSON in, JSON out; times in epoch milliseconds)::

    GET    /v1/{project_id}/git/auths                       200 {"authorizations": [...], "count": n}
    POST   /v1/{project_id}/git/auths                       200 {"authorization": {...}}  (API.md form)
    POST   /v1/{project_id}/git/auths/{repo_type}/personal  200 {"authorization": {...}}  {name, token, host?}
    POST   /v1/{project_id}/git/auths/{repo_type}/password  200 {"authorization": {...}}  {name, user, password}
    POST   /v1/{project_id}/git/auths/{repo_type}/oauth     400 SVCSTG.REPO.0401 (no OAuth application)
    GET    /v1/{project_id}/git/auths/{repo_type}/redirect  400 SVCSTG.REPO.0401 (likewise)
    DELETE /v1/{project_id}/git/auths/{name}                204

Every error, 401 and 404 included, is ``{"error_code": "SVCSTG.REPO.<id>", "error_msg": "…"}``
(validation errors add ``errors``: {field: [messages]}); see ``ERROR_IDS``. A new authorization is
verified at once (E7), like the seed's service checks a token when it is authorized, and its
``status`` tells the outcome.
"""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from devops_console.core.api.auth import TokenAuthentication
from devops_console.core.api.parsers import SafeJSONParser as JSONParser
from devops_console.core.models import Project
from devops_console.core.permissions import ADD, DELETE, VIEW, get_object_for_action
from endpoints import services
from endpoints.git_authorizations import (
    GIT_TYPES,
    NAME_RE,
    TOKEN_TYPES,
    Refused,
    create_authorization,
    normal_repo_type,
    oauth_unavailable,
    repo_host_and_home,
    repo_type_of,
    status_of,
    token_type_of,
)
from endpoints.models import ServiceEndpoint

# --- errors ---------------------------------------------------------------------------------------

#: SVCSTG.REPO.<id>. 0400-0403 are the seed service's own codes; the others follow the same scheme.
ERROR_IDS = {
    "invalid": "0400",  # 400 invalid parameter / body
    "not_implemented": "0401",  # 400 repository type or authorization kind not available
    "exists": "0403",  # 400 an authorization (endpoint) with this name already exists
    "in_use": "0460",  # 400 the authorization is used by pipelines and cannot be deleted
    "unauthenticated": "0410",  # 401 missing or invalid token (0411 expired, 0412 revoked, 0413 malformed)
    "forbidden": "0430",  # 403 visible but not allowed
    "not_found": "0440",  # 404 unknown project (or not a member) or unknown path
    "no_authorization": "0450",  # 404 no authorization with that name that the caller may see
    "method": "0405",  # 405 method not allowed
}
_TOKEN_ERROR_IDS = {4010: "0410", 4011: "0411", 4012: "0412", 4013: "0413"}


class SvcStgError(exceptions.APIException):
    """An error answered as ``{"error_code": "SVCSTG.REPO.<id>", "error_msg": …}``."""

    def __init__(self, status_code: int, error: str, message: str, *, errors: dict | None = None, **extra):
        super().__init__(message)
        self.status_code = status_code
        self.error_id = ERROR_IDS[error]
        self.errors = errors
        self.extra = extra


def _invalid(errors: dict[str, list[str]]) -> SvcStgError:
    details = "; ".join(
        (" ".join(messages) if key == "non_field_errors" else f"{key}: {' '.join(messages)}")
        for key, messages in errors.items()
    )
    return SvcStgError(400, "invalid", _("Invalid parameter. %(details)s") % {"details": details}, errors=errors)


def _messages(value) -> list[str]:
    if isinstance(value, dict):
        return [m for key, item in value.items() for m in _messages(item)]
    if isinstance(value, list | tuple):
        return [m for item in value for m in _messages(item)]
    return [str(value)]


def _error_id(exc: exceptions.APIException) -> str:
    if isinstance(exc, SvcStgError):
        return exc.error_id
    code = exc.status_code
    if code == 401:
        return _TOKEN_ERROR_IDS.get(getattr(exc, "error_number", 4010), ERROR_IDS["unauthenticated"])
    return {400: "0400", 403: "0430", 404: "0440", 405: "0405"}.get(code, f"0{code}")


def svcstg_exception_handler(exc, context):
    """The /v1 views' exception handler: every error in the seed's format, never API.md's."""
    if isinstance(exc, Refused):
        exc = _invalid(exc.errors) if exc.errors else SvcStgError(400, exc.error, str(exc))
    elif isinstance(exc, DjangoValidationError):
        exc = _invalid(
            {k: _messages(v) for k, v in exc.message_dict.items()}
            if hasattr(exc, "error_dict")
            else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Not found."))
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, exceptions.UnsupportedMediaType | exceptions.ParseError):
        exc = SvcStgError(
            400, "invalid", _("The request body must be a JSON object sent with Content-Type: application/json.")
        )
    elif isinstance(exc, exceptions.NotAuthenticated):
        exc.detail = _("Missing token: send your API token in the X-Auth-Token header.")
    if not isinstance(exc, exceptions.APIException):
        return None  # a programming error: Django's 500 handling (and the test client) report it
    detail = exc.detail
    message = str(detail[0] if isinstance(detail, list) and detail else detail)
    body = {"error_code": f"SVCSTG.REPO.{_error_id(exc)}", "error_msg": message}
    if getattr(exc, "errors", None):
        body["errors"] = exc.errors
    body.update(getattr(exc, "extra", {}) or {})
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    return Response(body, status=exc.status_code, headers=headers)


# --- plumbing ---------------------------------------------------------------------------------------


class _AlwaysJSON(BaseContentNegotiation):
    """Answer JSON whatever ``Accept`` says (the seed's clients send none or */*)."""

    def select_parser(self, request, parsers):
        for parser in parsers:
            if request.content_type and request.content_type.split(";")[0].strip() == parser.media_type:
                return parser
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class _SvcStgView(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _AlwaysJSON

    def get_exception_handler(self):
        return svcstg_exception_handler

    def get_project(self, action: str = VIEW) -> Project:
        raw = self.kwargs.get("project_id", "")
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            raise exceptions.NotFound(_("No project with this id that you are a member of."))
        try:
            return get_object_for_action(Project, self.request.user, action, pk=int(raw))
        except Http404:
            raise exceptions.NotFound(_("No project with this id that you are a member of.")) from None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.project = self.get_project(VIEW)  # an invisible project answers 404 before anything else

    def git_endpoints(self):
        return ServiceEndpoint.objects.filter(project=self.project, type__in=GIT_TYPES)


# --- reading ----------------------------------------------------------------------------------------


def _epoch_ms(moment) -> int:
    return int(moment.timestamp() * 1000)


class AuthorizationSerializer(serializers.Serializer):
    """One authorization in the seed's shape (field names as the seed, ``avartar`` included)."""

    name = serializers.CharField(help_text="Authorization (service endpoint) name.")
    repo_type = serializers.CharField(help_text="github, gitlab, bitbucket, devcloud, gitee, codeup or git.")
    repo_host = serializers.CharField(help_text="Scheme and host of the repository service.")
    repo_home = serializers.CharField(help_text="Repository homepage (the endpoint's URL).")
    repo_user = serializers.CharField(help_text="Repository username.")
    avartar = serializers.CharField(help_text="Avatar URL; empty when unknown. Spelled as in the seed.")
    token_type = serializers.CharField(help_text="oauth, personal or password.")
    create_time = serializers.IntegerField(help_text="Epoch milliseconds.")
    update_time = serializers.IntegerField(help_text="Epoch milliseconds.")
    status = serializers.IntegerField(help_text="0 normal, 1 overdue, 2 unauthenticated (or not verified).")
    tag = serializers.CharField(allow_null=True, help_text="Site tag; always null.")

    def to_representation(self, endpoint: ServiceEndpoint) -> dict:
        host, home = repo_host_and_home(endpoint)
        credential = endpoint.credential
        identity_based = endpoint.type != "github_app"
        return {
            "name": endpoint.name,
            "repo_type": repo_type_of(endpoint),
            "repo_host": host,
            "repo_home": home,
            "repo_user": credential.identity if identity_based else "",
            "avartar": "",
            "token_type": token_type_of(endpoint),
            "create_time": _epoch_ms(endpoint.created),
            "update_time": _epoch_ms(max(endpoint.updated, credential.updated)),
            "status": status_of(endpoint),
            "tag": None,
        }


class AuthorizationListSerializer(serializers.Serializer):
    authorizations = AuthorizationSerializer(many=True)
    count = serializers.IntegerField()


class AuthorizationResultSerializer(serializers.Serializer):
    authorization = AuthorizationSerializer()


# --- request bodies ---------------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A string and nothing else: a number, list or object is an error, not silently converted."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


def _text(help_text: str, *, required=False, secret=False, max_length=1024):
    return StrictCharField(
        required=required,
        allow_blank=not required,
        allow_null=not required,
        trim_whitespace=False,
        max_length=max_length,
        write_only=secret,
        style={"input_type": "password"} if secret else {},
        help_text=help_text,
    )


class _Body(serializers.Serializer):
    """Base of the request bodies: unknown keys are errors (a misspelt ``pasword`` must not pass)."""

    name = _text("Authorization name: 4 to 63 letters, digits, “.”, “_” or “-”.", required=True, max_length=63)
    scope = _text("Extension: private (default), public or custom.", max_length=16)
    members = serializers.ListField(
        child=StrictCharField(max_length=150),
        required=False,
        allow_null=True,
        max_length=1000,
        help_text="Extension: usernames, for the custom scope.",
    )
    ca_bundle = _text("Extension: PEM certificates to trust for a self-hosted service.", max_length=256 * 1024)
    skip_tls_verify = StrictBooleanField(required=False, help_text="Extension: only for test set-ups.")

    def to_internal_value(self, data):
        unknown = sorted(str(key) for key in data if key not in self.fields) if isinstance(data, dict) else []
        if not unknown:
            return super().to_internal_value(data)
        shown = ", ".join(key[:40] for key in unknown[:10])
        errors = {
            "non_field_errors": [
                _("Unknown fields: %(keys)s. Expected: %(fields)s.") % {"keys": shown, "fields": ", ".join(self.fields)}
            ]
        }
        try:
            super().to_internal_value({k: v for k, v in data.items() if k in self.fields})
        except serializers.ValidationError as exc:
            errors.update(exc.detail if isinstance(exc.detail, dict) else {})
        raise serializers.ValidationError(errors)

    def validate_name(self, value):
        if not NAME_RE.fullmatch(value):
            raise serializers.ValidationError(
                _("Use 4 to 63 characters: letters, digits, periods (.), underscores (_) and hyphens (-).")
            )
        return value


class PersonalTokenBody(_Body):
    token = _text("Repository private (personal access) token.", required=True, secret=True)
    host = _text(
        "Repository address. gitlab: instance URL (default https://gitlab.com); github, gitee: "
        "the repository's HTTPS URL."
    )
    user = _text("Extension: repository username (needed for bitbucket and codeup).", max_length=255)


class PasswordBody(_Body):
    user = _text("Repository username (devcloud: tenant name/username).", required=True, max_length=255)
    password = _text("Repository password (bitbucket: app password).", required=True, secret=True)
    host = _text(
        "Extension: repository address (devcloud: repo URL prefix; github, gitlab, gitee, git: "
        "the repository's HTTPS URL; bitbucket: API URL of a self-hosted server)."
    )


class OAuthBody(_Body):
    code = _text("code from the redirection URL after authorizing.", required=True, secret=True)
    state = _text("state from the redirection URL after authorizing.", required=True, secret=True)


class GenericBody(_Body):
    """``POST /v1/{project_id}/git/auths`` (API.md): one body for every kind of authorization."""

    repo_type = _text("github, gitlab, gitee, bitbucket, devcloud, codeup or git.", required=True, max_length=32)
    token_type = _text(
        "oauth, personal (alias token) or password; inferred from the fields when omitted.", max_length=16
    )
    repo_host = _text("Repository address (alias host).")
    host = _text("Alias of repo_host.")
    username = _text("Repository username (alias user).", max_length=255)
    user = _text("Alias of username.", max_length=255)
    token = _text("Private token (personal).", secret=True)
    password = _text("Password (password).", secret=True)
    code = _text("OAuth code.", secret=True)
    state = _text("OAuth state.", secret=True)

    def validate(self, attrs):
        errors = {}
        for canonical, alias in (("repo_host", "host"), ("username", "user")):
            if attrs.get(canonical) and attrs.get(alias) and attrs[canonical] != attrs[alias]:
                errors[alias] = [
                    _("Give either %(a)s or %(b)s, not two different values.") % {"a": canonical, "b": alias}
                ]
        present = {
            "oauth": bool(attrs.get("code") or attrs.get("state")),
            "personal": bool(attrs.get("token")),
            "password": bool(attrs.get("password")),
        }
        kind = attrs.get("token_type") or None
        if kind == "token":
            kind = "personal"
        if kind is not None and kind not in TOKEN_TYPES:
            errors["token_type"] = [_("Choose one of: oauth, personal, password.")]
        elif kind is None:
            given = [k for k, yes in present.items() if yes]
            if len(given) != 1:
                errors["token_type"] = [
                    _(
                        "Give exactly one of: token (private token), password with username, "
                        "or code and state (OAuth); or set token_type."
                    )
                ]
            else:
                kind = given[0]
        if kind in TOKEN_TYPES:
            for other, yes in present.items():
                if yes and other != kind:
                    field = {"oauth": "code", "personal": "token", "password": "password"}[other]
                    errors[field] = [_("Not used for token_type %(kind)s.") % {"kind": kind}]
        if errors:
            raise serializers.ValidationError(errors)
        attrs["token_type"] = kind
        return attrs


def _validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    if not serializer.is_valid():
        raise _invalid({key: _messages(value) for key, value in serializer.errors.items()})
    return serializer.validated_data


# --- views ------------------------------------------------------------------------------------------

_ERROR = inline_serializer("SvcStgError", {"error_code": serializers.CharField(), "error_msg": serializers.CharField()})
_ERRORS = {code: OpenApiResponse(_ERROR) for code in (400, 401, 403, 404)}


class GitAuthListView(_SvcStgView):
    """``GET`` the Git authorizations (Git-type service endpoints) I may see; ``POST`` one (API.md form)."""

    @extend_schema(operation_id="git_auths_list", responses={200: AuthorizationListSerializer, **_ERRORS})
    def get(self, request, project_id):
        endpoints = list(
            self.git_endpoints().restrict(request.user, VIEW).select_related("credential").order_by("name")
        )
        data = AuthorizationSerializer(endpoints, many=True).data
        return Response({"authorizations": data, "count": len(data)})

    @extend_schema(
        operation_id="git_auths_create", request=GenericBody, responses={200: AuthorizationResultSerializer, **_ERRORS}
    )
    def post(self, request, project_id):
        project = self.get_project(ADD)
        body = dict(_validated(GenericBody, request))
        names = {}
        if not body.get("repo_host") and body.get("host"):
            names["host"] = "host"
        else:
            body["host"], names["host"] = body.get("repo_host"), "repo_host"
        if not body.get("username") and body.get("user"):
            names["user"] = "user"
        else:
            body["user"], names["user"] = body.get("username"), "username"
        endpoint = create_authorization(request.user, project, body["repo_type"], body["token_type"], body, names)
        return Response({"authorization": AuthorizationSerializer(endpoint).data})


class GitAuthKindView(_SvcStgView):
    """The seed's per-kind calls: ``POST …/{repo_type}/personal|password|oauth``, ``GET …/redirect``.

    ``DELETE`` here deletes the authorization literally named ``{repo_type}/{kind}``.
    """

    BODIES = {"personal": PersonalTokenBody, "password": PasswordBody, "oauth": OAuthBody}

    @extend_schema(operation_id="git_auths_redirect", responses={400: OpenApiResponse(_ERROR)})
    def get(self, request, project_id, repo_type, kind):
        if kind != "redirect":
            raise exceptions.MethodNotAllowed("GET")
        raise oauth_unavailable(normal_repo_type(repo_type))

    @extend_schema(
        operation_id="git_auths_create_kind",
        request=PersonalTokenBody,
        responses={200: AuthorizationResultSerializer, **_ERRORS},
    )
    def post(self, request, project_id, repo_type, kind):
        if kind not in self.BODIES:
            raise exceptions.MethodNotAllowed("POST")
        project = self.get_project(ADD)
        normal = normal_repo_type(repo_type)
        if kind == "oauth":
            raise oauth_unavailable(normal)
        body = _validated(self.BODIES[kind], request)
        endpoint = create_authorization(request.user, project, normal, kind, body)
        return Response({"authorization": AuthorizationSerializer(endpoint).data})

    @extend_schema(operation_id="git_auths_delete_slashed", responses={204: None, **_ERRORS})
    def delete(self, request, project_id, repo_type, kind):
        return _delete(self, request, f"{repo_type}/{kind}")


class GitAuthDetailView(_SvcStgView):
    """``DELETE /v1/{project_id}/git/auths/{name}``: delete the authorization and its service endpoint."""

    @extend_schema(operation_id="git_auths_delete", responses={204: None, **_ERRORS})
    def delete(self, request, project_id, name):
        return _delete(self, request, name)


def _delete(view: _SvcStgView, request, name: str) -> Response:
    endpoints = view.git_endpoints()
    endpoint = endpoints.restrict(request.user, DELETE).filter(name=name).select_related("credential").first()
    if endpoint is None:
        if endpoints.restrict(request.user, VIEW).filter(name=name).exists():
            raise SvcStgError(
                403,
                "forbidden",
                _("You may not delete the authorization “%(name)s”: only its creator and the project managers may.")
                % {"name": name},
            )
        raise SvcStgError(
            404, "no_authorization", _("No authorization named “%(name)s” in this project.") % {"name": name[:128]}
        )
    try:
        services.delete_endpoint(request.user, endpoint)
    except services.EndpointInUse as exc:
        labels = ", ".join(u["label"] for u in exc.usages[:10])
        raise SvcStgError(
            400,
            "in_use",
            _("The authorization “%(name)s” is in use and cannot be deleted; used by: %(labels)s.")
            % {"name": name, "labels": labels},
            usages=exc.usages,
        ) from None
    return Response(status=status.HTTP_204_NO_CONTENT)


class NotFoundView(_SvcStgView):
    """Any other path under /v1/: 404 in the seed's format (never Django's HTML page)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    schema = None

    def initial(self, request, *args, **kwargs):
        raise exceptions.NotFound(_("No such API: %(path)s") % {"path": json.dumps(request.path[:200])})
