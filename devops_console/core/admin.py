from django.contrib import admin

from devops_console.core.admin_mixins import RestrictedAdminMixin
from devops_console.core.models import ApiToken, Membership, Project


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(RestrictedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "creator", "created"]
    search_fields = ["name"]
    inlines = [MembershipInline]
    list_select_related = ["creator"]


@admin.register(Membership)
class MembershipAdmin(RestrictedAdminMixin, admin.ModelAdmin):
    list_display = ["project", "user", "role", "added"]
    list_filter = ["role"]
    search_fields = ["project__name", "user__username"]
    list_select_related = ["project", "user"]


@admin.register(ApiToken)
class ApiTokenAdmin(RestrictedAdminMixin, admin.ModelAdmin):
    """Only the hash is stored; the admin shows the prefix and state, never a usable key."""

    list_display = ["name", "user", "prefix", "created", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = ["user", "prefix", "created", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]
    list_select_related = ["user"]
    actions = ["revoke"]

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        from devops_console.core.services import revoke_token

        for token in queryset:
            revoke_token(token)
