"""Pipeline templates API (API.md ``/api/v1/templates/``; SPEC M1–M3): thin views over the services.

Templates are not project-scoped: a user sees the system templates, their own and those shared with
their projects (404 for the rest); only the owner changes or deletes a custom template and nobody a
system one (403). Generating needs the right to add pipelines in the chosen project (404 when the
project is not theirs, 403 when they may only view it).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from devops_console.core.api.parsers import SafeJSONParser as JSONParser
from devops_console.core.api.permissions import RestrictedViewMixin
from devops_console.core.permissions import CHANGE, DELETE, VIEW, get_object_for_action
from pipelines.definition.base import as_int
from pipelines.models import Pipeline
from templates_app import services
from templates_app.api.serializers import CopySerializer, GeneratedSerializer, GenerateSerializer, TemplateSerializer
from templates_app.models import PipelineTemplate

FILTERS = ("system", "custom", "followed")
SEARCH_MAX = 100


class TemplateViewSet(RestrictedViewMixin, viewsets.GenericViewSet):
    """System and custom pipeline templates. ``?filter=system|custom|followed``, ``?search=`` (name)."""

    queryset = PipelineTemplate.objects.select_related("owner", "project").order_by("-system", "name", "pk")
    serializer_class = TemplateSerializer
    parser_classes = [JSONParser]
    permission_actions = {"copy": VIEW, "follow": VIEW, "unfollow": VIEW, "generate": VIEW}

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["followed"] = services.followed_ids(self.request.user)
        return context

    def _template(self, action_name: str = VIEW) -> PipelineTemplate:
        return get_object_for_action(self.get_queryset(), self.request.user, action_name, pk=self.kwargs["pk"])

    def _body(self, serializer_class):
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _reply(self, template, status_code=status.HTTP_200_OK):
        template = self.get_queryset().get(pk=template.pk)
        return Response(self.get_serializer(template).data, status=status_code)

    @extend_schema(
        parameters=[
            OpenApiParameter("filter", str, enum=list(FILTERS)),
            OpenApiParameter("search", str, description="Part of the name."),
        ]
    )
    def list(self, request, *args, **kwargs):
        queryset = self.get_queryset()
        wanted = request.query_params.get("filter", "")
        if wanted not in ("", *FILTERS):
            raise ValidationError({"filter": [_("Choose one of: %(choices)s.") % {"choices": ", ".join(FILTERS)}]})
        if wanted == "system":
            queryset = queryset.filter(system=True)
        elif wanted == "custom":
            queryset = queryset.filter(system=False)
        elif wanted == "followed":
            queryset = queryset.filter(follows__user=request.user)
        search = request.query_params.get("search", "")
        if search:
            if len(search) > SEARCH_MAX or "\x00" in search:
                raise ValidationError({"search": [_("Search for at most %(n)s characters.") % {"n": SEARCH_MAX}]})
            queryset = queryset.filter(Q(name__icontains=search) | Q(description__icontains=search))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        return Response(self.get_serializer(self._template()).data)

    def create(self, request, *args, **kwargs):
        """A custom template (you are its owner); with ``pipeline``, from that pipeline's stages."""
        data = self._body(TemplateSerializer)
        if "pipeline" in data:
            pipeline_id = as_int(data.pop("pipeline"))
            pipelines = Pipeline.objects.restrict(request.user, VIEW)
            pipeline = pipelines.filter(pk=pipeline_id).first() if pipeline_id and pipeline_id < 2**31 else None
            if pipeline is None:
                raise ValidationError({"pipeline": [_("No such pipeline in your projects.")]})
            if "definition" in data:
                raise ValidationError({"definition": [_("Give either a definition or a pipeline, not both.")]})
            template = services.create_from_pipeline(request.user, pipeline, data)
        else:
            template = services.create_template(request.user, data)
        return self._reply(template, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        template = self._template(CHANGE)
        data = self._body(TemplateSerializer)
        if "pipeline" in data:
            raise ValidationError({"pipeline": [_("A template is created from a pipeline, not changed.")]})
        return self._reply(services.update_template(request.user, template, data))

    def destroy(self, request, *args, **kwargs):
        services.delete_template(request.user, self._template(DELETE))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=CopySerializer, responses={201: TemplateSerializer})
    @action(detail=True, methods=["post"])
    def copy(self, request, *args, **kwargs):
        """A custom copy of any template you see (the way to change a system template, M1)."""
        template = self._template()
        data = self._body(CopySerializer) if request.data else {}
        project = services.resolve_project(request.user, data.get("project")) if data.get("project") else None
        copied = services.copy_template(request.user, template, data.get("name"), project)
        return self._reply(copied, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def follow(self, request, *args, **kwargs):
        services.follow(request.user, self._template(), True)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={204: None})
    def unfollow(self, request, *args, **kwargs):
        services.follow(request.user, self._template(), False)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=GenerateSerializer, responses={201: GeneratedSerializer})
    @action(detail=True, methods=["post"])
    def generate(self, request, *args, **kwargs):
        """M3: a pipeline from the template in a project where you may add pipelines; you are its creator."""
        template = self._template()
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": [_("Send a JSON object.")]})
        GenerateSerializer(data=request.data).run_validation(request.data)  # known keys only
        pipeline = services.generate_pipeline(request.user, template, dict(request.data))
        body = {
            "id": pipeline.pk,
            "pipeline": pipeline.pk,
            "project": pipeline.project_id,
            "name": pipeline.name,
            "url": services.pipeline_url(pipeline),
        }
        return Response(body, status=status.HTTP_201_CREATED)
