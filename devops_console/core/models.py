"""Projects (the unit of tenancy), memberships with roles (P0.1) and personal API tokens (API.md)."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from devops_console.core.permissions import (
    ADD,
    ADMINISTER,
    CHANGE,
    DELETE,
    VIEW,
    RestrictedQuerySet,
    member_project_ids,
    nothing,
)


class Role(models.TextChoices):
    """A member's role in a project (P0.1)."""

    CREATOR = "creator", _("Project creator")
    MANAGER = "manager", _("Project manager")
    DEVELOPER = "developer", _("Developer")
    TESTER = "tester", _("Tester")
    OPERATOR = "operator", _("Operator")
    PARTICIPANT = "participant", _("Participant")
    VIEWER = "viewer", _("Viewer")


#: Roles that administer a project's members and see every object in it.
ADMIN_ROLES = (Role.CREATOR, Role.MANAGER)
#: Project actions (``Project.restrict_q``) and who may do them; the models of a project's things take their
#: ADD / CHANGE / DELETE rules from the same role lists.
ADD_PIPELINE = "add_pipeline"  # create pipelines in it
ADD_HOST_GROUP = "add_host_group"  # create (and manage) its host groups
ADD_GATE_TEMPLATE = "add_gate_template"  # create (and manage) its gate templates
PIPELINE_AUTHORS = (*ADMIN_ROLES, Role.DEVELOPER)
HOST_GROUP_MANAGERS = (*ADMIN_ROLES, Role.OPERATOR)
GATE_TEMPLATE_AUTHORS = (*ADMIN_ROLES, Role.DEVELOPER, Role.TESTER)
#: Roles that may be given through the members page or API (the creator role is never handed out).
ASSIGNABLE_ROLES = tuple(role for role in Role if role != Role.CREATOR)


class Project(models.Model):
    """A project: the unit of tenancy. Everything else belongs to exactly one project."""

    name = models.CharField(_("name"), max_length=100, unique=True, help_text=_("Unique across the console."))
    description = models.TextField(_("description"), blank=True, max_length=2000)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="created_projects",
        verbose_name=_("creator"),
        help_text=_("The user who created the project; always a member."),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("project")
        verbose_name_plural = _("projects")

    def __str__(self):
        return self.name

    @classmethod
    def restrict_q(cls, user, action):
        """Members view; creator and managers change and administer members; only the creator deletes; the
        project actions by their role lists."""
        if action == VIEW or action == ADD:
            return Q(pk__in=member_project_ids(user))
        if action in (CHANGE, ADMINISTER):
            return Q(pk__in=member_project_ids(user, ADMIN_ROLES))
        if action == DELETE:
            return Q(pk__in=member_project_ids(user, [Role.CREATOR]))
        roles = {ADD_PIPELINE: PIPELINE_AUTHORS, ADD_HOST_GROUP: HOST_GROUP_MANAGERS,
                 ADD_GATE_TEMPLATE: GATE_TEMPLATE_AUTHORS}.get(action)  # fmt: skip
        if roles is not None:
            return Q(pk__in=member_project_ids(user, roles))
        return nothing()


class Membership(models.Model):
    """A user's role in a project. A project has exactly one creator membership."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("project")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, help_text=_("What the member may do."))
    added = models.DateTimeField(_("added"), auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["project", "user__username"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user"),
            models.UniqueConstraint(fields=["project"], condition=Q(role="creator"), name="membership_one_creator"),
        ]

    def __str__(self):
        return f"{self.user} @ {self.project} ({self.get_role_display()})"

    @classmethod
    def restrict_q(cls, user, action):
        """Members see the member list; creator and managers change it."""
        if action == VIEW:
            return Q(project_id__in=member_project_ids(user))
        if action in (ADD, CHANGE, DELETE):
            return Q(project_id__in=member_project_ids(user, ADMIN_ROLES))
        return nothing()


def hash_token(raw: str) -> str:
    """Tokens are stored as SHA-256: they are long random strings, so no slow hash is needed."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(RestrictedQuerySet):
    def usable(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class ApiToken(models.Model):
    """A personal API token (API.md "Auth"): shown once, stored hashed, may expire, revocable."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("What the token is for, e.g. 'CI script'."))
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        _("prefix"), max_length=12, editable=False, help_text=_("The first characters, to recognise a token.")
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True, help_text=_("Empty: never expires."))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def restrict_q(cls, user, action):
        """A token is its owner's alone."""
        return Q(user=user)

    @classmethod
    def issue(cls, user, name: str, expires_at=None) -> tuple[ApiToken, str]:
        """Create a token; the raw key is returned once and never stored."""
        raw = settings.API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            key_hash=hash_token(raw),
            prefix=raw[: len(settings.API_TOKEN_PREFIX) + 4],
            expires_at=expires_at,
        )
        return token, raw

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired
