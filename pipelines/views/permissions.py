"""Permissions tab (A1–A5): roles × view/execute/modify/delete and persons × the same.

Each checkbox click posts one change through htmx (``PermissionToggleView``); the server applies it with
its A4 cascade (``permissions.set_permissions`` → ``toggle``) and sends the row back, so the page shows
the cascade at once. Without JavaScript, Save posts the whole matrix, read as changes against the stored
state (API.md). Locked rows (A5: project creator, pipeline creator) and "view" (A3) cannot change.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.generic import TemplateView

from devops_console.core.models import Membership, Role
from pipelines import permissions
from pipelines.forms import AddPersonForm
from pipelines.views.base import PipelineViewMixin
from pipelines.views.config import SettingsView

CHANGEABLE = ("execute", "modify", "delete")
FLAG_LABELS = {"view": _l("View"), "execute": _l("Execute"), "modify": _l("Modify"), "delete": _l("Delete")}


def _cells(flags: dict) -> list[tuple[str, bool]]:
    return [(flag, bool(flags.get(flag))) for flag in permissions.FLAGS]


def role_rows(pipeline) -> list[dict]:
    flags = permissions.role_flags(pipeline)
    return [
        {
            "kind": "role",
            "key": str(role),
            "label": role.label,
            "cells": _cells(flags[str(role)]),
            "locked": role == Role.CREATOR,
        }
        for role in Role
    ]


def person_rows(pipeline, memberships: dict) -> list[dict]:
    """Locked users first (all on), then everyone with their own setting (A2)."""
    locked = permissions.locked_user_ids(pipeline)
    own = permissions.person_flags(pipeline)
    rows = []
    for user_id in sorted(locked | set(own), key=lambda uid: (uid not in locked, _name(memberships, uid))):
        membership = memberships.get(user_id)
        if membership is None:
            continue  # a former member (the pipeline creator may have left the project)
        rows.append(
            {
                "kind": "user",
                "key": str(user_id),
                "label": membership.user.username,
                "role": membership.get_role_display(),
                "cells": _cells(permissions.ALL if user_id in locked else own[user_id]),
                "locked": user_id in locked,
                "why": _locked_reason(pipeline, user_id),
            }
        )
    return rows


def _locked_reason(pipeline, user_id) -> str:
    if user_id == pipeline.project.creator_id:
        return _("project creator")
    if user_id == pipeline.creator_id:
        return _("pipeline creator")
    return ""


def _name(memberships, user_id):
    membership = memberships.get(user_id)
    return membership.user.username if membership else ""


def _memberships(pipeline) -> dict:
    queryset = Membership.objects.filter(project_id=pipeline.project_id).select_related("user")
    return {m.user_id: m for m in queryset.order_by("user__username")}


def _requested(post, kind: str, key: str) -> dict:
    return {flag: f"{kind}-{key}-{flag}" in post for flag in CHANGEABLE}


class PermissionsView(SettingsView):
    template_name = "pipelines/settings/permissions.html"
    tab = "permissions"

    def get(self, request, *args, **kwargs):
        return self.render()

    def post(self, request, *args, **kwargs):
        action = request.POST.get("action", "save")
        memberships = _memberships(self.pipeline)
        if action == "add_person":
            form = self.add_form(memberships, request.POST)
            if not form.is_valid():
                return self.render(add_form=form)
            permissions.set_permissions(self.pipeline, users={form.cleaned_data["user"]: {}}, actor=self.request.user)
            messages.success(request, _("Added a person row; it starts from the member's role rights."))
        elif action == "remove_person":
            user_id = request.POST.get("user", "")
            if user_id.isascii() and user_id.isdigit() and int(user_id) in memberships:
                permissions.reset_person(self.pipeline, int(user_id))
                messages.success(request, _("The person now has their role's rights again."))
        else:
            roles = {str(r): _requested(request.POST, "role", str(r)) for r in Role if r != Role.CREATOR}
            own = permissions.person_flags(self.pipeline)
            locked = permissions.locked_user_ids(self.pipeline)
            shown = set(request.POST.getlist("rows"))  # only rows the page showed (one added meanwhile stays)
            users = {
                uid: _requested(request.POST, "user", str(uid))
                for uid in own
                if uid not in locked and f"user-{uid}" in shown
            }
            permissions.set_permissions(self.pipeline, roles=roles, users=users, actor=self.request.user)
            messages.success(request, _("Permissions saved."))
        return redirect(request.path)

    def add_form(self, memberships, data=None):
        taken = permissions.locked_user_ids(self.pipeline) | set(permissions.person_flags(self.pipeline))
        candidates = [m for uid, m in memberships.items() if uid not in taken]
        return AddPersonForm(data, members=candidates)

    def render(self, add_form=None):
        memberships = _memberships(self.pipeline)
        context = self.get_context_data(
            role_rows=role_rows(self.pipeline),
            person_rows=person_rows(self.pipeline, memberships),
            add_form=add_form or self.add_form(memberships),
            flag_labels=FLAG_LABELS.items(),
        )
        return self.render_to_response(context)


class PermissionToggleView(PipelineViewMixin, TemplateView):
    """htmx: one checkbox click → ``toggle`` with its cascade → the re-rendered row."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        kind, key, flag = request.POST.get("kind"), request.POST.get("key", ""), request.POST.get("flag")
        if flag not in permissions.FLAGS:
            return HttpResponseBadRequest("unknown flag")
        value = f"{kind}-{key}-{flag}" in request.POST
        memberships = _memberships(self.pipeline)
        if kind == "role" and key in Role.values:
            permissions.set_permissions(self.pipeline, roles={key: {flag: value}}, actor=self.request.user)
            row = next(r for r in role_rows(self.pipeline) if r["key"] == key)
        elif kind == "user" and key.isascii() and key.isdigit() and int(key) in memberships:
            permissions.set_permissions(self.pipeline, users={int(key): {flag: value}}, actor=self.request.user)
            row = next(r for r in person_rows(self.pipeline, memberships) if r["key"] == key)
        else:
            return HttpResponseBadRequest("unknown row")
        if not request.headers.get("HX-Request"):
            return redirect("pipeline-settings-permissions", project_id=self.project.pk, pipeline_id=self.pipeline.pk)
        context = {"row": row, "can_change": True, "project": self.project, "pipeline": self.pipeline}
        return render(request, "pipelines/settings/_permission_row.html", context)
