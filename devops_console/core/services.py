"""Business actions on projects, members and tokens, shared by pages, API and admin.

Callers fetch the objects through the restricted queryset first (the permission check); these
functions validate the input and keep the invariants (one creator per project, creator cannot be
removed). Validation failures raise ``ValidationError`` with a per-field dict and change nothing.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from devops_console.core.models import ASSIGNABLE_ROLES, ApiToken, Membership, Project, Role

NAME_MAX = Project._meta.get_field("name").max_length


def _clean_project_fields(name: str | None, description: str | None, *, instance: Project | None = None) -> dict:
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}
    if name is not None:
        name = name.strip()
        if not name:
            errors["name"] = [_("Enter a project name.")]
        elif len(name) > NAME_MAX:
            errors["name"] = [_("Use at most %(max)d characters.") % {"max": NAME_MAX}]
        elif Project.objects.filter(name__iexact=name).exclude(pk=getattr(instance, "pk", None)).exists():
            errors["name"] = [_("A project named “%(name)s” already exists.") % {"name": name}]
        cleaned["name"] = name
    if description is not None:
        if len(description) > 2000:
            errors["description"] = [_("Use at most 2000 characters.")]
        cleaned["description"] = description
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def create_project(user, name: str, description: str = "") -> Project:
    """Create a project; ``user`` becomes its creator (P0.1)."""
    cleaned = _clean_project_fields(name, description or "")
    try:
        with transaction.atomic():
            project = Project.objects.create(creator=user, **cleaned)
    except IntegrityError:  # lost a race on the unique name
        raise ValidationError({"name": [_("A project named “%(name)s” already exists.") % cleaned]}) from None
    Membership.objects.create(project=project, user=user, role=Role.CREATOR)
    return project


@transaction.atomic
def update_project(project: Project, *, name: str | None = None, description: str | None = None) -> Project:
    cleaned = _clean_project_fields(name, description, instance=project)
    for field, value in cleaned.items():
        setattr(project, field, value)
    project.save(update_fields=list(cleaned) or None)
    return project


def delete_project(project: Project) -> None:
    project.delete()


def _user_by_username(username) -> object:
    User = get_user_model()
    if not isinstance(username, str) or not username.strip():
        raise ValidationError({"user": [_("Enter a username.")]})
    user = User.objects.filter(username=username.strip(), is_active=True).first()
    if user is None:
        raise ValidationError({"user": [_("No active user is called “%(name)s”.") % {"name": username.strip()[:150]}]})
    return user


def _check_role(role) -> str:
    if role not in {str(r) for r in ASSIGNABLE_ROLES}:
        choices = ", ".join(str(r) for r in ASSIGNABLE_ROLES)
        if role == Role.CREATOR:
            message = _("A project has exactly one creator; that role cannot be given.")
        else:
            message = _("“%(role)s” is not a role. Choose one of: %(choices)s.") % {
                "role": str(role)[:50],
                "choices": choices,
            }
        raise ValidationError({"role": [message]})
    return role


@transaction.atomic
def add_member(project: Project, username: str, role: str) -> Membership:
    """Add a user to a project with an assignable role."""
    errors = {}
    try:
        user = _user_by_username(username)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        user = None
    try:
        _check_role(role)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if user is not None and Membership.objects.filter(project=project, user=user).exists():
        errors["user"] = [_("%(name)s is already a member.") % {"name": user.username}]
    if errors:
        raise ValidationError(errors)
    return Membership.objects.create(project=project, user=user, role=role)


def _membership(project: Project, username: str) -> Membership:
    membership = Membership.objects.filter(project=project, user__username=username).select_related("user").first()
    if membership is None:
        raise Membership.DoesNotExist
    return membership


@transaction.atomic
def change_role(project: Project, username: str, role: str) -> Membership:
    """Change a member's role; the creator's role is fixed."""
    membership = _membership(project, username)
    if membership.role == Role.CREATOR:
        raise ValidationError({"role": [_("The project creator's role cannot be changed.")]})
    membership.role = _check_role(role)
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(project: Project, username: str) -> None:
    """Remove a member; the creator cannot be removed, so a project always keeps one."""
    membership = _membership(project, username)
    if membership.role == Role.CREATOR:
        raise ValidationError({"user": [_("The project creator cannot be removed.")]})
    membership.delete()


def issue_token(user, name: str, expires_at=None) -> tuple[ApiToken, str]:
    """Create a personal API token and return it with its raw key (shown once)."""
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("Give the token a name.")]
    elif len(name) > 100:
        errors["name"] = [_("Use at most 100 characters.")]
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = [_("The expiry must be in the future.")]
    if errors:
        raise ValidationError(errors)
    return ApiToken.issue(user, name, expires_at)


def revoke_token(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
