"""Forms of the pipeline pages (P2, P4, R1–R7, T1–T5, A1, N1).

Forms only shape input: every rule is checked by ``pipelines.services`` (which validates the whole
definition); ``apply_definition_errors`` maps its path-keyed messages back onto the form fields.
"""

from __future__ import annotations

import re
import zoneinfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from devops_console.core.formstyle import StyledFormMixin
from pipelines.definition import DAYS, MERGE_REQUEST_EVENTS, NOTIFICATION_EVENTS, PARAMETER_TYPES, ROOT
from pipelines.definition.sources import ENDPOINT_TYPES

_PATH_RE = re.compile(r"^(?P<head>[A-Za-z_]+)(?:\[(?P<index>\d+)\])?(?:\.(?P<rest>.*))?$")

PARAMETER_TYPE_LABELS = {
    "string": _("String"),
    "enum": _("Enum"),
    "auto_increment": _("Auto-increment"),
    "host_group": _("Host group"),
}
DAY_LABELS = {
    "mon": _("Mon"),
    "tue": _("Tue"),
    "wed": _("Wed"),
    "thu": _("Thu"),
    "fri": _("Fri"),
    "sat": _("Sat"),
    "sun": _("Sun"),
}
EVENT_LABELS = {
    "pipeline_deleted": _("Pipeline deleted"),
    "run_failed": _("Run failed"),
    "run_succeeded": _("Run succeeded"),
    "config_updated": _("Configuration updated"),
}
MR_EVENT_LABELS = {"created": _("Created"), "updated": _("Updated"), "merged": _("Merged"), "reopened": _("Reopened")}
#: endpoint types a "Generic Git" source may use (P2)
GIT_ENDPOINT_TYPES = sorted(ENDPOINT_TYPES["git"])


def split_path(path: str) -> tuple[str, int | None, str]:
    """``parameters[2].default`` → ("parameters", 2, "default")."""
    match = _PATH_RE.match(path or "")
    if not match:
        return path, None, ""
    index = match.group("index")
    return match.group("head"), int(index) if index is not None else None, match.group("rest") or ""


def apply_definition_errors(form, exc: ValidationError, to_field) -> list[str]:
    """Put each error of a service ``ValidationError`` on the field ``to_field(path)`` names; the others
    become non-field errors of ``form`` (prefixed with their path) and are returned too."""
    leftovers = []
    messages = exc.message_dict if hasattr(exc, "error_dict") else {ROOT: exc.messages}
    for path, errors in messages.items():
        field = to_field(path) if path != ROOT else None
        if field and field in form.fields:
            form.add_error(field, errors)
            continue
        for error in errors:
            text = error if path in (ROOT, "") else f"{path}: {error}"
            leftovers.append(text)
            if form is not None:
                form.add_error(None, text)
    return leftovers


def lines(value: str) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


class PipelineForm(StyledFormMixin, forms.Form):
    """Basic information (P4)."""

    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def to_definition(self) -> dict:
        return {"name": self.cleaned_data["name"], "description": self.cleaned_data["description"]}


class SourceForm(PipelineForm):
    """Create, step 1 (P2): name, description and the source — none, or Generic Git through an endpoint."""

    KINDS = [("none", _("None (no code source)")), ("git", _("Generic Git (through a service endpoint)"))]

    source_kind = forms.ChoiceField(label=_("Source"), choices=KINDS, initial="none", widget=forms.RadioSelect)
    endpoint = forms.ModelChoiceField(
        label=_("Service endpoint"),
        queryset=None,
        required=False,
        help_text=_("Git-type endpoints you may use in this project."),
    )
    repository = forms.CharField(
        label=_("Repository"), required=False, max_length=300, help_text=_("The repository path, e.g. org/app.")
    )
    default_branch = forms.CharField(
        label=_("Default branch"),
        required=False,
        max_length=200,
        initial="main",
        help_text=_("Manual and scheduled runs use this branch."),
        widget=forms.TextInput(attrs={"list": "branch-options", "autocomplete": "off"}),
    )
    alias = forms.CharField(
        label=_("Alias"),
        required=False,
        max_length=32,
        help_text=_(
            "Names the source in tasks and creates <alias>_… system parameters. Empty: taken from the repository."
        ),
    )

    def __init__(self, *args, endpoints=None, browsing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.browsing = browsing  # "load branches" is not a submit: nothing is required yet
        self.fields["name"].required = not browsing
        self.fields["endpoint"].queryset = endpoints
        self.fields["endpoint"].label_from_instance = lambda e: f"{e.name} ({e.get_type_display()})"

    def clean(self):
        data = super().clean()
        if data.get("source_kind") == "git" and not self.browsing:
            for name in ("endpoint", "repository", "default_branch"):
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, _("Required for a Git source."))
        return data

    def default_alias(self) -> str:
        base = (self.cleaned_data.get("repository") or "").rstrip("/").split("/")[-1].removesuffix(".git")
        alias = re.sub(r"[^A-Za-z0-9_]", "_", base).strip("_")[:32]
        return alias if alias[:1].isalpha() else "source"

    def to_definition(self) -> dict:
        data = super().to_definition()
        if self.cleaned_data["source_kind"] == "git":
            endpoint = self.cleaned_data["endpoint"]
            data["sources"] = [
                {
                    "kind": "git",
                    "alias": self.cleaned_data["alias"] or self.default_alias(),
                    "endpoint": endpoint.pk if endpoint else None,
                    "repository": self.cleaned_data["repository"],
                    "default_branch": self.cleaned_data["default_branch"],
                }
            ]
        else:
            data["sources"] = []
        return data

    @staticmethod
    def field_for(path: str) -> str | None:
        head, _index, rest = split_path(path)
        if head in ("name", "description"):
            return head
        if head == "sources":
            return {"kind": "source_kind"}.get(rest, rest) or "source_kind"
        return None


