"""Pipeline definitions (SPEC §3, §4, §7): the pipeline with its definition document, configuration
history, encrypted secret parameter values, role and person permissions, followers, host groups and
gate templates.

The definition is one JSON document (API.md "Pipeline definition"), validated as a whole by
``pipelines.definition``; a run freezes a copy of it. Effective per-user rights (A1–A5) are
materialized into django-guardian object permissions, which ``restrict_q`` reads.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from devops_console.core.fields import SecretField
from devops_console.core.models import GATE_TEMPLATE_AUTHORS, HOST_GROUP_MANAGERS, PIPELINE_AUTHORS, Project, Role
from devops_console.core.permissions import (
    ADD,
    CHANGE,
    DELETE,
    EXECUTE,
    VIEW,
    RestrictedQuerySet,
    guardian_object_ids,
    member_project_ids,
    nothing,
)

#: permission action → guardian codename on Pipeline
PIPELINE_PERMS = {EXECUTE: "execute_pipeline", CHANGE: "change_pipeline", DELETE: "delete_pipeline"}


class Pipeline(models.Model):
    """A pipeline: sources + ordered stages + parameters + execution plan + permissions + notifications."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="pipelines", verbose_name=_("project"))
    name = models.CharField(_("name"), max_length=100, help_text=_("Unique within the project."))
    description = models.TextField(_("description"), blank=True, max_length=2000)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("creator")
    )
    definition = models.JSONField(
        _("definition"),
        default=dict,
        help_text=_("Sources, stages, parameters, triggers and notifications (no secrets)."),
    )
    version = models.PositiveIntegerField(_("version"), default=1, help_text=_("Number of the latest saved version."))
    max_concurrent_runs = models.PositiveSmallIntegerField(
        _("concurrent runs"),
        default=5,
        help_text=_("At most this many runs execute at once; more wait in a queue (X3)."),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["project__name", "name"]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="pipeline_unique_name")]
        permissions = [("execute_pipeline", "Can run the pipeline")]

    def __str__(self):
        return self.name

    @classmethod
    def restrict_q(cls, user, action):
        """View is always on for members (A3); execute / modify / delete come from guardian (A1, A2, A5)."""
        if action == VIEW:
            return Q(project_id__in=member_project_ids(user))
        if action == ADD:  # creating a pipeline in a project: developers and up (Project's ADD_PIPELINE)
            return Q(project_id__in=member_project_ids(user, PIPELINE_AUTHORS))
        codename = PIPELINE_PERMS.get(action)
        if codename is None:
            return nothing()
        return Q(project_id__in=member_project_ids(user), pk__in=guardian_object_ids(user, cls, codename))


