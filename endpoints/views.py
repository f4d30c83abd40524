"""Pages of Settings › General › Service Endpoints and › Credentials (SPEC §2, E1–E8).

Thin: the project comes through ``ProjectViewMixin``, each endpoint or credential through
``get_object_for_action`` on the restricted queryset (404 invisible, 403 not allowed), and all
work through ``endpoints.services``; its ``ValidationError`` lands on the form's fields.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.generic import FormView, TemplateView

from devops_console.core.permissions import ADMINISTER, CHANGE, DELETE, USE, VIEW, can, get_object_for_action
from devops_console.core.views_mixins import ProjectViewMixin, apply_errors
from endpoints import services
from endpoints.forms import ScopeForm, credential_form_class, endpoint_form_class
from endpoints.models import AuditEntry, Credential, ServiceEndpoint
from endpoints.types import CREDENTIAL_KINDS, TYPES

EXPIRES_SOON_DAYS = 30
AUDIT_LIMIT = 100

#: who may press "Verify connection": whoever may use the endpoint (E3 "use"), exactly as the REST API's
#: ``POST …/endpoints/{id}/verify/`` (API.md: pages and API share the same permission checks).
VERIFY_ACTION = USE


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _summary(endpoint) -> str:
    """The URL (or the nearest thing to one) of an endpoint, for the list."""
    config = endpoint.config or {}
    for key in ("url", "api_url", "client_id"):
        if config.get(key):
            return config[key]
    return ""


# --------------------------------------------------------------------------- endpoints


class EndpointMixin(ProjectViewMixin):
    nav_section = "endpoints"
    #: the right needed on the endpoint (``endpoint_post_action`` for POST when set)
    endpoint_action = VIEW
    endpoint_post_action: str | None = None

    def get_endpoint(self) -> ServiceEndpoint:
        if not hasattr(self, "_endpoint"):
            action = self.endpoint_action
            if self.request.method == "POST" and self.endpoint_post_action:
                action = self.endpoint_post_action
            queryset = ServiceEndpoint.objects.filter(project=self.project).select_related("credential", "created_by")
            self._endpoint = get_object_for_action(queryset, self.request.user, action, pk=self.kwargs["endpoint_id"])
        return self._endpoint

    def endpoint_url(self, endpoint=None) -> str:
        return reverse("endpoint-detail", args=[self.project.pk, (endpoint or self.get_endpoint()).pk])


class EndpointListView(EndpointMixin, TemplateView):
    """The endpoints the user may see, with status; "Create Endpoint" lists every type (E1)."""

    template_name = "endpoints/endpoint_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        visible = ServiceEndpoint.objects.restrict(user, VIEW).filter(project=self.project)
        type_filter = self.request.GET.get("type", "")
        if type_filter not in TYPES:
            type_filter = ""
        queryset = visible.select_related("credential", "created_by").order_by("name")
        if type_filter:
            queryset = queryset.filter(type=type_filter)
        rows = []
        for endpoint in queryset:
            rows.append({"endpoint": endpoint, "etype": TYPES.get(endpoint.type), "summary": _summary(endpoint)})
        context.update(
            rows=rows,
            types=list(TYPES.values()),
            type_filter=type_filter,
            any_endpoints=bool(rows) or (bool(type_filter) and visible.exists()),
        )
        return context


class EndpointCreateView(EndpointMixin, FormView):
    """Create Endpoint › <type>: a form generated from the type's registry entry (E1, E6)."""

    template_name = "endpoints/endpoint_form.html"

    def get_form_class(self):
        if self.kwargs["type_key"] not in TYPES:
            raise Http404
        return endpoint_form_class(self.kwargs["type_key"])

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "project": self.project}

    def form_valid(self, form):
        data = form.service_data()
        try:
            endpoint = services.create_endpoint(self.request.user, self.project, data)
        except ValidationError as exc:
            apply_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("Service endpoint “%(name)s” created.") % {"name": endpoint.name})
        return redirect("endpoint-detail", project_id=self.project.pk, endpoint_id=endpoint.pk)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["etype"] = TYPES[self.kwargs["type_key"]]
        return context


class EndpointDetailView(EndpointMixin, TemplateView):
    """Plain fields, scope, status with Verify, where it is used, the audit trail (E3, E5, E7, E8)."""

    template_name = "endpoints/endpoint_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        endpoint = self.get_endpoint()
        context.update(endpoint_context(self.request.user, endpoint))
        return context


def endpoint_context(user, endpoint) -> dict:
    etype = TYPES[endpoint.type]
    values = services.plain_fields(endpoint)
    plain = [{"spec": spec, "value": values.get(spec.name, "")} for spec in etype.plain_fields()]
    return {
        "endpoint": endpoint,
        "etype": etype,
        "plain": plain,
        "secret_specs": etype.secret_fields(),
        "members": services.members_of(endpoint) if endpoint.scope == "custom" else [],
        "usages": services.usages(endpoint),
        "audit": AuditEntry.objects.filter(endpoint=endpoint).select_related("actor")[:AUDIT_LIMIT],
        "can_change": can(user, endpoint, CHANGE),
        "can_delete": can(user, endpoint, DELETE),
        "can_administer": can(user, endpoint, ADMINISTER),
        "can_verify": can(user, endpoint, VERIFY_ACTION),
    }