class ParameterForm(StyledFormMixin, forms.Form):
    """One custom parameter (R1): string, enum (R5), auto-increment (R6), host group (R7); secret (R4)."""

    name = forms.CharField(label=_("Name"), max_length=64, help_text=_("Letters, digits and “_”; use as ${name}."))
    type = forms.ChoiceField(label=_("Type"), choices=[(t, PARAMETER_TYPE_LABELS[t]) for t in PARAMETER_TYPES])
    default = forms.CharField(
        label=_("Default value"),
        required=False,
        max_length=1000,
        help_text=_("Auto-increment: empty means 1.0.0; the last number goes up after each run."),
    )
    secret_value = forms.CharField(
        label=_("Secret value"),
        required=False,
        max_length=1000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Write-only. Leave empty to keep the stored value."),
    )
    host_group = forms.ChoiceField(label=_("Host group"), required=False, help_text=_("For host group parameters."))
    choices = forms.CharField(
        label=_("Choices"), required=False, help_text=_("Enum only: allowed values, comma separated.")
    )
    secret = forms.BooleanField(label=_("Secret (stored encrypted, never shown)"), required=False)
    runtime = forms.BooleanField(label=_("Set at run time"), required=False)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, host_groups=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["host_group"].choices = [("", "—")] + [(name, name) for name in host_groups]

    def to_parameter(self) -> dict:
        d = self.cleaned_data
        kind = d["type"]
        if d["secret"] and kind == "string":
            default = d["secret_value"]
        elif kind == "host_group":
            default = d["host_group"]
        else:
            default = d["default"]
        return {
            "name": d["name"],
            "type": kind,
            "default": default,
            "choices": d["choices"] if kind == "enum" else [],
            "secret": d["secret"],
            "runtime": d["runtime"],
            "description": d["description"],
        }

    @classmethod
    def initial_for(cls, parameter: dict) -> dict:
        """Form initial data from a stored parameter; a secret's value is never put back (R4)."""
        secret = bool(parameter.get("secret"))
        kind = parameter.get("type", "string")
        return {
            "name": parameter.get("name", ""),
            "type": kind,
            "default": "" if secret or kind == "host_group" else parameter.get("default", ""),
            "host_group": parameter.get("default", "") if kind == "host_group" else "",
            "choices": ", ".join(parameter.get("choices") or []),
            "secret": secret,
            "runtime": bool(parameter.get("runtime")),
            "description": parameter.get("description", ""),
        }

    def field_for(self, index: int):
        def to_field(path: str) -> str | None:
            head, i, rest = split_path(path)
            if head != "parameters" or i != index:
                return None
            if rest == "default":
                if self.cleaned_data.get("secret") and self.cleaned_data.get("type") == "string":
                    return "secret_value"
                return "host_group" if self.cleaned_data.get("type") == "host_group" else "default"
            return rest.split(".")[0].split("[")[0] or None

        return to_field


