"""The DRF face of the enforcement point: lookups go through ``restrict(user, VIEW)`` (404 when
invisible) and the object check through ``restrict(user, action)`` (403 when visible but not allowed).
"""

from __future__ import annotations

from rest_framework import permissions

from devops_console.core.models import Project
from devops_console.core.permissions import ADD, CHANGE, DELETE, VIEW, can, get_object_for_action

DEFAULT_ACTIONS = {
    "list": VIEW,
    "retrieve": VIEW,
    "create": ADD,
    "update": CHANGE,
    "partial_update": CHANGE,
    "destroy": DELETE,
}


class RestrictedPermission(permissions.IsAuthenticated):
    """Authenticated, and allowed ``view.permission_action()`` on the object by the restricted queryset."""

    def has_object_permission(self, request, view, obj):
        return can(request.user, obj, view.permission_action())


class RestrictedViewMixin:
    """Mixin for API views and viewsets over a model with a ``RestrictedQuerySet``.

    ``permission_actions`` maps viewset actions (and extra ``@action`` names) to permission actions.
    """

    permission_classes = [RestrictedPermission]
    permission_actions: dict[str, str] = {}

    def permission_action(self) -> str:
        name = getattr(self, "action", None) or self.request.method.lower()
        return {**DEFAULT_ACTIONS, **self.permission_actions}.get(name, VIEW)

    def get_queryset(self):
        return super().get_queryset().restrict(self.request.user, VIEW)


class ProjectScopedMixin(RestrictedViewMixin):
    """For resources nested under ``/projects/{project_id}/``: the project must be visible (else 404)."""

    #: the action on the *project* needed to add an object under it
    project_add_action = ADD

    def get_project(self, action: str = VIEW) -> Project:
        cache = self.__dict__.setdefault("_projects", {})
        if action not in cache:
            cache[action] = get_object_for_action(Project, self.request.user, action, pk=self.kwargs["project_id"])
        return cache[action]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.get_project(VIEW)  # an invisible project answers 404 before anything else

    def get_queryset(self):
        return super().get_queryset().filter(project=self.get_project(VIEW))
