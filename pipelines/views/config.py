"""P4 configure tabs: basic information, execution plan (T1–T5) and notifications (N1).

Every tab: viewing needs VIEW, saving needs CHANGE (403 otherwise). Each save goes through
``services.update_pipeline(partial=True)`` with the edited top-level key; the service's path-keyed
errors land on the matching fields (or above the form), and the user's input is kept.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from pipelines import services
from pipelines.definition import empty_triggers
from pipelines.forms import (
    NotificationsForm,
    PipelineForm,
    ScheduleFormSet,
    TriggersForm,
    apply_definition_errors,
    split_path,
)
from pipelines.views.base import PipelineViewMixin, url_or_none

TABS = [
    ("basic", gettext_lazy("Basic information"), "pipeline-settings-basic"),
    ("parameters", gettext_lazy("Parameters"), "pipeline-settings-parameters"),
    ("triggers", gettext_lazy("Execution plan"), "pipeline-settings-triggers"),
    ("webhooks", gettext_lazy("Webhooks"), "pipeline-webhooks"),
    ("permissions", gettext_lazy("Permissions"), "pipeline-settings-permissions"),
    ("notifications", gettext_lazy("Notifications"), "pipeline-settings-notifications"),
    ("history", gettext_lazy("History"), "pipeline-settings-history"),
]


class SettingsView(PipelineViewMixin, TemplateView):
    tab = ""
    summary = ""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        args = [self.project.pk, self.pipeline.pk]
        context.update(
            tab=self.tab,
            tabs=[(key, label, url_or_none(name, *args)) for key, label, name in TABS],
            workflow_url=url_or_none("pipeline-workflow", *args),
            can_change=self.pipeline.can_change,
        )
        return context

    def save(self, data: dict):
        """Save the edited top-level keys; raises ValidationError (nothing saved) on error."""
        return services.update_pipeline(self.request.user, self.pipeline, data, partial=True, summary=self.summary)

    def saved(self):
        messages.success(self.request, _("Saved. The pipeline is now at version %(n)s.") % {"n": self.pipeline.version})
        return redirect(self.request.path)


class SettingsHomeView(PipelineViewMixin, TemplateView):
    """``settings/`` → the first tab (after the same permission check as every tab)."""

    http_method_names = ["get"]

    def get(self, request, *args, **kwargs):
        return redirect("pipeline-settings-basic", project_id=self.project.pk, pipeline_id=self.pipeline.pk)


class BasicView(SettingsView):
    template_name = "pipelines/settings/basic.html"
    tab = "basic"
    summary = gettext_lazy("basic information")

    def get(self, request, *args, **kwargs):
        form = PipelineForm(initial={"name": self.pipeline.name, "description": self.pipeline.description})
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request, *args, **kwargs):
        form = PipelineForm(request.POST)
        if form.is_valid():
            try:
                self.pipeline = self.save(form.to_definition())
                return self.saved()
            except ValidationError as exc:
                apply_definition_errors(form, exc, lambda path: path if path in ("name", "description") else None)
        return self.render_to_response(self.get_context_data(form=form))


def _stored_triggers(pipeline) -> dict:
    triggers = pipeline.definition.get("triggers") or empty_triggers()
    return {**empty_triggers(), **triggers}


class TriggersView(SettingsView):
    """Execution plan: push / tag / merge request triggers, up to 10 schedules, time zone (T1–T5)."""

    template_name = "pipelines/settings/triggers.html"
    tab = "triggers"
    summary = gettext_lazy("execution plan")

    def get(self, request, *args, **kwargs):
        triggers = _stored_triggers(self.pipeline)
        form = TriggersForm(initial=TriggersForm.initial_for(triggers))
        schedules = ScheduleFormSet(prefix="schedules", initial=triggers["schedules"])
        if len(triggers["schedules"]) >= 10:
            schedules.extra = 0
        return self.render(form, schedules)

    def post(self, request, *args, **kwargs):
        form = TriggersForm(request.POST)
        schedules = ScheduleFormSet(request.POST, prefix="schedules")
        if form.is_valid() and schedules.is_valid():
            rows, sent = [], []
            for row in schedules.forms:
                if row in schedules.deleted_forms or not row.cleaned_data:
                    continue  # removed, or the blank row left empty
                rows.append(row.to_schedule())
                sent.append(row)
            try:
                self.pipeline = self.save({"triggers": form.to_triggers(rows)})
                return self.saved()
            except ValidationError as exc:
                self.schedule_errors(exc, form, sent)
        return self.render(form, schedules)

    @staticmethod
    def schedule_errors(exc: ValidationError, form, sent: list) -> None:
        other = {}
        for path, errors in exc.message_dict.items():
            head, index, rest = split_path(path.removeprefix("triggers."))
            if path.startswith("triggers.schedules[") and index is not None and index < len(sent):
                field = rest.split("[")[0].split(".")[0] or None
                sent[index].add_error(field if field in sent[index].fields else None, errors)
            else:
                other[path] = errors
        if other:
            apply_definition_errors(form, ValidationError(other), TriggersForm.field_for)

    def render(self, form, schedules):
        groups = [
            ("push", _("On push"), [("branches", _("Branches")), ("paths", _("Paths"))]),
            ("tag", _("On tag creation"), [("tags", _("Tags"))]),
            ("merge_request", _("On merge request"), [("branches", _("Target branches")), ("paths", _("Paths"))]),
        ]
        triggers = [
            {
                "key": key,
                "label": label,
                "enabled": form[f"{key}_enabled"],
                "filters": [
                    (sub, form[f"{key}_{name}_include"], form[f"{key}_{name}_exclude"]) for name, sub in filters
                ],
            }
            for key, label, filters in groups
        ]
        context = self.get_context_data(form=form, schedules=schedules, triggers=triggers)
        return self.render_to_response(context)


class NotificationsView(SettingsView):
    """N1: pipeline deleted, run failed, run succeeded, configuration updated × in-app, email."""

    template_name = "pipelines/settings/notifications.html"
    tab = "notifications"
    summary = gettext_lazy("notifications")

    def get(self, request, *args, **kwargs):
        stored = self.pipeline.definition.get("notifications") or {}
        form = NotificationsForm(initial=NotificationsForm.initial_for(stored))
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request, *args, **kwargs):
        form = NotificationsForm(request.POST)
        if form.is_valid():
            try:
                self.pipeline = self.save({"notifications": form.to_notifications()})
                return self.saved()
            except ValidationError as exc:
                apply_definition_errors(form, exc, NotificationsForm.field_for)
        return self.render_to_response(self.get_context_data(form=form))
