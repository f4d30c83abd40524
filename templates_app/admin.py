"""Admin for pipeline templates (I2): restricted querysets; system templates are read-only (M1); edits of
custom templates go through the services, so the definition is validated like everywhere else."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError

from devops_console.core.admin_mixins import RestrictedAdminMixin
from devops_console.core.permissions import DELETE
from templates_app import services
from templates_app.models import PipelineTemplate, TemplateFollow


@admin.register(PipelineTemplate)
class PipelineTemplateAdmin(RestrictedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "system", "owner", "project", "updated"]
    list_filter = ["system"]
    search_fields = ["name", "description", "owner__username", "project__name"]
    fields = ["key", "name", "description", "system", "owner", "project", "definition", "created", "updated"]
    readonly_fields = ["key", "system", "owner", "project", "definition", "created", "updated"]
    list_select_related = ["owner", "project"]

    def has_add_permission(self, request):
        return False  # created from the templates pages or API, where the owner and definition are set

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj is not None and obj.system)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.system)

    def save_model(self, request, obj, form, change):
        original = PipelineTemplate.objects.get(pk=obj.pk)
        data = {key: form.cleaned_data[key] for key in ("name", "description") if key in form.cleaned_data}
        try:
            services.update_template(request.user, original, data)
        except (ValidationError, PermissionDenied) as exc:
            detail = getattr(exc, "message_dict", None) or {"": [str(exc)]}
            messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in detail.items()))

    def delete_model(self, request, obj):
        services.delete_template(request.user, obj)

    def delete_queryset(self, request, queryset):
        """The bulk action deletes only custom templates the user may delete."""
        queryset.restrict(request.user, DELETE).filter(system=False).delete()


@admin.register(TemplateFollow)
class TemplateFollowAdmin(admin.ModelAdmin):
    list_display = ["template", "user", "created"]
    list_select_related = ["template", "user"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(user=request.user)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request) and (obj is None or obj.user_id == request.user.pk)
