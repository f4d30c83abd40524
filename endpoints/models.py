"""Service endpoints (SPEC §2), the credentials they reference (E4), where they are used (E8) and
their audit trail.

Rights (E2, E3) are answered by ``restrict_q``: project creator and managers see and administer
every endpoint; the endpoint's creator administers it; other members see and use it by scope —
public: every member; custom: the members holding guardian's ``use_serviceendpoint`` (or
``administer_serviceendpoint``) object permission; private: nobody else.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from devops_console.core.fields import SecretField
from devops_console.core.models import ADMIN_ROLES, Project
from devops_console.core.permissions import (
    ADMINISTER,
    CHANGE,
    DELETE,
    USE,
    VIEW,
    RestrictedQuerySet,
    guardian_object_ids,
    member_project_ids,
    nothing,
)
from endpoints.types import CREDENTIAL_KINDS, type_choices


class Scope(models.TextChoices):
    """Who may see and use an endpoint (E3)."""

    PRIVATE = "private", _("Private (creator only)")
    PUBLIC = "public", _("Public (all project members)")
    CUSTOM = "custom", _("Custom (listed members)")


class Status(models.IntegerChoices):
    """Verification status (E7; 0–2 with seed 004's meaning)."""

    NORMAL = 0, _("Normal")
    OVERDUE = 1, _("Overdue")
    UNAUTHENTICATED = 2, _("Unauthenticated")
    UNREACHABLE = 3, _("Unreachable")


class Credential(models.Model):
    """Secret material (password, token, AK/SK, kubeconfig, private key) shared by endpoints (E4).

    Replacing ``secret`` repairs every endpoint — and so every pipeline — that references it.
    """

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="credentials", verbose_name=_("project")
    )
    name = models.CharField(_("name"), max_length=128, help_text=_("Unique within the project."))
    kind = models.CharField(
        _("kind"),
        max_length=32,
        choices=list(CREDENTIAL_KINDS.items()),
        help_text=_("Endpoint types of the same kind can share the credential."),
    )
    identity = models.CharField(
        _("identity"), max_length=255, blank=True, help_text=_("The non-secret half: username or access key id.")
    )
    secret = SecretField(_("secret"), blank=True, help_text=_("Encrypted at rest; never shown again."))
    secret_updated_at = models.DateTimeField(_("secret updated"), null=True, blank=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("owner")
    )
    shared = models.BooleanField(
        _("shared"), default=False, help_text=_("Other project members may pick it for their endpoints.")
    )
    expires_at = models.DateField(
        _("expires"),
        null=True,
        blank=True,
        help_text=_("When the secret stops working; verification then reports overdue."),
    )
    last_verified_at = models.DateTimeField(_("last verified"), null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("credential")
        verbose_name_plural = _("credentials")
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="credential_unique_name")]

    def __str__(self):
        return self.name

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at < timezone.localdate()

    @classmethod
    def restrict_q(cls, user, action):
        """Owner and project admins manage; shared credentials may be seen and used by every member."""
        member = Q(project_id__in=member_project_ids(user))
        admin = Q(project_id__in=member_project_ids(user, ADMIN_ROLES))
        if action in (VIEW, USE):
            return member & (Q(owner=user) | Q(shared=True)) | admin
        if action in (CHANGE, DELETE, ADMINISTER):
            return member & Q(owner=user) | admin
        return nothing()