class EndpointEditView(EndpointMixin, FormView):
    """Edit: plain fields shown, secrets never (an empty secret keeps the stored one, E5)."""

    template_name = "endpoints/endpoint_form.html"
    endpoint_action = CHANGE

    def get_form_class(self):
        return endpoint_form_class(self.get_endpoint().type)

    def get_form_kwargs(self):
        endpoint = self.get_endpoint()
        user = self.request.user
        return {
            **super().get_form_kwargs(),
            "user": user,
            "project": self.project,
            "endpoint": endpoint,
            "can_change_credential": can(user, endpoint.credential, CHANGE),
            "can_administer": can(user, endpoint, ADMINISTER),
        }

    def form_valid(self, form):
        data = form.service_data()
        if form.errors:
            return self.form_invalid(form)
        # a fresh copy: a refused update must leave the page's object (and the database) unchanged
        endpoint = ServiceEndpoint.objects.select_related("credential").get(pk=self.get_endpoint().pk)
        try:
            with transaction.atomic():
                services.update_endpoint(self.request.user, endpoint, data)
                if form.clears_expiry():
                    services.update_credential(self.request.user, endpoint.credential, {"expires_at": None})
        except ValidationError as exc:
            apply_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("Service endpoint “%(name)s” saved.") % {"name": endpoint.name})
        return redirect(self.endpoint_url(endpoint))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["endpoint"] = self.get_endpoint()
        context["etype"] = TYPES[context["endpoint"].type]
        return context


class InUseDeleteView(TemplateView):
    """POST-only delete through a service that refuses while the object is used (E8): the page again with the
    list of its users (409), else a message and a redirect to the list."""

    http_method_names = ["post"]
    deleted_message = ""  # with %(name)s
    list_url_name = ""

    def target(self):
        raise NotImplementedError

    def delete(self, obj) -> None:
        raise NotImplementedError

    def refused_context(self, obj, exc) -> dict:
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        obj = self.target()
        name = obj.name
        try:
            self.delete(obj)
        except services.EndpointInUse as exc:
            context = self.get_context_data(**kwargs)
            context.update(self.refused_context(obj, exc))
            return TemplateResponse(request, self.template_name, context, status=409)
        messages.success(request, self.deleted_message % {"name": name})
        return redirect(self.list_url_name, project_id=self.project.pk)


class EndpointDeleteView(EndpointMixin, InUseDeleteView):
    """Delete (POST); refused with the list of users while the endpoint is used (E8)."""

    template_name = "endpoints/endpoint_detail.html"
    endpoint_action = DELETE
    deleted_message = _lazy("Service endpoint “%(name)s” deleted.")
    list_url_name = "endpoint-list"

    def target(self):
        return self.get_endpoint()

    def delete(self, obj) -> None:
        services.delete_endpoint(self.request.user, obj)

    def refused_context(self, obj, exc) -> dict:
        return {**endpoint_context(self.request.user, obj), "delete_refused": exc.usages}


class EndpointVerifyView(EndpointMixin, TemplateView):
    """Verify connection (E7): really talk to the service, record and show the status.

    With htmx only the status badge is swapped; without JS the page is reloaded with a message.
    """

    template_name = "endpoints/_status.html"
    endpoint_action = VERIFY_ACTION
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        endpoint = self.get_endpoint()
        result = services.verify_endpoint(request.user, endpoint)
        if _is_htmx(request):
            return TemplateResponse(request, self.template_name, {"endpoint": endpoint, "can_verify": True})
        text = _("Connection verified: %(status)s.") % {"status": endpoint.get_status_display()}
        if result.detail:
            text = f"{text} {result.detail}"
        (messages.success if result.status == 0 else messages.warning)(request, text)
        return redirect(self.endpoint_url(endpoint))


class EndpointPermissionsView(EndpointMixin, FormView):
    """Scope and custom members (E3); only for those who administer the endpoint."""

    template_name = "endpoints/endpoint_permissions.html"
    form_class = ScopeForm
    endpoint_action = ADMINISTER

    def get_initial(self):
        endpoint = self.get_endpoint()
        return {"scope": endpoint.scope, "members": services.members_of(endpoint)}

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "project": self.project}

    def form_valid(self, form):
        scope, members = form.service_args()
        endpoint = ServiceEndpoint.objects.get(pk=self.get_endpoint().pk)
        try:
            services.set_scope(self.request.user, endpoint, scope, members)
        except ValidationError as exc:
            apply_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("Permissions of “%(name)s” saved.") % {"name": endpoint.name})
        return redirect(self.endpoint_url(endpoint))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["endpoint"] = self.get_endpoint()
        context["etype"] = TYPES[context["endpoint"].type]
        return context