class TriggersForm(StyledFormMixin, forms.Form):
    """Execution plan (T1–T3, T5 time zone and missed-schedule policy); patterns one per line."""

    FILTERS = [
        ("push", "branches"),
        ("push", "paths"),
        ("tag", "tags"),
        ("merge_request", "branches"),
        ("merge_request", "paths"),
    ]

    push_enabled = forms.BooleanField(label=_("Run on push (代码提交时触发)"), required=False)
    tag_enabled = forms.BooleanField(label=_("Run on tag creation (创建标签时触发)"), required=False)
    merge_request_enabled = forms.BooleanField(label=_("Run on merge request events"), required=False)
    merge_request_events = forms.MultipleChoiceField(
        label=_("Merge request events"),
        required=False,
        choices=[(e, MR_EVENT_LABELS[e]) for e in MERGE_REQUEST_EVENTS],
        widget=forms.CheckboxSelectMultiple,
    )
    timezone = forms.ChoiceField(label=_("Time zone"), required=False)
    missed_schedule_policy = forms.ChoiceField(
        label=_("Missed schedules"),
        choices=[("skip", _("Skip them")), ("run_latest", _("Run the latest one once"))],
        help_text=_("What happens to time points missed while the scheduler was down."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zones = sorted(zoneinfo.available_timezones())
        self.fields["timezone"].choices = [("", _("Server time zone"))] + [(z, z) for z in zones]
        for trigger, key in self.FILTERS:
            for side in ("include", "exclude"):
                label = _("Include") if side == "include" else _("Exclude")
                attrs = {"rows": 2, "placeholder": _("one pattern per line"), "class": "form-control font-monospace"}
                self.fields[f"{trigger}_{key}_{side}"] = forms.CharField(
                    label=label, required=False, widget=forms.Textarea(attrs=attrs)
                )

    @classmethod
    def initial_for(cls, triggers: dict) -> dict:
        initial = {
            "push_enabled": triggers["push"]["enabled"],
            "tag_enabled": triggers["tag"]["enabled"],
            "merge_request_enabled": triggers["merge_request"]["enabled"],
            "merge_request_events": triggers["merge_request"]["events"],
            "timezone": triggers.get("timezone", ""),
            "missed_schedule_policy": triggers.get("missed_schedule_policy", "skip"),
        }
        for trigger, key in cls.FILTERS:
            for side in ("include", "exclude"):
                initial[f"{trigger}_{key}_{side}"] = "\n".join(triggers[trigger][key][side])
        return initial

    def to_triggers(self, schedules: list[dict]) -> dict:
        d = self.cleaned_data
        out = {
            "push": {"enabled": d["push_enabled"]},
            "tag": {"enabled": d["tag_enabled"]},
            "merge_request": {"enabled": d["merge_request_enabled"], "events": d["merge_request_events"]},
            "schedules": schedules,
            "timezone": d["timezone"],
            "missed_schedule_policy": d["missed_schedule_policy"],
        }
        for trigger, key in self.FILTERS:
            out[trigger][key] = {side: lines(d[f"{trigger}_{key}_{side}"]) for side in ("include", "exclude")}
        return out

    @staticmethod
    def field_for(path: str) -> str | None:
        """``triggers.push.branches.include[2]`` → ``push_branches_include``; schedules are not here."""
        parts = re.sub(r"\[\d+\]", "", path).split(".")
        if parts[0] != "triggers" or len(parts) < 2 or parts[1] == "schedules":
            return None
        if parts[1:] == ["merge_request", "events"]:
            return "merge_request_events"
        if len(parts) == 2:
            return parts[1]
        if len(parts) == 3 and parts[2] == "enabled":
            return f"{parts[1]}_enabled"
        return "_".join(parts[1:4])


class ScheduleForm(StyledFormMixin, forms.Form):
    """One time point (T5): on/off, days of the week, time of day."""

    enabled = forms.BooleanField(label=_("On"), required=False, initial=True)
    days = forms.MultipleChoiceField(
        label=_("Days"),
        required=False,
        choices=[(d, DAY_LABELS[d]) for d in DAYS],
        widget=forms.CheckboxSelectMultiple,
    )
    time = forms.CharField(
        label=_("Time"), required=False, max_length=8, widget=forms.TimeInput(attrs={"type": "time"})
    )

    def to_schedule(self) -> dict:
        time = (self.cleaned_data.get("time") or "")[:5]
        return {"enabled": self.cleaned_data["enabled"], "days": self.cleaned_data["days"], "time": time}


ScheduleFormSet = forms.formset_factory(ScheduleForm, extra=1, can_delete=True, max_num=50, absolute_max=50)


class NotificationsForm(StyledFormMixin, forms.Form):
    """N1: events × channels (in-app feed, email)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for event in NOTIFICATION_EVENTS:
            for channel, label in (("in_app", _("In-app")), ("email", _("Email"))):
                self.fields[f"{event}__{channel}"] = forms.BooleanField(
                    label=f"{EVENT_LABELS[event]} · {label}", required=False
                )
        self.rows = [
            (event, EVENT_LABELS[event], self[f"{event}__in_app"], self[f"{event}__email"])
            for event in NOTIFICATION_EVENTS
        ]

    @staticmethod
    def initial_for(notifications: dict) -> dict:
        return {
            f"{event}__{channel}": bool(notifications.get(event, {}).get(channel))
            for event in NOTIFICATION_EVENTS
            for channel in ("in_app", "email")
        }

    def to_notifications(self) -> dict:
        return {
            event: {channel: self.cleaned_data[f"{event}__{channel}"] for channel in ("in_app", "email")}
            for event in NOTIFICATION_EVENTS
        }

    @staticmethod
    def field_for(path: str) -> str | None:
        parts = path.split(".")
        return f"{parts[1]}__{parts[2]}" if len(parts) == 3 and parts[0] == "notifications" else None


class AddPersonForm(StyledFormMixin, forms.Form):
    """A1: give one project member their own permission row (it starts from their role's rights)."""

    user = forms.TypedChoiceField(label=_("Member"), coerce=int)

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [("", _("Choose a member…"))] + [
            (m.user_id, f"{m.user.username} ({m.get_role_display()})") for m in members
        ]
