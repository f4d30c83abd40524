"""Pages for projects, members and access tokens. Thin: permission via the mixin, work via services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import FormView, ListView, TemplateView

from devops_console.core import services
from devops_console.core.forms import MemberAddForm, ProjectForm, RoleForm, TokenForm
from devops_console.core.models import ApiToken, Membership, Project, Role
from devops_console.core.permissions import ADMINISTER, CHANGE, DELETE, VIEW, can
from devops_console.core.views_mixins import ProjectViewMixin, apply_errors


class ProjectListView(LoginRequiredMixin, ListView):
    template_name = "core/project_list.html"
    paginate_by = 50

    def get_queryset(self):
        return (
            Project.objects.restrict(self.request.user, VIEW)
            .select_related("creator")
            .annotate(member_count=Count("memberships", distinct=True))
            .order_by("name")
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["my_roles"] = dict(Membership.objects.filter(user=self.request.user).values_list("project_id", "role"))
        return context


class ProjectCreateView(LoginRequiredMixin, FormView):
    template_name = "core/project_form.html"
    form_class = ProjectForm

    def form_valid(self, form):
        try:
            project = services.create_project(self.request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("Project “%(name)s” created.") % {"name": project.name})
        return redirect("project-detail", project_id=project.pk)


class ProjectDetailView(ProjectViewMixin, TemplateView):
    template_name = "core/project_detail.html"
    nav_section = "overview"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["member_count"] = self.project.memberships.count()
        context["can_administer"] = can(self.request.user, self.project, ADMINISTER)
        return context


class ProjectSettingsView(ProjectViewMixin, FormView):
    """Settings › General › Basic information: rename, describe, delete."""

    template_name = "core/project_settings.html"
    form_class = ProjectForm
    nav_section = "general"
    project_post_action = CHANGE

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "instance": self.project}

    def form_valid(self, form):
        try:
            # the form mutated the instance while cleaning; reload so a refused rename changes nothing
            project = Project.objects.get(pk=self.project.pk)
            services.update_project(project, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("Project settings saved."))
        return redirect("project-settings", project_id=self.project.pk)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_change"] = can(self.request.user, self.project, CHANGE)
        context["can_delete"] = can(self.request.user, self.project, DELETE)
        return context


class ProjectDeleteView(ProjectViewMixin, TemplateView):
    template_name = "core/project_settings.html"
    project_action = DELETE
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        name = self.project.name
        if request.POST.get("confirm_name") != name:
            messages.error(request, _("Type the project name to confirm deletion."))
            return redirect("project-settings", project_id=self.project.pk)
        services.delete_project(self.project)
        messages.success(request, _("Project “%(name)s” deleted.") % {"name": name})
        return redirect("project-list")


class MembersView(ProjectViewMixin, FormView):
    """Settings › General › Members: list; the creator and managers add, change roles and remove."""

    template_name = "core/members.html"
    form_class = MemberAddForm
    nav_section = "members"
    project_post_action = ADMINISTER

    def form_valid(self, form):
        try:
            membership = services.add_member(self.project, form.cleaned_data["username"], form.cleaned_data["role"])
        except ValidationError as exc:
            apply_errors(form, exc, {"user": "username"})
            return self.form_invalid(form)
        messages.success(self.request, _("%(name)s added.") % {"name": membership.user.username})
        return redirect("project-members", project_id=self.project.pk)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["memberships"] = self.project.memberships.select_related("user").order_by("user__username")
        context["can_administer"] = can(self.request.user, self.project, ADMINISTER)
        context["role_choices"] = RoleForm.base_fields["role"].choices
        context["creator_role"] = Role.CREATOR
        return context


class MemberChangeView(ProjectViewMixin, TemplateView):
    project_action = ADMINISTER
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        get_object_or_404(Membership, project=self.project, user__username=kwargs["username"])
        try:
            if request.POST.get("action") == "remove":
                services.remove_member(self.project, kwargs["username"])
                messages.success(request, _("%(name)s removed.") % {"name": kwargs["username"]})
            else:
                form = RoleForm(request.POST)
                if not form.is_valid():
                    raise ValidationError({"role": form.errors.get("role", [_("Choose a role.")])})
                services.change_role(self.project, kwargs["username"], form.cleaned_data["role"])
                messages.success(request, _("Role of %(name)s changed.") % {"name": kwargs["username"]})
        except ValidationError as exc:
            for errors in exc.message_dict.values():
                for error in errors:
                    messages.error(request, error)
        return redirect("project-members", project_id=self.project.pk)


class TokenListView(LoginRequiredMixin, FormView):
    """Account menu › Access tokens: list, create (the key is shown once), revoke."""

    template_name = "core/tokens.html"
    form_class = TokenForm

    def form_valid(self, form):
        try:
            token, raw = services.issue_token(
                self.request.user, form.cleaned_data["name"], form.cleaned_data["expires_at"]
            )
        except ValidationError as exc:
            apply_errors(form, exc)
            return self.form_invalid(form)
        context = self.get_context_data(form=TokenForm(), new_token=raw, new_token_obj=token)
        return self.render_to_response(context)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["tokens"] = ApiToken.objects.restrict(self.request.user, VIEW)
        return context


class TokenRevokeView(LoginRequiredMixin, TemplateView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        token = get_object_or_404(ApiToken.objects.restrict(request.user, CHANGE), pk=kwargs["token_id"])
        services.revoke_token(token)
        messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
        return redirect(reverse("account-tokens"))
