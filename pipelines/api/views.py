"""Pipelines and host groups API (API.md): thin views over ``pipelines.services`` and
``pipelines.hostgroups``.

Objects are fetched through ``restrict(user, VIEW)`` within the project (404 when invisible); the
action on the object comes from ``permission_actions`` (403 when visible but not allowed, A6).
Creating, copying and importing need the project action ADD_PIPELINE (developers and up).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpResponse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.response import Response

from devops_console.core.api.errors import Conflict
from devops_console.core.api.parsers import PlainTextParser, SafeJSONParser, XYamlTextParser, YamlTextParser
from devops_console.core.api.permissions import ProjectScopedMixin
from devops_console.core.models import ADD_PIPELINE
from devops_console.core.permissions import CHANGE, VIEW
from pipelines import hostgroups, services
from pipelines import permissions as perms
from pipelines.api import serializers as s
from pipelines.models import HostGroup, Pipeline, PipelineFollow
from pipelines.runs.summary import attach_last_runs, last_run_by, with_last_run_id

FILTERS = ("all", "mine", "last_run_by_me")
#: what a list item needs (no definition, no user password hash)
LIST_FIELDS = ("name", "description", "created", "updated", "version", "project__name", "creator__username")
SEARCH_MAX = 100


def _query_choice(request, name: str, choices) -> str:
    value = request.query_params.get(name) or ""
    if value and value not in choices:
        raise ValidationError({name: [_("Choose one of: %(choices)s.") % {"choices": ", ".join(choices)}]})
    return value


def _search(request) -> str:
    value = (request.query_params.get("search") or "").strip()
    if len(value) > SEARCH_MAX or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValidationError({"search": [_("Search for at most %(n)s characters of a name.") % {"n": SEARCH_MAX}]})
    return value


def _object_body(data) -> dict:
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": [_("Send a JSON object.")]})
    return data


class PipelineViewSet(ProjectScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Pipelines of a project (P1–P8): the list, the full definition, copy, follow, permissions
    (A1–A5), configuration versions and YAML export / import."""

    queryset = Pipeline.objects.select_related("project", "creator")
    serializer_class = s.PipelineSerializer
    parser_classes = [SafeJSONParser]
    permission_actions = {
        "copy": CHANGE,  # a copy keeps the stored secret values: as on the page, it needs modify
        "follow": VIEW,
        "unfollow": VIEW,
        "permissions": VIEW,
        "set_permissions": CHANGE,
        "versions": VIEW,
        "version": VIEW,
        "restore": CHANGE,
        "export": VIEW,
    }

    def get_queryset(self):
        queryset = (
            super()
            .get_queryset()
            .annotate(following=Exists(PipelineFollow.objects.filter(pipeline=OuterRef("pk"), user=self.request.user)))
        )
        if self.action != "list":
            return queryset
        queryset = with_last_run_id(queryset.only(*LIST_FIELDS).order_by("name", "pk"))
        wanted = _query_choice(self.request, "filter", FILTERS)
        if wanted == "mine":
            queryset = queryset.filter(creator=self.request.user)
        elif wanted == "last_run_by_me":
            queryset = last_run_by(queryset, self.request.user)
        if search := _search(self.request):
            queryset = queryset.filter(name__icontains=search)
        return queryset

    def get_serializer_class(self):
        return s.PipelineSummarySerializer if self.action == "list" else s.PipelineSerializer

    def _reply(self, pipeline, status_code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=pipeline.pk)
        return Response(s.pipeline_detail(fresh), status=status_code)

    def _create(self, create):
        try:
            pipeline = create()
        except IntegrityError:  # a concurrent save took the name between the check and the insert
            raise Conflict(_("A pipeline with this name was just created; choose another name.")) from None
        return self._reply(pipeline, status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("filter", str, enum=list(FILTERS)), OpenApiParameter("search", str)],
        responses=s.PipelineSummarySerializer(many=True),
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is not None:
            attach_last_runs(page)
        return page

    def create(self, request, *args, **kwargs):
        """Create from a full definition (P2); needs ADD_PIPELINE on the project."""
        project = self.get_project(ADD_PIPELINE)
        data = _object_body(request.data)
        return self._create(lambda: services.create_pipeline(request.user, project, data))

    def update(self, request, *args, **kwargs):
        """PUT replaces the definition; PATCH merges top-level keys. Needs modify (A1)."""
        pipeline = self.get_object()
        data = self._edit_body(pipeline, request.data)
        partial = kwargs.get("partial", False)
        return self._reply(services.update_pipeline(request.user, pipeline, data, partial=partial))

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def _edit_body(self, pipeline, data) -> dict:
        """Drop echoed response keys; a ``version`` sent back must still be the latest (lost update)."""
        data = _object_body(data)
        if "version" in data:
            sent = data["version"]
            if isinstance(sent, bool) or not isinstance(sent, int):
                raise ValidationError({"version": [_("Give the version number you edited (a whole number).")]})
            if sent != pipeline.version:
                raise Conflict(
                    _("The pipeline was changed (now version %(now)s) since you loaded version %(sent)s.")
                    % {"now": pipeline.version, "sent": sent},
                    extra={"version": pipeline.version},
                )
        return {key: value for key, value in data.items() if key not in s.READ_ONLY_KEYS}

    def destroy(self, request, *args, **kwargs):
        """P8: by default only the project manager and the creators may delete."""
        services.delete_pipeline(request.user, self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.PipelineCopySerializer, responses={201: s.PipelineSerializer})
    def copy(self, request, *args, **kwargs):
        """P3: a new pipeline with the same definition and secret values; I become its creator."""
        source = self.get_object()
        self.get_project(ADD_PIPELINE)
        data = _object_body(request.data)  # no body at all parses as {}
        unknown = [str(key)[:64] for key in data if key != "name"]
        if unknown:
            raise ValidationError({key: [_("Unknown field; expected name.")] for key in unknown})
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            raise ValidationError({"name": [_("The name must be text.")]})
        return self._create(lambda: services.copy_pipeline(request.user, source, name or None))

    @extend_schema(request=None, responses={200: {"type": "object"}})
    def follow(self, request, *args, **kwargs):
        """Follow: receive its notifications (N2)."""
        services.follow(request.user, self.get_object(), True)
        return Response({"following": True})

    @extend_schema(request=None, responses={204: None})
    def unfollow(self, request, *args, **kwargs):
        services.follow(request.user, self.get_object(), False)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=s.PermissionsSerializer)
    def permissions(self, request, *args, **kwargs):
        """Role and person permissions (A1, A2); the creators are locked with everything on (A5)."""
        return Response(s.permissions_of(self.get_object()))

    @extend_schema(request=s.PermissionsSerializer, responses=s.PermissionsSerializer)
    def set_permissions(self, request, *args, **kwargs):
        """Read as changes against the stored state, each with its A4 cascade; locked entries and
        ``view: false`` are ignored. Needs modify; turning delete on for anyone needs delete."""
        pipeline = self.get_object()
        roles, users = s.clean_permissions(pipeline, request.data)
        perms.set_permissions(pipeline, roles, users, actor=request.user)
        return Response(s.permissions_of(pipeline))

    @extend_schema(responses=s.VersionSerializer(many=True))
    def versions(self, request, *args, **kwargs):
        """Configuration history: number, author, created, summary (newest first)."""
        pipeline = self.get_object()
        page = self.paginate_queryset(pipeline.versions.select_related("author").order_by("-number"))
        return self.get_paginated_response([s.VersionSerializer(v).data for v in page])

    def _version(self, pipeline, number):
        version = pipeline.versions.select_related("author", "pipeline").filter(number=number).first()
        if version is None:
            raise Http404
        return version

    @extend_schema(responses=s.VersionDetailSerializer)
    def version(self, request, *args, **kwargs):
        """One version's definition and a readable diff against the one before."""
        pipeline = self.get_object()
        return Response(s.VersionDetailSerializer(self._version(pipeline, kwargs["number"])).data)

    @extend_schema(request=None, responses=s.PipelineSerializer)
    def restore(self, request, *args, **kwargs):
        """Save an earlier version as the newest one (needs modify)."""
        pipeline = self.get_object()
        self._version(pipeline, kwargs["number"])
        return self._reply(services.restore_version(request.user, pipeline, kwargs["number"]))

    @extend_schema(responses={(200, "application/yaml"): {"type": "string"}})
    def export(self, request, *args, **kwargs):
        """Pipeline as code: the definition as YAML (secret values are never in it)."""
        pipeline = self.get_object()
        response = HttpResponse(services.to_yaml(pipeline.definition), content_type="application/yaml; charset=utf-8")
        filename = slugify(pipeline.name) or f"pipeline-{pipeline.pk}"
        response["Content-Disposition"] = f'attachment; filename="{filename}.yaml"'
        return response


