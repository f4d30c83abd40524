"""What the run pages and the runs API share: the start form (X1), the history filter (X4), the actions
on a run (X2, X5–X7) with their refusals, and the fresh-run request (X5)."""

from __future__ import annotations

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from devops_console.core.formstyle import StyledFormMixin
from pipelines.runs.models import State, Trigger
from pipelines.runs.start import GATE_TASK_TYPES

REPO_KINDS = ("repo", "git", "github_app")
RUN_STATES = [State.QUEUED, State.RUNNING, State.WAITING, State.SUCCEEDED, State.FAILED, State.STOPPED]
DEFAULT_DAYS, MAX_DAYS, SHORTCUTS = 7, 31, (7, 14, 31)
PARAM_PREFIX = "param__"


def task_rows(definition: dict) -> list[dict]:
    """Stages with their tasks for the task picker: ``locked`` tasks are always selected (X1)."""
    stages = []
    for stage in definition.get("stages", []):
        rows = []
        for task in stage["tasks"]:
            always = bool(stage.get("always_run"))
            gate = bool(stage.get("gates")) and task["type"] in GATE_TASK_TYPES
            rows.append(
                {
                    "key": f"{stage['name']}/{task['name']}",
                    "name": task["name"],
                    "type": task["type"],
                    "locked": always or gate,
                    "why": _l("always-run stage") if always else (_l("gate task") if gate else ""),
                }
            )
        stages.append({"name": stage["name"], "always_run": stage.get("always_run"), "tasks": rows})
    return stages


class StartRunForm(StyledFormMixin, forms.Form):
    """X1: branch or tag (tags only with a repository source), the tasks, the runtime parameters."""

    ref_kind = forms.ChoiceField(
        label=_l("Run on"),
        choices=[("branch", _l("Branch")), ("tag", _l("Tag"))],
        initial="branch",
        required=False,
        widget=forms.RadioSelect,
    )
    branch = forms.CharField(label=_l("Branch"), max_length=255, required=False)
    tag = forms.CharField(label=_l("Tag"), max_length=255, required=False)
    tasks = forms.MultipleChoiceField(label=_l("Tasks"), required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, pipeline, host_groups=(), **kwargs):
        super().__init__(*args, **kwargs)
        definition = pipeline.definition
        self.repo_sources = [s for s in definition.get("sources", []) if s.get("kind") in REPO_KINDS]
        self.stages = task_rows(definition)
        keys = [t["key"] for s in self.stages for t in s["tasks"]]
        self.locked = {t["key"] for s in self.stages for t in s["tasks"] if t["locked"]}
        self.fields["tasks"].choices = [(k, k) for k in keys]
        self.fields["tasks"].initial = keys
        if self.repo_sources:
            self.fields["branch"].initial = self.repo_sources[0].get("default_branch", "")
        else:
            del self.fields["tag"], self.fields["ref_kind"]
        self.runtime = [p for p in definition.get("parameters", []) if p.get("runtime")]
        for param in self.runtime:
            field = self.fields[PARAM_PREFIX + param["name"]] = self._param_field(param, host_groups)
            field.widget.attrs["class"] = "form-select" if isinstance(field, forms.ChoiceField) else "form-control"

    @staticmethod
    def _param_field(param: dict, host_groups) -> forms.Field:
        label, help_text = param["name"], param.get("description", "")
        if param["type"] == "enum":
            choices = [(c, c) for c in param["choices"]]
            return forms.ChoiceField(label=label, choices=choices, initial=param["default"], help_text=help_text)
        if param["type"] == "host_group":
            names = sorted({*host_groups, param["default"]} - {""})
            return forms.ChoiceField(label=label, choices=[(n, n) for n in names], initial=param["default"])
        if param.get("secret"):
            help_text = _("Secret: leave empty to use the stored value.")
            return forms.CharField(
                label=label, required=False, max_length=1000, widget=forms.PasswordInput, help_text=help_text
            )
        return forms.CharField(
            label=label, required=False, max_length=1000, initial=param["default"], help_text=help_text
        )

    def param_fields(self):
        return [(p, self[PARAM_PREFIX + p["name"]]) for p in self.runtime]

    def clean(self):
        data = super().clean()
        if data.get("ref_kind") == "tag" and not (data.get("tag") or "").strip():
            self.add_error("tag", _("Give the tag to run on."))
        chosen = set(data.get("tasks") or [])
        if self.fields["tasks"].choices and not (chosen | self.locked):
            self.add_error("tasks", _("Select at least one task."))
        return data

    def start_kwargs(self) -> dict:
        data = self.cleaned_data
        as_tag = data.get("ref_kind") == "tag"
        chosen = set(data.get("tasks") or [])
        free = {k for k, _label in self.fields["tasks"].choices} - self.locked
        tasks = None if free <= chosen else sorted(chosen | self.locked)
        parameters = {}
        for param in self.runtime:
            value = data.get(PARAM_PREFIX + param["name"])
            if param.get("secret") and not value:
                continue
            parameters[param["name"]] = value or ""
        return {
            "branch": None if as_tag else (data.get("branch") or "").strip() or None,
            "tag": (data.get("tag") or "").strip() or None if as_tag else None,
            "parameters": parameters,
            "tasks": tasks,
        }

    def apply_errors(self, exc: ValidationError) -> None:
        for key, messages in exc.message_dict.items():
            field = PARAM_PREFIX + key.split(".", 1)[1] if key.startswith("parameters.") else key
            self.add_error(field if field in self.fields else None, messages)


