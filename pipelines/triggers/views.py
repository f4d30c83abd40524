"""The pipeline's Webhooks page (``settings/webhooks/``, T1–T6): the receiver URL per provider with copy
buttons and set-up help, "generate a new secret" (shown once), the delivery log with per-file verdicts,
and the T4 dry-run form.

Viewing and the dry run need VIEW; generating a secret needs CHANGE (403 otherwise, A6).
"""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy
from encrypted_model_fields.fields import decrypt_str, encrypt_str
from rest_framework.exceptions import ValidationError as ApiValidationError

from devops_console.core.formstyle import StyledFormMixin
from devops_console.core.permissions import CHANGE, VIEW
from pipelines.views.base import url_or_none
from pipelines.views.config import SettingsView

from .api import dry_run, webhook_info
from .deliveries import generate_secret
from .matching import KINDS, MR_ACTIONS
from .models import Delivery

PAGE_SIZE = 25
PROVIDER_HELP = [
    (
        "github",
        "GitHub",
        gettext_lazy(
            "Repository › Settings › Webhooks › Add webhook. Payload URL: this URL; content type "
            "application/json; Secret: the webhook secret (signs each delivery, X-Hub-Signature-256). Events: "
            "pushes and pull requests (a new tag arrives as a push)."
        ),
    ),
    (
        "gitlab",
        "GitLab",
        gettext_lazy(
            "Project › Settings › Webhooks. URL: this URL; Secret token: the webhook secret (sent as "
            "X-Gitlab-Token). Triggers: push events, tag push events, merge request events."
        ),
    ),
    (
        "gitee",
        "Gitee",
        gettext_lazy(
            "Repository › Manage › WebHooks. URL: this URL; WebHook password or signing key: the webhook "
            "secret (X-Gitee-Token). Events: Push, Tag Push, Pull Request."
        ),
    ),
    (
        "codeup",
        "Codeup",
        gettext_lazy(
            "Repository › Settings › Webhooks. URL: this URL; Secret Token: the webhook secret (X-Codeup-Token). "
            "Triggers: push events, tag push events, merge request events."
        ),
    ),
    (
        "generic",
        gettext_lazy("Any other tool"),
        gettext_lazy(
            'POST JSON {"event": "push" | "tag" | "merge_request", "branch", "tag", "target_branch", "action", '
            '"commit", "before", "files", "sender", "delivery_id"} with the secret in the X-Webhook-Secret header. '
            "Without “files”, the changed files are computed from the repository."
        ),
    ),
]


class DryRunForm(StyledFormMixin, forms.Form):
    event = forms.ChoiceField(label=gettext_lazy("Event"), choices=[(k, k) for k in KINDS])
    branch = forms.CharField(label=gettext_lazy("Branch"), required=False, max_length=255)
    tag = forms.CharField(label=gettext_lazy("Tag"), required=False, max_length=255)
    target_branch = forms.CharField(label=gettext_lazy("Target branch"), required=False, max_length=255)
    action = forms.ChoiceField(
        label=gettext_lazy("Merge request event"), required=False, choices=[("", "—"), *[(a, a) for a in MR_ACTIONS]]
    )
    files = forms.CharField(
        label=gettext_lazy("Changed files"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "src/app.py\ndocs/index.md"}),
        help_text=gettext_lazy("One path per line."),
    )

    def to_request(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k != "files" and v}
        data["event"] = self.cleaned_data["event"]
        data["files"] = [line.strip() for line in self.cleaned_data["files"].splitlines() if line.strip()]
        return data


class WebhooksView(SettingsView):
    template_name = "triggers/webhooks.html"
    tab = "webhooks"
    http_method_names = ["get"]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)  # the settings tabs, Webhooks among them
        info = webhook_info(self.request, self.pipeline)
        providers = [(key, label, info["urls"][key], help_text) for key, label, help_text in PROVIDER_HELP]
        status = self.request.GET.get("status", "")
        deliveries = Delivery.objects.restrict(self.request.user, VIEW).filter(pipeline=self.pipeline)
        if status in Delivery.Status.values:
            deliveries = deliveries.filter(status=status)
        paginator = Paginator(deliveries.select_related("run").order_by("-received_at", "-pk"), PAGE_SIZE)
        page = paginator.get_page(self.request.GET.get("page"))
        triggers = self.pipeline.definition.get("triggers") or {}
        context.update(
            info=info,
            providers=providers,
            page_obj=page,
            deliveries=page.object_list,
            is_paginated=page.has_other_pages(),
            status=status,
            statuses=Delivery.Status.choices,
            rules=[(kind, triggers.get(kind) or {}) for kind in KINDS],
            plan_url=url_or_none("pipeline-settings-triggers", self.project.pk, self.pipeline.pk),
            form=kwargs.get("form") or DryRunForm(initial={"event": "push"}),
        )
        return context

    def get(self, request, *args, **kwargs):
        token = request.session.pop(_session_key(self.pipeline), None)
        new_secret = decrypt_str(token) if token else None
        return self.render_to_response(self.get_context_data(new_secret=new_secret))


def _session_key(pipeline) -> str:
    return f"webhook-secret-{pipeline.pk}"


class WebhookSecretView(WebhooksView):
    """POST: a new secret (modify), then back to the page, which shows it this once."""

    http_method_names = ["post"]
    pipeline_post_action = CHANGE

    def post(self, request, *args, **kwargs):
        secret = generate_secret(self.pipeline)
        # Post/redirect/get: a reload must never generate another secret. The page shows it once, from
        # the session, where it waits encrypted until that next GET.
        request.session[_session_key(self.pipeline)] = encrypt_str(secret.secret).decode()
        return redirect("pipeline-webhooks", project_id=self.project.pk, pipeline_id=self.pipeline.pk)


class DryRunView(WebhooksView):
    """POST: what the current rules decide for the event described (view is enough)."""

    http_method_names = ["post"]
    pipeline_post_action = VIEW

    def post(self, request, *args, **kwargs):
        form = DryRunForm(request.POST)
        result = None
        if form.is_valid():
            try:
                result = dry_run(self.pipeline, form.to_request())
            except ApiValidationError as exc:
                for field, messages in exc.detail.items():
                    form.add_error(field if field in form.fields else None, [str(m) for m in messages])
        if request.headers.get("HX-Request"):
            self.template_name = "triggers/_dry_run.html"
        return self.render_to_response(self.get_context_data(form=form, result=result))
