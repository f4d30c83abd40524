"""Projects and members API (API.md): thin views over ``devops_console.core.services``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from devops_console.core import services
from devops_console.core.api.permissions import ProjectScopedMixin, RestrictedViewMixin
from devops_console.core.api.serializers import MembershipSerializer, ProjectSerializer, RoleSerializer
from devops_console.core.models import Membership, Project
from devops_console.core.permissions import ADMINISTER, CHANGE, DELETE, get_object_for_action


class ProjectViewSet(RestrictedViewMixin, viewsets.ModelViewSet):
    """My projects; creating one makes me its creator."""

    queryset = Project.objects.select_related("creator").order_by("name")
    serializer_class = ProjectSerializer
    lookup_url_kwarg = "project_id"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.request.user.is_authenticated:
            context["my_roles"] = dict(
                Membership.objects.filter(user=self.request.user).values_list("project_id", "role")
            )
        return context

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = services.create_project(request.user, **serializer.validated_data)
        return Response(self.get_serializer(project).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        services.update_project(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_project(instance)


class MemberViewSet(ProjectScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Members of a project: ``{user, role}``. The creator and managers add, change and remove them."""

    queryset = Membership.objects.select_related("user").order_by("user__username")
    serializer_class = MembershipSerializer
    lookup_field = "user__username"
    lookup_url_kwarg = "username"
    lookup_value_regex = r"[\w.@+-]+"

    def create(self, request, *args, **kwargs):
        project = self.get_project(ADMINISTER)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.add_member(project, serializer.validated_data["user"], serializer.validated_data["role"])
        return Response(self.get_serializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RoleSerializer, responses=MembershipSerializer)
    def partial_update(self, request, *args, **kwargs):
        membership = get_object_for_action(self.get_queryset(), request.user, CHANGE, user__username=kwargs["username"])
        serializer = RoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.change_role(membership.project, kwargs["username"], serializer.validated_data["role"])
        return Response(self.get_serializer(membership).data)

    def destroy(self, request, *args, **kwargs):
        membership = get_object_for_action(self.get_queryset(), request.user, DELETE, user__username=kwargs["username"])
        services.remove_member(membership.project, kwargs["username"])
        return Response(status=status.HTTP_204_NO_CONTENT)