class PipelineUserObjectPermission(UserObjectPermissionBase):
    """Direct-FK guardian table for pipelines (the materialized effective rights of each member)."""

    content_object = models.ForeignKey(Pipeline, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("pipeline user permission")


class PipelineGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Pipeline, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("pipeline group permission")


class PermissionFlags(models.Model):
    """The four flags of A1, kept as the invariant delete ⇒ modify ⇒ execute ⇒ view (A4)."""

    view = models.BooleanField(_("view"), default=True)
    execute = models.BooleanField(_("execute"), default=False)
    modify = models.BooleanField(_("modify"), default=False)
    delete = models.BooleanField(_("delete"), default=False)

    class Meta:
        abstract = True

    def __str__(self):
        return ", ".join(flag for flag, on in self.flags().items() if on)

    def flags(self) -> dict[str, bool]:
        return {"view": self.view, "execute": self.execute, "modify": self.modify, "delete": self.delete}


class PipelineRolePermission(PermissionFlags):
    """What members with ``role`` may do on the pipeline (A1), unless they have a person setting (A2)."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="role_permissions")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)

    class Meta:
        verbose_name = _("role permission")
        verbose_name_plural = _("role permissions")
        constraints = [models.UniqueConstraint(fields=["pipeline", "role"], name="pipeline_role_perm_unique")]


class PipelinePersonPermission(PermissionFlags):
    """A person's own setting on the pipeline; overrides their role's (A2)."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="person_permissions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("person permission")
        verbose_name_plural = _("person permissions")
        constraints = [models.UniqueConstraint(fields=["pipeline", "user"], name="pipeline_person_perm_unique")]


class PipelineVersion(models.Model):
    """One saved configuration of a pipeline (configuration history, beyond): restore any of them."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("number"))
    definition = models.JSONField(_("definition"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    created = models.DateTimeField(_("saved"), auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        verbose_name = _("pipeline version")
        verbose_name_plural = _("pipeline versions")
        constraints = [models.UniqueConstraint(fields=["pipeline", "number"], name="pipeline_version_unique")]

    def __str__(self):
        return f"{self.pipeline} v{self.number}"


class PipelineSecret(models.Model):
    """The value of a secret parameter (R4): encrypted, decrypted only for the task that uses it."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="secrets")
    name = models.CharField(_("name"), max_length=64)
    value = SecretField(_("value"))
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("secret parameter value")
        verbose_name_plural = _("secret parameter values")
        constraints = [models.UniqueConstraint(fields=["pipeline", "name"], name="pipeline_secret_unique")]

    def __str__(self):
        return f"{self.pipeline} · {self.name}"


class PipelineFollow(models.Model):
    """A user following a pipeline (P1) — followers receive its notifications (N2)."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="follows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("follower")
        verbose_name_plural = _("followers")
        constraints = [models.UniqueConstraint(fields=["pipeline", "user"], name="pipeline_follow_unique")]

    def __str__(self):
        return f"{self.user} follows {self.pipeline}"


class HostGroup(models.Model):
    """A named set of hosts that deploy tasks target (R7)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="host_groups")
    name = models.CharField(_("name"), max_length=100, help_text=_("Unique within the project."))
    description = models.CharField(_("description"), max_length=500, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("host group")
        verbose_name_plural = _("host groups")
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="host_group_unique_name")]

    def __str__(self):
        return self.name

    @classmethod
    def restrict_q(cls, user, action):
        """Members see host groups; creator, managers and operators manage them."""
        if action == VIEW:
            return Q(project_id__in=member_project_ids(user))
        if action in (ADD, CHANGE, DELETE):
            return Q(project_id__in=member_project_ids(user, HOST_GROUP_MANAGERS))
        return nothing()


class Host(models.Model):
    """One SSH target of a host group."""

    group = models.ForeignKey(HostGroup, on_delete=models.CASCADE, related_name="hosts")
    address = models.CharField(_("address"), max_length=255, help_text=_("Host name or IP address."))
    port = models.PositiveIntegerField(_("port"), default=22)
    ssh_user = models.CharField(_("SSH user"), max_length=64)
    credential = models.ForeignKey(
        "endpoints.Credential",
        on_delete=models.PROTECT,
        related_name="hosts",
        help_text=_("Password or private key used to log in."),
    )

    class Meta:
        ordering = ["address", "port"]
        verbose_name = _("host")
        verbose_name_plural = _("hosts")

    def __str__(self):
        return f"{self.ssh_user}@{self.address}:{self.port}"


class GateTemplate(models.Model):
    """A quality-gate template (P7): items like "code-check issue count ≤ 0" or "API-test pass rate ≥ 90"."""

    project = models.ForeignKey(
        Project,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty for the system templates every project sees."),
    )
    name = models.CharField(_("name"), max_length=100)
    items = models.JSONField(
        _("items"), default=list, help_text=_('[{"metric": "issue_count" | "pass_rate", "threshold": number}]')
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("gate template")
        verbose_name_plural = _("gate templates")

    def __str__(self):
        return self.name

    @classmethod
    def restrict_q(cls, user, action):
        if action == VIEW:
            return Q(project__isnull=True) | Q(project_id__in=member_project_ids(user))
        if action in (ADD, CHANGE, DELETE):
            return Q(project_id__in=member_project_ids(user, GATE_TEMPLATE_AUTHORS))
        return nothing()
