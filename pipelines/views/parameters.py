"""Parameters tab (R1–R7): custom parameters (add, edit, delete) and the read-only system ones (R2).

Secret values (R4) are write-only: the form never renders one, and an empty value keeps the stored one.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pipelines.definition import SYSTEM_PARAMETERS, system_parameters
from pipelines.forms import PARAMETER_TYPE_LABELS, ParameterForm, apply_definition_errors
from pipelines.models import HostGroup
from pipelines.views.config import SettingsView


def system_rows(definition: dict) -> list[tuple[str, str]]:
    """R2: (name, where it comes from)."""
    aliases = {
        f"{s['alias']}_": s["alias"] for s in definition.get("sources", []) if isinstance(s, dict) and s.get("alias")
    }
    rows = []
    for name in system_parameters(definition):
        if name in SYSTEM_PARAMETERS:
            rows.append((name, _("always")))
        else:
            alias = next((a for prefix, a in aliases.items() if name.startswith(prefix)), "")
            rows.append((name, _("source alias “%(alias)s”") % {"alias": alias}))
    return rows


class ParametersView(SettingsView):
    template_name = "pipelines/settings/parameters.html"
    tab = "parameters"
    summary = gettext_lazy("parameters")

    def host_groups(self) -> list[str]:
        return list(HostGroup.objects.filter(project=self.project).values_list("name", flat=True))

    def stored(self) -> list[dict]:
        return [dict(p) for p in self.pipeline.definition.get("parameters", [])]

    def get(self, request, *args, **kwargs):
        editing = request.GET.get("edit", "")
        form = None
        if self.pipeline.can_change:
            current = next((p for p in self.stored() if p.get("name") == editing), None)
            initial = ParameterForm.initial_for(current) if current else {}
            form = ParameterForm(initial=initial, host_groups=self.host_groups())
            editing = editing if current else ""
        return self.render(form, editing)

    def post(self, request, *args, **kwargs):
        if request.POST.get("action") == "delete":
            return self.delete(request.POST.get("name", ""))
        original = request.POST.get("original_name", "")
        form = ParameterForm(request.POST, host_groups=self.host_groups())
        if not form.is_valid():
            return self.render(form, original)
        parameters = self.stored()
        names = [p.get("name") for p in parameters]
        if original:
            if original not in names:
                form.add_error(None, _("Parameter “%(name)s” no longer exists.") % {"name": original})
                return self.render(form, original)
            index = names.index(original)
            parameters[index] = form.to_parameter()
        else:
            index = len(parameters)
            parameters.append(form.to_parameter())
        try:
            self.pipeline = self.save({"parameters": parameters})
        except ValidationError as exc:
            apply_definition_errors(form, exc, form.field_for(index))
            return self.render(form, original)
        messages.success(request, _("Parameter “%(name)s” saved.") % {"name": form.cleaned_data["name"]})
        return redirect(request.path)

    def delete(self, name: str):
        parameters = [p for p in self.stored() if p.get("name") != name]
        if len(parameters) == len(self.stored()):
            messages.error(self.request, _("Parameter “%(name)s” no longer exists.") % {"name": name[:64]})
            return redirect(self.request.path)
        try:
            self.pipeline = self.save({"parameters": parameters})
        except ValidationError as exc:
            errors = [f"{path}: {e}" for path, errs in exc.message_dict.items() for e in errs]
            form = ParameterForm(host_groups=self.host_groups()) if self.pipeline.can_change else None
            return self.render(form, "", errors=errors, failed_delete=name)
        messages.success(self.request, _("Parameter “%(name)s” deleted.") % {"name": name})
        return redirect(self.request.path)

    def render(self, form, editing: str, **extra):
        context = self.get_context_data(
            form=form,
            editing=editing,
            parameters=self.stored(),
            type_labels=PARAMETER_TYPE_LABELS,
            system_rows=system_rows(self.pipeline.definition),
            has_host_groups=bool(form and len(form.fields["host_group"].choices) > 1),
            **extra,
        )
        return self.render_to_response(context)