class PipelineImportViewSet(ProjectScopedMixin, viewsets.GenericViewSet):
    """Create a pipeline from a YAML document (``application/yaml`` text or ``{"yaml": "…"}``)."""

    queryset = Pipeline.objects.all()
    serializer_class = s.PipelineSerializer
    parser_classes = [SafeJSONParser, YamlTextParser, XYamlTextParser, PlainTextParser]

    @extend_schema(request={"application/yaml": {"type": "string"}}, responses={201: s.PipelineSerializer})
    def create(self, request, *args, **kwargs):
        project = self.get_project(ADD_PIPELINE)
        data = request.data
        if isinstance(data, dict):
            data = data.get("yaml")
        if not isinstance(data, str):
            raise ValidationError({"yaml": [_("Send the YAML document as text, or as {“yaml”: “…”}.")]})
        definition = services.from_yaml(data)
        try:
            pipeline = services.create_pipeline(request.user, project, definition)
        except IntegrityError:
            raise Conflict(_("A pipeline with this name was just created; choose another name.")) from None
        return Response(s.pipeline_detail(PipelineViewSet.queryset.get(pk=pipeline.pk)), status=201)


class HostGroupViewSet(ProjectScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Host groups of a project (R7). Members see them; the creator, managers and operators manage
    them. A host group a pipeline refers to cannot be deleted or renamed (409 with the list)."""

    queryset = HostGroup.objects.prefetch_related("hosts").order_by("name", "pk")
    serializer_class = s.HostGroupSerializer
    parser_classes = [SafeJSONParser]

    def create(self, request, *args, **kwargs):
        project = self.get_project(VIEW)
        if not hostgroups.may_manage(request.user, project):
            raise exceptions.PermissionDenied()
        return self._save(lambda: hostgroups.create_host_group(request.user, project, request.data), 201)

    def partial_update(self, request, *args, **kwargs):
        group = self.get_object()
        return self._save(lambda: hostgroups.update_host_group(request.user, group, request.data))

    def destroy(self, request, *args, **kwargs):
        group = self.get_object()
        try:
            hostgroups.delete_host_group(request.user, group)
        except hostgroups.HostGroupInUse as exc:
            raise Conflict(str(exc), extra={"usages": exc.usages}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _save(self, save, status_code=200):
        try:
            group = save()
        except hostgroups.HostGroupInUse as exc:
            raise Conflict(str(exc), extra={"usages": exc.usages}) from None
        except IntegrityError:
            raise Conflict(_("A host group with this name was just created; choose another name.")) from None
        return Response(self.get_serializer(self.get_queryset().get(pk=group.pk)).data, status=status_code)
