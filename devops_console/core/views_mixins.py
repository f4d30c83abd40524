"""The page face of the enforcement point: one mixin for every project-scoped page."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError

from devops_console.core.models import Project
from devops_console.core.permissions import VIEW, get_object_for_action


class ProjectViewMixin(LoginRequiredMixin):
    """Loads ``self.project`` through ``Project.objects.restrict(user, project_action)``.

    Anonymous → login redirect; not a member → 404; a member without the right → 403.
    """

    project_action = VIEW
    #: the action needed on the project for POST (forms that change something); None = project_action
    project_post_action: str | None = None
    nav_section = ""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        action = self.project_action
        if request.method == "POST" and self.project_post_action:
            action = self.project_post_action
        self.project = get_object_for_action(Project, request.user, action, pk=kwargs["project_id"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["project"] = self.project
        context["nav_section"] = self.nav_section
        return context


def apply_errors(form, exc: ValidationError, field_map: dict[str, str] | None = None) -> None:
    """Put a service's ``ValidationError`` on the form's fields (unknown fields go to the form).

    ``field_map`` renames service/API field names to the form's (e.g. ``user`` → ``username``).
    """
    field_map = field_map or {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            field = field_map.get(field, field)
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
