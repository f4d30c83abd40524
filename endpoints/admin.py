"""Admin for endpoints and credentials (I2): restricted querysets, secrets write-only, changes through services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from devops_console.core.admin_mixins import ReadOnlyAdminMixin, RestrictedAdminMixin
from endpoints import services
from endpoints.models import AuditEntry, Credential, EndpointUsage, ServiceEndpoint


class CredentialAdminForm(forms.ModelForm):
    new_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only. Leave empty to keep the stored secret.",
    )

    class Meta:
        model = Credential
        fields = ["name", "identity", "shared", "expires_at"]


@admin.register(Credential)
class CredentialAdmin(RestrictedAdminMixin, admin.ModelAdmin):
    form = CredentialAdminForm
    list_display = ["name", "project", "kind", "identity", "owner", "shared", "expires_at", "secret_updated_at"]
    list_filter = ["kind", "shared"]
    search_fields = ["name", "identity", "project__name"]
    readonly_fields = ["project", "kind", "owner", "secret_updated_at", "last_verified_at", "last_used_at"]
    list_select_related = ["project", "owner"]

    def has_add_permission(self, request):
        return False  # created from the project's pages or API, where the kind and owner are set

    def save_model(self, request, obj, form, change):
        data = {k: form.cleaned_data[k] for k in ("name", "identity", "shared", "expires_at")}
        if form.cleaned_data.get("new_secret"):
            data["secret"] = form.cleaned_data["new_secret"]
        original = Credential.objects.get(pk=obj.pk)
        try:
            services.update_credential(request.user, original, data)
        except ValidationError as exc:
            messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))


@admin.register(ServiceEndpoint)
class ServiceEndpointAdmin(RestrictedAdminMixin, admin.ModelAdmin):
    """Plain configuration only; the secret lives on the credential and is never shown."""

    list_display = ["name", "project", "type", "scope", "status", "checked_at", "created_by"]
    list_filter = ["type", "scope", "status"]
    search_fields = ["name", "project__name"]
    fields = [
        "project",
        "name",
        "type",
        "config",
        "credential",
        "scope",
        "ca_bundle",
        "skip_tls_verify",
        "status",
        "status_detail",
        "checked_at",
        "created_by",
    ]
    readonly_fields = [
        "project",
        "type",
        "config",
        "credential",
        "scope",
        "status",
        "status_detail",
        "checked_at",
        "created_by",
    ]
    list_select_related = ["project", "created_by"]
    actions = ["verify"]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        original = ServiceEndpoint.objects.get(pk=obj.pk)
        data = {k: form.cleaned_data[k] for k in ("name", "ca_bundle", "skip_tls_verify") if k in form.cleaned_data}
        try:
            services.update_endpoint(request.user, original, data)
        except ValidationError as exc:
            messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))

    def delete_model(self, request, obj):
        try:
            services.delete_endpoint(request.user, obj)
        except services.EndpointInUse as exc:
            messages.error(request, f"{obj}: in use by {', '.join(u['label'] for u in exc.usages)}")

    @admin.action(description="Verify connection")
    def verify(self, request, queryset):
        for endpoint in queryset.select_related("credential"):
            result = services.verify_endpoint(request.user, endpoint)
            messages.info(request, f"{endpoint}: {result.detail}")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, RestrictedAdminMixin, admin.ModelAdmin):
    list_display = ["created", "subject", "action", "actor", "fields", "detail"]
    list_filter = ["action"]
    search_fields = ["subject"]
    list_select_related = ["actor"]


@admin.register(EndpointUsage)
class EndpointUsageAdmin(admin.ModelAdmin):
    list_display = ["endpoint", "label", "pipeline_id"]

    def get_queryset(self, request):
        visible = ServiceEndpoint.objects.restrict(request.user, "view")
        return super().get_queryset(request).filter(endpoint__in=visible)

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
