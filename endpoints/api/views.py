"""Service endpoints and credentials API (API.md): thin views over ``endpoints.services``.

Objects are fetched through ``restrict(user, VIEW)`` (404 when invisible); the action on the object
comes from ``permission_actions`` (403 when visible but not allowed). Creating needs project
membership (E2: every member may create endpoints).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from devops_console.core.api.errors import Conflict
from devops_console.core.api.parsers import SafeJSONParser as JSONParser
from devops_console.core.api.permissions import ProjectScopedMixin
from devops_console.core.permissions import ADMINISTER, USE, VIEW
from endpoints import connectors, services
from endpoints.api.serializers import (
    CredentialSerializer,
    EndpointPermissionsSerializer,
    EndpointSerializer,
    UsageSerializer,
    VerifyResultSerializer,
    status_text,
)
from endpoints.models import Credential, ServiceEndpoint
from endpoints.types import CREDENTIAL_KINDS, TYPES, get_type

REPOSITORY_MAX = 1024


class BrowseFailed(exceptions.APIException):
    """400 ENDPOINTS.4001: the service answered the browse request with an error (safe message)."""

    status_code = status.HTTP_400_BAD_REQUEST
    error_number = 4001
    default_code = "browse_failed"

    def __init__(self, detail, status_code_e7: int):
        super().__init__(detail)
        self.extra = {"status": status_code_e7}


class NotBrowsable(exceptions.APIException):
    """400 ENDPOINTS.4002: this endpoint type has no repositories, branches or tags (E10)."""

    status_code = status.HTTP_400_BAD_REQUEST
    error_number = 4002
    default_code = "not_browsable"


def _choice_filter(request, name: str, choices) -> str | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    if value not in choices:
        raise ValidationError({name: [_("Choose one of: %(choices)s.") % {"choices": ", ".join(choices)}]})
    return value


class _WriteMixin:
    """Create / partial update / destroy through the services; bodies must be JSON objects."""

    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "patch", "put", "delete", "head", "options"]

    def _body(self, serializer_class=None):
        serializer = (serializer_class or self.get_serializer_class())(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _reply(self, obj, status_code=status.HTTP_200_OK):
        return Response(self.get_serializer(obj).data, status=status_code)

    def _delete(self, delete, obj):
        try:
            delete(self.request.user, obj)
        except services.EndpointInUse as exc:
            raise Conflict(str(exc), extra={"usages": exc.usages}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointViewSet(
    _WriteMixin, ProjectScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Service endpoints of a project (E1–E10). ``?type=`` filters by endpoint type."""

    queryset = ServiceEndpoint.objects.select_related("credential", "created_by").order_by("name", "pk")
    serializer_class = EndpointSerializer
    permission_actions = {
        "verify": USE,
        "usage": VIEW,
        "permissions": VIEW,
        "set_permissions": ADMINISTER,
        "repositories": USE,
        "branches": USE,
        "tags": USE,
    }

    def get_queryset(self):
        queryset = services.with_members(super().get_queryset())
        if self.action == "list" and (wanted := _choice_filter(self.request, "type", list(TYPES))):
            queryset = queryset.filter(type=wanted)
        return queryset

    @extend_schema(parameters=[OpenApiParameter("type", str, enum=list(TYPES))])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def create(self, request, *args, **kwargs):
        project = self.get_project(self.project_add_action)
        endpoint = services.create_endpoint(request.user, project, self._body())
        return self._reply(endpoint, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        endpoint = self.get_object()
        data = self._body()
        services.update_endpoint(request.user, endpoint, data)
        return self._reply(self.get_queryset().get(pk=endpoint.pk))

    def destroy(self, request, *args, **kwargs):
        return self._delete(services.delete_endpoint, self.get_object())

    @extend_schema(request=None, responses=VerifyResultSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, *args, **kwargs):
        """Really talk to the service and record the outcome (E7)."""
        endpoint = self.get_object()
        result = services.verify_endpoint(request.user, endpoint)
        return Response(
            {
                "status": result.status,
                "status_text": status_text(result.status),
                "checked_at": endpoint.checked_at.isoformat(),
                "detail": result.detail,
            }
        )

    @extend_schema(responses=UsageSerializer(many=True))
    @action(detail=True, methods=["get"])
    def usage(self, request, *args, **kwargs):
        """Pipelines and tasks that reference the endpoint (E8)."""
        return self._paginated(services.usages(self.get_object()))

    @extend_schema(responses=EndpointPermissionsSerializer)
    def permissions(self, request, *args, **kwargs):
        """Scope and custom members (E3)."""
        return Response(EndpointPermissionsSerializer(self.get_object()).data)

    @extend_schema(request=EndpointPermissionsSerializer, responses=EndpointPermissionsSerializer)
    def set_permissions(self, request, *args, **kwargs):
        """Change scope and custom members (E3); needs the administer right."""
        endpoint = self.get_object()
        data = self._body(EndpointPermissionsSerializer)
        services.set_scope(request.user, endpoint, data.get("scope"), data.get("members", []))
        return Response(EndpointPermissionsSerializer(endpoint).data)

    @extend_schema(responses={200: {"type": "object"}})
    @action(detail=True, methods=["get"])
    def repositories(self, request, *args, **kwargs):
        """Repositories reachable through the endpoint (E10): ``{name, full_name, clone_url}``."""
        return self._browse("repositories")

    @extend_schema(parameters=[OpenApiParameter("repository", str)], responses={200: {"type": "object"}})
    @action(detail=True, methods=["get"])
    def branches(self, request, *args, **kwargs):
        """Branch names of ``?repository=`` (a ``full_name`` from repositories) (E10)."""
        return self._browse("branches")

    @extend_schema(parameters=[OpenApiParameter("repository", str)], responses={200: {"type": "object"}})
    @action(detail=True, methods=["get"])
    def tags(self, request, *args, **kwargs):
        """Tag names of ``?repository=`` (E10)."""
        return self._browse("tags")

    def _browse(self, what: str):
        endpoint = self.get_object()
        etype = get_type(endpoint.type)
        if not etype.browsable:
            raise NotBrowsable(_("%(type)s endpoints have no repositories, branches or tags.") % {"type": etype.label})
        repository = self.request.query_params.get("repository", "")
        if len(repository) > REPOSITORY_MAX or any(ord(c) < 32 for c in repository):
            raise ValidationError({"repository": [_("Give a repository name such as group/repo.")]})
        try:
            items = services.browse(endpoint, what, repository)
        except connectors.ConnectorError as exc:
            raise BrowseFailed(str(exc) or _("The service could not be browsed."), exc.status) from None
        return self._paginated(items)

    def _paginated(self, items: list):
        page = self.paginate_queryset(items)
        return self.get_paginated_response(page)


class CredentialViewSet(
    _WriteMixin, ProjectScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Credentials of a project (E4): the owner's, the shared ones, and all of them for project admins.
    ``?kind=`` filters by kind. Replacing the secret repairs every endpoint that uses it."""

    queryset = Credential.objects.select_related("owner").order_by("name", "pk")
    serializer_class = CredentialSerializer

    def get_queryset(self):
        queryset = services.with_usage(super().get_queryset())
        if self.action == "list" and (wanted := _choice_filter(self.request, "kind", list(CREDENTIAL_KINDS))):
            queryset = queryset.filter(kind=wanted)
        return queryset

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "action", None) == "list" and self.request.user.is_authenticated:
            visible = ServiceEndpoint.objects.restrict(self.request.user, "view").filter(
                project_id=self.kwargs["project_id"]
            )
            context["visible_endpoint_ids"] = set(visible.values_list("pk", flat=True))
        return context

    @extend_schema(parameters=[OpenApiParameter("kind", str, enum=list(CREDENTIAL_KINDS))])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def create(self, request, *args, **kwargs):
        project = self.get_project(self.project_add_action)
        credential = services.create_credential(request.user, project, self._body())
        return self._reply(credential, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        credential = self.get_object()
        services.update_credential(request.user, credential, self._body())
        return self._reply(self.get_queryset().get(pk=credential.pk))

    def destroy(self, request, *args, **kwargs):
        return self._delete(services.delete_credential, self.get_object())
