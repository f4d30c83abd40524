"""Admin for pipelines (I2, A6): restricted querysets and object rights, changes through the services,
the definition shown read-only as JSON, secret parameter values never shown (only their names)."""

from __future__ import annotations

import json
import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html
from django.utils.translation import gettext as _

from devops_console.core.admin_mixins import ReadOnlyAdminMixin, RestrictedAdminMixin
from devops_console.core.permissions import VIEW
from endpoints.models import Credential
from pipelines import hostgroups, services
from pipelines.models import GateTemplate, Host, HostGroup, Pipeline, PipelineVersion


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RolePermissionInline(ReadOnlyInline):
    model = Pipeline.role_permissions.rel.related_model
    fields = ["role", "view", "execute", "modify", "delete"]
    verbose_name_plural = "Role permissions (change them on the pipeline's Permissions tab: A4 cascade)"


class PersonPermissionInline(ReadOnlyInline):
    model = Pipeline.person_permissions.rel.related_model
    fields = ["user", "view", "execute", "modify", "delete"]


def pretty_json(value) -> str:
    return format_html('<pre style="max-height: 40rem; overflow: auto">{}</pre>', json.dumps(value, indent=2))


@admin.register(Pipeline)
class PipelineAdmin(RestrictedAdminMixin, admin.ModelAdmin):
    """Name and description are edited through ``services.update_pipeline`` (a new version); the rest is
    read-only here — the pages and the API edit the definition with full validation."""

    list_display = ["name", "project", "creator", "version", "updated"]
    list_filter = ["project"]
    search_fields = ["name", "project__name"]
    list_select_related = ["project", "creator"]
    fields = ["project", "name", "description", "creator", "version", "secret_names", "definition_json", "updated"]
    readonly_fields = ["project", "creator", "version", "secret_names", "definition_json", "updated"]
    inlines = [RolePermissionInline, PersonPermissionInline]

    def has_add_permission(self, request):
        return False  # created from a project's pages or the API (P2)

    @admin.display(description="definition")
    def definition_json(self, obj):
        return pretty_json(obj.definition)  # the stored definition has no secret values (R4)

    @admin.display(description="secret parameters")
    def secret_names(self, obj):
        names = list(obj.secrets.values_list("name", flat=True))
        return ", ".join(f"{name} (set)" for name in names) or "—"

    def save_model(self, request, obj, form, change):
        data = {"name": form.cleaned_data["name"], "description": form.cleaned_data["description"]}
        original = Pipeline.objects.get(pk=obj.pk)
        try:
            services.update_pipeline(request.user, original, data, partial=True, summary="admin")
        except ValidationError as exc:
            messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))

    def delete_model(self, request, obj):
        services.delete_pipeline(request.user, obj)

    def delete_queryset(self, request, queryset):
        for pipeline in queryset:
            if self.has_delete_permission(request, pipeline):
                services.delete_pipeline(request.user, pipeline)


@admin.register(PipelineVersion)
class PipelineVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Configuration history: read-only, only of pipelines the user may view."""

    list_display = ["pipeline", "number", "author", "summary", "created"]
    search_fields = ["pipeline__name", "summary"]
    list_select_related = ["pipeline", "author"]
    fields = ["pipeline", "number", "author", "summary", "created", "definition_json"]
    readonly_fields = fields

    def get_queryset(self, request):
        visible = Pipeline.objects.restrict(request.user, VIEW).values("pk")
        return super().get_queryset(request).filter(pipeline__in=visible)

    @admin.display(description="definition")
    def definition_json(self, obj):
        return pretty_json(obj.definition)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)


class HostForm(forms.ModelForm):
    class Meta:
        model = Host
        fields = ["address", "port", "ssh_user", "credential"]


class HostFormSet(BaseInlineFormSet):
    """The host rows are checked by the host-group service, as the pages and the API check them
    (``hostgroups.check_hosts``: address, SSH user, port, a password or key credential of the group's project
    that the editor may use, no host twice, at most 200); its errors land on the row and field they name."""

    actor = None  # the editing user, set per request by ``HostInline.get_formset``

    def clean(self):
        super().clean()
        group = self.instance
        if any(self.errors) or group is None or not group.project_id:
            return  # the group's own fields are wrong: they are reported first
        rows = [form for form in self.forms if form.cleaned_data and not self._should_delete_form(form)]
        raw = [
            {key: form.cleaned_data.get(key) for key in ("address", "port", "ssh_user")}
            | {"credential": getattr(form.cleaned_data.get("credential"), "pk", None)}
            for form in rows
        ]
        errors = hostgroups.check_hosts(self.actor, group.project, raw, group if group.pk else None)
        for key, why in errors.items():
            found = _ROW_FIELD.fullmatch(key)
            if found is None:
                raise ValidationError(why)
            form, field = rows[int(found[1])], found[2]
            form.add_error(field if field in form.fields else None, why)


_ROW_FIELD = re.compile(r"hosts\[(\d+)\]\.(\w+)")


class HostInline(admin.TabularInline):
    model = Host
    form = HostForm
    formset = HostFormSet
    extra = 0

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)  # a class made for this request
        formset.actor = request.user
        return formset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "credential":
            kwargs["queryset"] = Credential.objects.restrict(request.user, VIEW)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class HostGroupForm(forms.ModelForm):
    """The service's rule (``pipelines.hostgroups``): a group that pipelines use keeps its name."""

    class Meta:
        model = HostGroup
        fields = ["project", "name", "description"]

    def clean_name(self):
        name = self.cleaned_data.get("name")
        if self.instance.pk and name != self.instance.name:
            used = hostgroups.usages(self.instance)
            if used:
                names = ", ".join(item["pipeline"] for item in used[:10])
                raise ValidationError(_("The host group is used by pipelines and cannot be renamed: %(names)s.")
                                      % {"names": names})  # fmt: skip
        return name


@admin.register(HostGroup)
class HostGroupAdmin(RestrictedAdminMixin, admin.ModelAdmin):
    form = HostGroupForm
    list_display = ["name", "project", "description", "created"]
    list_filter = ["project"]
    search_fields = ["name", "project__name"]
    list_select_related = ["project"]
    inlines = [HostInline]

    def get_readonly_fields(self, request, obj=None):
        return ["project"] if obj else []

    def has_delete_permission(self, request, obj=None):
        """A group that pipelines use cannot be deleted (as through the pages and the API)."""
        if obj is not None and hostgroups.usages(obj):
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        for group in queryset:
            try:
                hostgroups.delete_host_group(request.user, group)
            except hostgroups.HostGroupInUse:
                self.message_user(request, _("%(name)s is used by pipelines and was kept.") % {"name": group.name},
                                  messages.WARNING)  # fmt: skip


@admin.register(GateTemplate)
class GateTemplateAdmin(RestrictedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "project", "created"]
    search_fields = ["name"]
    list_select_related = ["project"]

    def get_readonly_fields(self, request, obj=None):
        return ["project"] if obj else []
