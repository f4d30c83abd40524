"""Pipeline templates (SPEC §9, M1–M3; seed 002 §2): system templates shipped as data (read-only) and
custom templates owned by a user, optionally shared with one project's members; followers.

A template's ``definition`` holds the ``parameters`` and ``stages`` of a pipeline definition (API.md) and
is validated by ``templates_app.services.validate_template_definition``: tasks work on the source alias
``app``; deploy endpoints, host groups and reviewers are chosen when a pipeline is generated; parameters
are string, enum or auto-increment only (R8).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from devops_console.core.models import Project
from devops_console.core.permissions import ADD, CHANGE, DELETE, VIEW, RestrictedQuerySet, member_project_ids, nothing


class PipelineTemplate(models.Model):
    """A reusable pipeline skeleton: stages, tasks and parameters (M2)."""

    key = models.SlugField(
        _("key"),
        max_length=64,
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text=_("Stable identifier of a system template (the data migration updates templates by key)."),
    )
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    system = models.BooleanField(_("system template"), default=False, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="pipeline_templates",
        verbose_name=_("owner"),
        help_text=_("Empty for system templates."),
    )
    project = models.ForeignKey(
        Project,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="pipeline_templates",
        verbose_name=_("project"),
        help_text=_("Members of this project see the template too. Empty: only the owner sees it."),
    )
    definition = models.JSONField(_("definition"), default=dict, help_text=_("Parameters and stages."))
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-system", "name", "pk"]
        verbose_name = _("pipeline template")
        verbose_name_plural = _("pipeline templates")
        constraints = [
            models.CheckConstraint(
                condition=Q(system=True, owner__isnull=True) | Q(system=False, owner__isnull=False),
                name="template_system_xor_owner",
            ),
        ]

    def __str__(self):
        return self.name

    @classmethod
    def restrict_q(cls, user, action):
        """VIEW: system templates, my own, and those shared with my projects. CHANGE / DELETE: my own
        custom templates only (system templates are read-only for everyone, M1). ADD: any user."""
        if action == VIEW:
            return Q(system=True) | Q(owner=user) | Q(project_id__in=member_project_ids(user))
        if action in (CHANGE, DELETE):
            return Q(system=False, owner=user)
        if action == ADD:
            return Q()
        return nothing()

    @property
    def stages(self) -> list:
        stages = (self.definition or {}).get("stages")
        return stages if isinstance(stages, list) else []

    @property
    def parameters(self) -> list:
        parameters = (self.definition or {}).get("parameters")
        return parameters if isinstance(parameters, list) else []


class TemplateFollow(models.Model):
    """A user following a template (M1: follow / unfollow)."""

    template = models.ForeignKey(PipelineTemplate, on_delete=models.CASCADE, related_name="follows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("template follower")
        verbose_name_plural = _("template followers")
        constraints = [models.UniqueConstraint(fields=["template", "user"], name="template_follow_unique")]

    def __str__(self):
        return f"{self.user} follows {self.template}"