class HistoryFilterForm(StyledFormMixin, forms.Form):
    """X4: a date range (default the last 7 days, at most 31), shortcuts 7/14/31; state, trigger, user."""

    days = forms.TypedChoiceField(choices=[(str(d), str(d)) for d in SHORTCUTS], coerce=int, required=False)
    since = forms.DateField(label=_l("From"), required=False)
    until = forms.DateField(label=_l("To"), required=False)
    state = forms.ChoiceField(
        label=_l("State"), required=False, choices=[("", _l("Any state"))] + [(s.value, s.label) for s in RUN_STATES]
    )
    trigger = forms.ChoiceField(
        label=_l("Trigger"), required=False, choices=[("", _l("Any trigger")), *Trigger.choices]
    )
    user = forms.CharField(label=_l("Started by"), required=False, max_length=150)

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        since, until, days = data.get("since"), data.get("until"), data.get("days")
        if days and not since and not until:
            since, until = today - datetime.timedelta(days=days - 1), today
        until = until or today
        since = since or until - datetime.timedelta(days=DEFAULT_DAYS - 1)
        if since > until:
            raise ValidationError({"since": [_("The start of the range is after its end.")]})
        if (until - since).days + 1 > MAX_DAYS:
            raise ValidationError(
                {"since": [_("Show at most %(n)s days at a time; narrow the date range.") % {"n": MAX_DAYS}]}
            )
        data["since"], data["until"] = since, until
        return data

    def window(self) -> tuple[datetime.datetime, datetime.datetime]:
        tz = timezone.get_current_timezone()
        start = datetime.datetime.combine(self.cleaned_data["since"], datetime.time.min, tzinfo=tz)
        end = datetime.datetime.combine(
            self.cleaned_data["until"] + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz
        )
        return start, end

    def filter(self, queryset):
        start, end = self.window()
        queryset = queryset.filter(created__gte=start, created__lt=end)
        data = self.cleaned_data
        if data.get("state"):
            queryset = queryset.filter(state=data["state"])
        if data.get("trigger"):
            queryset = queryset.filter(trigger=data["trigger"])
        if data.get("user"):
            queryset = queryset.filter(triggered_by__username=data["user"])
        return queryset


def first_error(form: forms.Form) -> str:
    for errors in form.errors.values():
        return str(errors[0])
    return ""