# --------------------------------------------------------------------------- credentials


class CredentialMixin(ProjectViewMixin):
    nav_section = "credentials"
    credential_action = VIEW

    def get_credential(self) -> Credential:
        if not hasattr(self, "_credential"):
            queryset = Credential.objects.filter(project=self.project).select_related("owner")
            self._credential = get_object_for_action(
                queryset, self.request.user, self.credential_action, pk=self.kwargs["credential_id"]
            )
        return self._credential


def credential_rows(user, project) -> list[dict]:
    today = timezone.localdate()
    soon = today + timedelta(days=EXPIRES_SOON_DAYS)
    queryset = (
        Credential.objects.restrict(user, VIEW)
        .filter(project=project)
        .select_related("owner")
        .annotate(endpoint_count=Count("endpoints"))
        .order_by("name")
    )
    changeable = set(Credential.objects.restrict(user, CHANGE).filter(project=project).values_list("pk", flat=True))
    deletable = set(Credential.objects.restrict(user, DELETE).filter(project=project).values_list("pk", flat=True))
    rows = []
    for credential in queryset:
        expires = credential.expires_at
        rows.append(
            {
                "credential": credential,
                "kind_label": CREDENTIAL_KINDS.get(credential.kind, credential.kind),
                "expired": expires is not None and expires < today,
                "expires_soon": expires is not None and today <= expires <= soon,
                "can_change": credential.pk in changeable,
                "can_delete": credential.pk in deletable,
            }
        )
    return rows


class CredentialListView(CredentialMixin, TemplateView):
    """The credentials the user may see (E4): kind, identity, owner, sharing, expiry, use."""

    template_name = "endpoints/credential_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["rows"] = credential_rows(self.request.user, self.project)
        context["kinds"] = list(CREDENTIAL_KINDS.items())
        context["expires_soon_days"] = EXPIRES_SOON_DAYS
        return context


class CredentialCreateView(CredentialMixin, FormView):
    template_name = "endpoints/credential_form.html"

    def get_kind(self) -> str:
        kind = (self.request.POST if self.request.method == "POST" else self.request.GET).get("kind", "")
        return kind if kind in CREDENTIAL_KINDS else next(iter(CREDENTIAL_KINDS))

    def get_form_class(self):
        return credential_form_class(self.get_kind())

    def get_initial(self):
        return {"kind": self.get_kind()}

    def form_valid(self, form):
        try:
            credential = services.create_credential(self.request.user, self.project, form.service_data())
        except ValidationError as exc:
            apply_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("Credential “%(name)s” created.") % {"name": credential.name})
        return redirect("credential-list", project_id=self.project.pk)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        kind = self.get_kind()
        context.update(kind=kind, kind_label=CREDENTIAL_KINDS[kind], kinds=list(CREDENTIAL_KINDS.items()))
        context["kind_types"] = [t for t in TYPES.values() if t.credential_kind == kind]
        return context


class CredentialEditView(CredentialMixin, FormView):
    """Rename, share, expiry, replace the secret (empty keeps it; a new one repairs every endpoint, E4)."""

    template_name = "endpoints/credential_form.html"
    credential_action = CHANGE

    def get_form_class(self):
        return credential_form_class(self.get_credential().kind)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "credential": self.get_credential()}

    def form_valid(self, form):
        credential = Credential.objects.get(pk=self.get_credential().pk)
        try:
            services.update_credential(self.request.user, credential, form.service_data())
        except ValidationError as exc:
            apply_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("Credential “%(name)s” saved.") % {"name": credential.name})
        return redirect("credential-list", project_id=self.project.pk)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        credential = self.get_credential()
        kind = credential.kind
        context.update(
            credential=credential,
            kind=kind,
            kind_label=CREDENTIAL_KINDS.get(kind, kind),
            usage=services.credential_usage(credential, self.request.user),
            kind_types=[t for t in TYPES.values() if t.credential_kind == kind],
        )
        return context


class CredentialDeleteView(CredentialMixin, InUseDeleteView):
    """Delete (POST); refused while endpoints use the credential, with their list (E8)."""

    template_name = "endpoints/credential_list.html"
    credential_action = DELETE
    deleted_message = _lazy("Credential “%(name)s” deleted.")
    list_url_name = "credential-list"

    def target(self):
        return self.get_credential()

    def delete(self, obj) -> None:
        services.delete_credential(self.request.user, obj)

    def refused_context(self, obj, exc) -> dict:
        return {
            "rows": credential_rows(self.request.user, self.project),
            "kinds": list(CREDENTIAL_KINDS.items()),
            "expires_soon_days": EXPIRES_SOON_DAYS,
            "delete_refused": {"credential": obj, "usages": exc.usages},
        }
