from django import forms
from django.utils.translation import gettext_lazy as _

from devops_console.core.formstyle import StyledFormMixin
from devops_console.core.models import ASSIGNABLE_ROLES, Project, Role


class ProjectForm(StyledFormMixin, forms.ModelForm):
    """Name and description; uniqueness is checked by the service."""

    class Meta:
        model = Project
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def validate_unique(self):
        pass  # services.create_project / update_project check it, race-safe


class MemberAddForm(StyledFormMixin, forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    role = forms.ChoiceField(
        label=_("Role"), choices=[(str(r), r.label) for r in ASSIGNABLE_ROLES], initial=str(Role.DEVELOPER)
    )


class RoleForm(StyledFormMixin, forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=[(str(r), r.label) for r in ASSIGNABLE_ROLES])


class TokenForm(StyledFormMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("What the token is for."))
    expires_at = forms.DateTimeField(
        label=_("Expires"),
        required=False,
        help_text=_("Optional. Leave empty for a token that does not expire."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