class ServiceEndpoint(models.Model):
    """A named connection to a third-party service (E1), referencing a credential (E4)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="endpoints", verbose_name=_("project"))
    name = models.CharField(_("name"), max_length=128, help_text=_("Unique within the project."))
    type = models.CharField(_("type"), max_length=32, choices=type_choices())
    config = models.JSONField(
        _("configuration"), default=dict, blank=True, help_text=_("The type's plain fields (URL, ids, options).")
    )
    credential = models.ForeignKey(
        Credential, on_delete=models.PROTECT, related_name="endpoints", verbose_name=_("credential")
    )
    scope = models.CharField(_("scope"), max_length=16, choices=Scope.choices, default=Scope.PRIVATE)
    ca_bundle = models.TextField(
        _("CA bundle"),
        blank=True,
        max_length=256 * 1024,
        help_text=_("PEM certificates to trust for a self-hosted service."),
    )
    skip_tls_verify = models.BooleanField(
        _("skip TLS verification"),
        default=False,
        help_text=_("Only for test set-ups: the connection can be intercepted."),
    )
    status = models.PositiveSmallIntegerField(
        _("status"), choices=Status.choices, null=True, blank=True, editable=False
    )
    status_detail = models.CharField(_("status detail"), max_length=500, blank=True, editable=False)
    checked_at = models.DateTimeField(_("checked"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("service endpoint")
        verbose_name_plural = _("service endpoints")
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="endpoint_unique_name")]
        permissions = [
            ("use_serviceendpoint", "Can use the service endpoint in pipelines"),
            ("administer_serviceendpoint", "Can edit, delete and change the scope of the service endpoint"),
        ]

    def __str__(self):
        return self.name

    @classmethod
    def restrict_q(cls, user, action):
        member = Q(project_id__in=member_project_ids(user))
        admin = Q(project_id__in=member_project_ids(user, ADMIN_ROLES))
        administers = Q(created_by=user) | Q(pk__in=guardian_object_ids(user, cls, "administer_serviceendpoint"))
        if action in (VIEW, USE):
            granted = (
                Q(scope=Scope.PUBLIC)
                | Q(scope=Scope.CUSTOM, pk__in=guardian_object_ids(user, cls, "use_serviceendpoint"))
                | administers
            )
            return admin | member & granted
        if action in (CHANGE, DELETE, ADMINISTER):
            return admin | member & administers
        return nothing()


class ServiceEndpointUserObjectPermission(UserObjectPermissionBase):
    """Direct-FK guardian table: custom-scope members (E3) without generic-key joins."""

    content_object = models.ForeignKey(ServiceEndpoint, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("endpoint user permission")


class ServiceEndpointGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(ServiceEndpoint, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("endpoint group permission")


class EndpointUsage(models.Model):
    """Where an endpoint is used (E8): a pipeline source or task referencing it by id.

    Written by the owner of the reference (the pipelines app) whenever it saves one; the PROTECT
    foreign key makes "delete a used endpoint" impossible even if a caller skips the check.
    """

    endpoint = models.ForeignKey(
        ServiceEndpoint, on_delete=models.PROTECT, related_name="usages", verbose_name=_("endpoint")
    )
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    referrer = GenericForeignKey("content_type", "object_id")
    pipeline_id = models.PositiveBigIntegerField(_("pipeline id"), null=True, blank=True)
    label = models.CharField(_("label"), max_length=300, help_text=_("e.g. “web-app › Build › compile”."))
    url = models.CharField(_("link"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("endpoint usage")
        verbose_name_plural = _("endpoint usages")
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "content_type", "object_id"], name="endpoint_usage_unique")
        ]

    def __str__(self):
        return self.label


class AuditEntry(models.Model):
    """Who did what to an endpoint or credential, and when. Field names only — never values."""

    class Action(models.TextChoices):
        CREATE = "create", _("created")
        EDIT = "edit", _("edited")
        SCOPE = "scope", _("changed scope")
        VERIFY = "verify", _("verified")
        DELETE = "delete", _("deleted")
        USE = "use", _("used by a run")
        REPLACE_SECRET = "replace_secret", _("replaced the secret")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", verbose_name=_("project"))
    endpoint = models.ForeignKey(
        ServiceEndpoint,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit",
        verbose_name=_("endpoint"),
    )
    credential = models.ForeignKey(
        Credential, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit", verbose_name=_("credential")
    )
    subject = models.CharField(_("subject"), max_length=160, help_text=_("Name at the time, kept after deletion."))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    fields = models.JSONField(_("fields"), default=list, blank=True, help_text=_("Names of the changed fields."))
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    created = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-pk"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self):
        return f"{self.subject} {self.get_action_display()}"

    @classmethod
    def restrict_q(cls, user, action):
        """Readable by whoever may see the endpoint (or credential); deleted subjects: project admins."""
        if action != VIEW:
            return nothing()
        return (
            Q(endpoint__in=ServiceEndpoint.objects.restrict(user, VIEW))
            | Q(credential__in=Credential.objects.restrict(user, VIEW))
            | Q(project_id__in=member_project_ids(user, ADMIN_ROLES))
        )
