"""The one enforcement point for permissions (DEVELOPERS.md: "a queryset restricted per user and action").

Every model that users reach uses ``RestrictedQuerySet`` and implements ``restrict_q(user, action)``;
pages, API views, admin and tasks fetch objects only through ``Model.objects.restrict(user, action)``.
Project membership gives the coarse rights; django-guardian object permissions give the fine ones
(``guardian_object_ids``). An object outside the user's reach answers 404, as if it did not exist;
one the user may see but not act on answers 403.
"""

from __future__ import annotations

import functools

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import models
from django.db.models import Q
from django.http import Http404

VIEW = "view"
ADD = "add"
CHANGE = "change"
DELETE = "delete"
ADMINISTER = "administer"
USE = "use"
EXECUTE = "execute"


def is_active_user(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


class RestrictedQuerySet(models.QuerySet):
    """A queryset that can be narrowed to what ``user`` may do ``action`` on."""

    def restrict(self, user, action: str = VIEW):
        if not is_active_user(user):
            return self.none()
        if user.is_superuser:
            return self.all()
        return self.filter(self.model.restrict_q(user, action))


def member_project_ids(user, roles=None):
    """Subquery of the ids of projects where ``user`` is a member (optionally with one of ``roles``)."""
    from devops_console.core.models import Membership

    memberships = Membership.objects.filter(user=user)
    if roles is not None:
        memberships = memberships.filter(role__in=list(roles))
    return memberships.values("project_id")


def guardian_object_ids(user, model, codename: str):
    """Subquery of pks of ``model`` objects on which ``user`` holds guardian permission ``codename``.

    Covers both the user's own and their groups' object permissions — what guardian's
    ``get_objects_for_user(..., accept_global_perms=False, with_superuser=False)`` answers, built directly
    on the model's direct-foreign-key permission tables as one SQL subquery (guardian's helper runs
    Python-side lookups on every call, a few milliseconds on each restricted query).
    """
    # The content type by its natural key, not its id: ``may`` compiles this query once per process, and a
    # content type made anew (a flushed or restored database) has a new id.
    meta = model._meta
    perm = {
        "permission__content_type__app_label": meta.app_label,
        "permission__content_type__model": meta.model_name,
        "permission__codename": codename,
    }
    user_model, group_model = _permission_tables(model)
    own = user_model.objects.filter(user=user, **perm).values("content_object_id")
    groups = group_model.objects.filter(group__user=user, **perm).values("content_object_id")
    return model._base_manager.filter(Q(pk__in=own) | Q(pk__in=groups)).values("pk")


@functools.cache
def _permission_tables(model) -> tuple[type[models.Model], type[models.Model]]:
    """The model's direct-foreign-key guardian tables (user, group); they never change at run time."""
    from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

    user_model, group_model = get_user_obj_perms_model(model), get_group_obj_perms_model(model)
    if user_model.objects.is_generic() or group_model.objects.is_generic():
        raise ImproperlyConfigured(f"{model.__name__} needs direct-foreign-key guardian permission tables")
    return user_model, group_model


def get_object_for_action(queryset_or_model, user, action: str = VIEW, **lookup):
    """Fetch one object through the restricted queryset.

    Not visible at all → ``Http404``; visible but ``action`` not allowed → ``PermissionDenied``.
    """
    queryset = queryset_or_model._default_manager.all() if isinstance(queryset_or_model, type) else queryset_or_model
    obj = queryset.restrict(user, action).filter(**lookup).first()
    if obj is not None:
        return obj
    if action != VIEW and queryset.restrict(user, VIEW).filter(**lookup).exists():
        raise PermissionDenied
    raise Http404


def can(user, obj, action: str) -> bool:
    """Whether ``user`` may do ``action`` on ``obj`` — answered by the same restricted queryset (``may``)."""
    return obj.pk is not None and may(user, type(obj), action, obj.pk)


def may(user, model, action: str, pk: int) -> bool:
    """Whether ``user`` may do ``action`` on the ``model`` row ``pk``: the restricted queryset, compiled once per
    model and action (``core.prepared``), as pages ask it for every object they show actions for and tasks
    for every delivery (A6: a webhook's run starts as the pipeline creator, who must still be allowed to)."""
    if not is_active_user(user) or user.is_superuser:
        return model._default_manager.restrict(user, action).filter(pk=pk).exists()
    return bool(_restricted_pk(model, action)(user.pk, pk))


@functools.cache
def _restricted_pk(model, action: str):
    """``restrict()``'s query for an active, non-superuser member (a stand-in with only the id: ``restrict_q``
    reads nothing else of the user), narrowed to one row."""
    from django.contrib.auth import get_user_model

    from devops_console.core.prepared import Prepared

    def build(user_id, pk):
        member = get_user_model()(pk=user_id, is_active=True, is_superuser=False)
        return model._default_manager.restrict(member, action).filter(pk=pk).values_list("pk").order_by()

    return Prepared(build)


def nothing() -> Q:
    """A condition no row satisfies (for actions a model does not support)."""
    return Q(pk__in=[])
