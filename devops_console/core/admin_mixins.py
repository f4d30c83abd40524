"""Django admin as a face of the same enforcement point (I2, A6): querysets and object rights come
from ``Model.objects.restrict(user, action)``; secrets are never shown."""

from __future__ import annotations

from devops_console.core.permissions import CHANGE, DELETE, VIEW, can


class RestrictedAdminMixin:
    """Staff see and act on only what the restricted queryset grants them; superusers see all."""

    def get_queryset(self, request):
        return super().get_queryset(request).restrict(request.user, VIEW)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request) and (obj is None or can(request.user, obj, VIEW))

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request) and (obj is None or can(request.user, obj, CHANGE))

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request) and (obj is None or can(request.user, obj, DELETE))

    def has_add_permission(self, request):
        return request.user.is_active and request.user.is_superuser


class ReadOnlyAdminMixin:
    """Records that only the application writes (logs, history, audit): shown, never added, edited or
    deleted through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
