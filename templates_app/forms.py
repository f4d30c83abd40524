"""Forms of the template pages: a custom template (basic info + the definition as YAML) and "Generate
pipeline" (M3). They only shape input; ``templates_app.services`` validate and decide."""

from __future__ import annotations

import yaml
from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from devops_console.core.formstyle import StyledFormMixin
from devops_console.core.models import Project
from devops_console.core.permissions import VIEW
from endpoints.services import usable_endpoints
from pipelines.definition import ENDPOINT_TYPES
from pipelines.models import HostGroup
from templates_app.validation import TEMPLATE_ALIAS

YAML_MAX = 512 * 1024
GIT_SOURCE_TYPES = ENDPOINT_TYPES["git"] | ENDPOINT_TYPES["github_app"]


def to_yaml(definition: dict) -> str:
    return yaml.safe_dump(definition or {"parameters": [], "stages": []}, sort_keys=False, allow_unicode=True)


class TemplateForm(StyledFormMixin, forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    project = forms.ChoiceField(
        label=gettext_lazy("Share with project"),
        required=False,
        help_text=gettext_lazy("Members of this project see the template and can generate pipelines from it."),
    )
    definition = forms.CharField(
        label=gettext_lazy("Stages and parameters (YAML)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 24, "class": "font-monospace", "spellcheck": "false"}),
        help_text=gettext_lazy(
            "The parameters and stages of a pipeline definition. Tasks work on the source “app”; deploy "
            "endpoints, host groups and reviewers are chosen when a pipeline is generated. Parameters: string, "
            "enum or auto_increment."
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        projects = Project.objects.restrict(user, VIEW).order_by("name")
        self.fields["project"].choices = [("", _("— only me —")), *((str(p.pk), p.name) for p in projects)]

    def clean_definition(self):
        text = self.cleaned_data.get("definition") or ""
        if not text.strip():
            return {"parameters": [], "stages": []}
        if len(text) > YAML_MAX:
            raise forms.ValidationError(_("Use at most 512 KiB of YAML."))
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = _(" (line %(line)s)") % {"line": mark.line + 1} if mark else ""
            raise forms.ValidationError(_("Not valid YAML%(where)s.") % {"where": where}) from None
        except Exception:  # deep nesting and other parser failures
            raise forms.ValidationError(_("Not valid YAML.")) from None
        if not isinstance(data, dict):
            raise forms.ValidationError(_("Write a mapping with “parameters” and “stages”."))
        return data

    def service_data(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data.get("description", ""),
            "project": data.get("project") or None,
            "definition": data["definition"],
        }


class GenerateForm(StyledFormMixin, forms.Form):
    """M3 step 2, for a chosen project: name, optional Git source, deploy targets, parameter values."""

    name = forms.CharField(label=gettext_lazy("Pipeline name"), max_length=100)
    endpoint = forms.ChoiceField(
        label=gettext_lazy("Git source: service endpoint"),
        required=False,
        help_text=gettext_lazy("Leave empty for a pipeline without a code source."),
    )
    repository = forms.CharField(label=gettext_lazy("Repository"), required=False, max_length=300)
    default_branch = forms.CharField(label=gettext_lazy("Default branch"), required=False, max_length=200)
    alias = forms.CharField(
        label=gettext_lazy("Alias"),
        required=False,
        max_length=32,
        initial=TEMPLATE_ALIAS,
        help_text=gettext_lazy("The template's tasks work on this source."),
    )

    def __init__(self, *args, user, project, template, needs, **kwargs):
        super().__init__(*args, **kwargs)
        self.template = template
        self.fields["default_branch"].initial = "main"
        git = usable_endpoints(user, project, GIT_SOURCE_TYPES).order_by("name")
        self.fields["endpoint"].choices = [("", _("— no source —")), *((str(e.pk), e.name) for e in git)]
        if needs["kubernetes"]:
            clusters = usable_endpoints(user, project, {"kubernetes"}).order_by("name")
            self.fields["deploy_endpoint"] = forms.ChoiceField(
                label=_("Kubernetes endpoint for the deploy tasks"),
                choices=[("", "—"), *((str(e.pk), e.name) for e in clusters)],
                required=False,
            )
        if needs["host_group"]:
            groups = HostGroup.objects.filter(project=project).order_by("name")
            self.fields["host_group"] = forms.ChoiceField(
                label=_("Host group for the deploy tasks"),
                choices=[("", "—"), *((g.name, g.name) for g in groups)],
                required=False,
            )
        for param in template.parameters:
            name = param.get("name")
            label = f"${{{name}}}"
            if param.get("type") == "enum":
                field = forms.ChoiceField(
                    label=label, choices=[(c, c) for c in param.get("choices") or []], required=False
                )
            else:
                field = forms.CharField(label=label, required=False, max_length=1000)
            field.initial = param.get("default", "")
            field.help_text = param.get("description") or ""
            self.fields[f"param_{name}"] = field
        for field in self.fields.values():  # StyledFormMixin styled only the declared fields
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            if css not in field.widget.attrs.get("class", ""):
                field.widget.attrs["class"] = f"{field.widget.attrs.get('class', '')} {css}".strip()

    def clean(self):
        data = super().clean()
        if data.get("endpoint") and not data.get("repository"):
            self.add_error("repository", _("Enter the repository path, e.g. org/app."))
        if data.get("repository") and not data.get("endpoint"):
            self.add_error("endpoint", _("Choose the service endpoint of the repository."))
        return data

    def service_data(self, project) -> dict:
        data = self.cleaned_data
        sources = []
        if data.get("endpoint"):
            sources.append(
                {
                    "kind": "git",
                    "alias": data.get("alias") or TEMPLATE_ALIAS,
                    "endpoint": int(data["endpoint"]),
                    "repository": data.get("repository"),
                    "default_branch": data.get("default_branch") or "main",
                }
            )
        out = {
            "project": project.pk,
            "name": data["name"],
            "sources": sources,
            "parameters": {
                key[len("param_") :]: value for key, value in data.items() if key.startswith("param_") and value
            },
        }
        deploy = {}
        if data.get("deploy_endpoint"):
            deploy["endpoint"] = int(data["deploy_endpoint"])
        if data.get("host_group"):
            deploy["host_group"] = data["host_group"]
        if deploy:
            out["deploy"] = deploy
        return out

    def field_for(self, path: str) -> str | None:
        """The form field that a service error path belongs to, or None."""
        if path in self.fields:
            return path
        if path.startswith("sources[0]."):
            key = path.split(".", 1)[1]
            return key if key in ("endpoint", "repository", "default_branch", "alias") else None
        if path.startswith("parameters."):
            name = f"param_{path.split('.', 1)[1]}"
            return name if name in self.fields else None
        if path.startswith("parameters[") and path.endswith("].default"):
            index = path[len("parameters[") : -len("].default")]
            if index.isdigit() and int(index) < len(self.template.parameters):
                name = f"param_{self.template.parameters[int(index)].get('name')}"
                return name if name in self.fields else None
        if path.endswith(".config.endpoint") and "deploy_endpoint" in self.fields:
            return "deploy_endpoint"
        if path.endswith(".config.host_group") and "host_group" in self.fields:
            return "host_group"
        return None
