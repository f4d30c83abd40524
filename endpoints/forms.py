"""Forms of the endpoint and credential pages.

The endpoint form is ONE class built per type from the ``TYPES`` registry (``endpoint_form_class``):
labels, help texts, placeholders, widgets and required marks come from each ``FieldSpec``; nothing
here names a type's fields. Forms only convert the request into the service's data dict
(``service_data``); the whole validation (E6) is the service's, mapped back with ``apply_errors``.

Secrets are write-only (E5): password inputs never render a value, secret text areas neither, and
no initial value ever holds a secret.
"""

from __future__ import annotations

from functools import cache

from django import forms
from django.utils.translation import gettext_lazy as _

from devops_console.core.formstyle import StyledFormMixin
from devops_console.core.models import Membership
from devops_console.core.permissions import USE
from endpoints import types
from endpoints.models import Credential, Scope
from endpoints.types import CREDENTIAL_KINDS, TYPES, EndpointType, FieldSpec

FILE_SUFFIX = "_file"
CA_BUNDLE_MAX = 256 * 1024


class SecretTextarea(forms.Textarea):
    """A text area for multi-line secrets (kubeconfig, PEM) that never renders its value (E5)."""

    def get_context(self, name, value, attrs):
        return super().get_context(name, None, attrs)


def _read_upload(upload, max_chars: int) -> tuple[str | None, str | None]:
    """The uploaded file's text, or an error message. Never echoes the content."""
    # UTF-8 needs at most 4 bytes a character; anything larger cannot pass the length rule anyway.
    if upload.size > max_chars * 4:
        return None, _("The file is too large: at most %(max)s characters.") % {"max": max_chars}
    raw = upload.read()
    try:
        return raw.decode("utf-8-sig").replace("\r\n", "\n"), None
    except UnicodeDecodeError:
        return None, _("The file is not UTF-8 text; upload the text file itself.")


def member_choices(project) -> list[tuple[str, str]]:
    memberships = Membership.objects.filter(project=project, user__is_active=True).select_related("user")
    return [
        (m.user.username, f"{m.user.username} · {m.get_role_display()}")
        for m in sorted(memberships, key=lambda m: m.user.username)
    ]


def credential_label(credential: Credential) -> str:
    parts = [credential.name]
    if credential.identity:
        parts.append(f"({credential.identity})")
    parts.append("· " + str(_("owner %(name)s") % {"name": credential.owner.username}))
    if credential.shared:
        parts.append("· " + str(_("shared")))
    return " ".join(parts)


# --------------------------------------------------------------------------- type fields


def spec_field(spec: FieldSpec) -> forms.Field:
    """The Django form field for one registry field. Never required at the form level: the
    service decides (an empty secret on edit means keep), and every error comes from one place."""
    attrs = {"placeholder": spec.placeholder} if spec.placeholder else {}
    attrs["autocomplete"] = "off"
    if spec.widget == "password":
        attrs["autocomplete"] = "new-password"
        widget = forms.PasswordInput(attrs=attrs, render_value=False)
    elif spec.widget in ("textarea", "file_or_textarea"):
        attrs.update(rows=6, spellcheck="false")
        if spec.widget == "file_or_textarea" and not spec.placeholder:
            attrs["placeholder"] = _("Paste the text here, or upload the file below.")
        attrs["class"] = "font-monospace"
        widget = SecretTextarea(attrs=attrs) if spec.is_secret else forms.Textarea(attrs=attrs)
    elif spec.widget == "url":
        widget = forms.URLInput(attrs=attrs)
    else:
        widget = forms.TextInput(attrs=attrs)
    field = forms.CharField(label=spec.label, help_text=spec.help_text, required=False, strip=False, widget=widget)
    field.spec = spec
    field.show_required = spec.required
    return field


def spec_file_field(spec: FieldSpec) -> forms.FileField:
    field = forms.FileField(
        label=_("… or upload the file"),
        required=False,
        widget=forms.FileInput(attrs={"accept": ".pem,.key,.yaml,.yml,.conf,.config,.txt,text/*"}),
    )
    field.spec = spec
    return field


class FileOrTextareaMixin:
    """``<name>_file`` uploads replace the text of their ``<name>`` field (``file_or_textarea``)."""

    def needs_reentry(self, name: str) -> bool:
        """A secret was sent but the form came back with errors: it is not rendered, so say so."""
        return bool(self.is_bound and self.errors and (self.data.get(name) or self.files.get(name + FILE_SUFFIX)))

    def file_specs(self) -> list[FieldSpec]:
        return [f.spec for name, f in self.fields.items() if name.endswith(FILE_SUFFIX) and hasattr(f, "spec")]

    def clean(self):
        cleaned = super().clean()
        for name, field in self.fields.items():
            # browsers submit text areas with CRLF line ends; PEM, kubeconfig and CA bundles want LF
            if isinstance(field.widget, forms.Textarea) and isinstance(cleaned.get(name), str):
                cleaned[name] = cleaned[name].replace("\r\n", "\n")
        for spec in self.file_specs():
            upload = cleaned.get(spec.name + FILE_SUFFIX)
            if not upload:
                continue
            text, error = _read_upload(upload, spec.max_length)
            if error:
                self.add_error(spec.name, error)
            else:
                cleaned[spec.name] = text
        return cleaned


# --------------------------------------------------------------------------- endpoint form


class EndpointFormBase(FileOrTextareaMixin, StyledFormMixin, forms.Form):
    """Common fields; ``endpoint_form_class`` adds the type's fields from the registry."""

    etype: EndpointType  # set on the generated subclass

    name = forms.CharField(
        label=_("Service endpoint name"),
        help_text=_("Unique within the project."),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    credential = forms.TypedChoiceField(
        label=_("Use an existing credential"),
        required=False,
        coerce=int,
        empty_value=None,
    )
    expires_at = forms.DateField(
        label=_("Expiry date"),
        required=False,
        help_text=_("When the credential stops working; verification then reports “overdue”. Optional."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    scope = forms.ChoiceField(
        label=_("Scope of use"),
        choices=Scope.choices,
        initial=Scope.PRIVATE,
        required=False,  # not sent: private on create, unchanged on edit
        widget=forms.RadioSelect,
    )
    members = forms.MultipleChoiceField(
        label=_("Members"),
        required=False,
        help_text=_("For the custom scope: the members who may see and use the endpoint."),
        widget=forms.CheckboxSelectMultiple,
    )
    ca_bundle = forms.CharField(
        label=_("CA bundle"),
        required=False,
        strip=False,
        help_text=_("PEM certificates to trust for a self-hosted service with a private CA."),
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "class": "font-monospace",
                "spellcheck": "false",
                "placeholder": "-----BEGIN CERTIFICATE-----",
            }
        ),
    )
    skip_tls_verify = forms.BooleanField(
        label=_("Skip TLS verification"),
        required=False,
        help_text=_("Only for test set-ups: the connection can then be intercepted."),
    )

    def __init__(self, *args, user, project, endpoint=None, can_change_credential=True, can_administer=True, **kwargs):
        self.user, self.project, self.endpoint = user, project, endpoint
        self.can_change_credential = can_change_credential
        self.can_administer = can_administer
        if endpoint is not None:
            kwargs["initial"] = {**self._initial(endpoint), **(kwargs.get("initial") or {})}
        super().__init__(*args, **kwargs)
        self.fields["name"].show_required = True
        credentials = (
            Credential.objects.restrict(user, USE)
            .filter(project=project, kind=self.etype.credential_kind)
            .select_related("owner")
        )
        choices = {c.pk: credential_label(c) for c in credentials}
        if endpoint is not None and endpoint.credential_id not in choices:
            choices[endpoint.credential_id] = credential_label(endpoint.credential)
        empty = _("— enter new credentials —") if endpoint is None else _("— keep the current credential —")
        self.fields["credential"].choices = [("", empty), *sorted(choices.items(), key=lambda c: c[1].lower())]
        self.has_credential_choices = bool(choices)
        self.fields["members"].choices = member_choices(project)
        if endpoint is not None:
            self.fields["credential"].help_text = _(
                "Switch to another credential of the same kind; the fields above then stay unchanged."
            )
            for spec in self.etype.secret_fields():
                self.fields[spec.name].help_text = _("%(help)s Leave empty to keep the stored value.") % {
                    "help": spec.help_text
                }
                self.fields[spec.name].show_required = False
            if not can_change_credential:
                for name in self.credential_field_names() + ["expires_at"]:
                    self.fields[name].disabled = True
            if not can_administer:
                self.fields["scope"].disabled = True
                self.fields["members"].disabled = True
        else:
            labels = ", ".join(str(s.label) for s in self.etype.credential_fields())
            self.fields["credential"].help_text = _(
                "Instead of entering %(fields)s, pick a credential you may use; leave those fields empty then."
            ) % {"fields": labels}

    def _initial(self, endpoint) -> dict:
        from endpoints import services

        initial = dict(services.plain_fields(endpoint))
        initial.update(
            name=endpoint.name,
            credential=endpoint.credential_id,
            expires_at=endpoint.credential.expires_at,
            scope=endpoint.scope,
            members=services.members_of(endpoint),
            ca_bundle=endpoint.ca_bundle,
            skip_tls_verify=endpoint.skip_tls_verify,
        )
        return initial

    # -- layout helpers for the template

    def credential_field_names(self) -> list[str]:
        names = []
        for spec in self.etype.credential_fields():
            names.append(spec.name)
            if spec.widget == "file_or_textarea":
                names.append(spec.name + FILE_SUFFIX)
        return names

    def type_rows(self) -> list[dict]:
        """One row per registry field, in registry order, with its upload field when it has one."""
        rows = []
        for spec in self.etype.fields:
            file_name = spec.name + FILE_SUFFIX
            rows.append(
                {
                    "field": self[spec.name],
                    "file": self[file_name] if file_name in self.fields else None,
                    "secret": spec.is_secret,
                    "reenter": spec.is_secret and self.needs_reentry(spec.name),
                }
            )
        return rows

    def advanced_open(self) -> bool:
        if any(self.errors.get(name) for name in ("ca_bundle", "skip_tls_verify")):
            return True
        if self.is_bound:
            return bool(self.data.get("ca_bundle") or self.data.get("skip_tls_verify"))
        return bool(self.initial.get("ca_bundle") or self.initial.get("skip_tls_verify"))

    # -- to the service

    def _scope_data(self, cd) -> dict:
        scope = cd.get("scope") or Scope.PRIVATE
        return {"scope": scope, "members": list(cd.get("members") or []) if scope == Scope.CUSTOM else []}

    def service_data(self) -> dict:
        """The dict ``services.create_endpoint`` / ``update_endpoint`` take; ``{}``-free of secrets to keep."""
        cd = self.cleaned_data
        data = {
            "name": cd.get("name") or "",
            "ca_bundle": cd.get("ca_bundle") or "",
            "skip_tls_verify": bool(cd.get("skip_tls_verify")),
        }
        if self.endpoint is None:
            return self._create_data(cd, data)
        return self._update_data(cd, data)

    def _create_data(self, cd, data) -> dict:
        data["type"] = self.etype.key
        data.update(self._scope_data(cd))
        if not data["members"]:
            data.pop("members")
        if cd.get("expires_at"):
            data["expires_at"] = cd["expires_at"]
        credential = cd.get("credential")
        if credential:
            data["credential"] = credential
        for spec in self.etype.fields:
            value = cd.get(spec.name) or ""
            if credential and spec.storage != "endpoint" and value == "":
                continue  # comes from the chosen credential
            data[spec.name] = value
        return data

    def _update_data(self, cd, data) -> dict:
        endpoint = self.endpoint
        for spec in self.etype.endpoint_fields():
            data[spec.name] = cd.get(spec.name) or ""
        if self.can_administer and cd.get("scope"):
            data.update(self._scope_data(cd))
        new_credential = cd.get("credential")
        if new_credential and new_credential != endpoint.credential_id:
            data["credential"] = new_credential
            for spec in self.etype.credential_fields():
                value = cd.get(spec.name) or ""
                if value and value != (self.initial.get(spec.name) or ""):
                    self.add_error(
                        spec.name, _("Comes from the chosen credential; leave it unchanged or keep the current one.")
                    )
        elif self.can_change_credential:
            for spec in self.etype.identity_fields():
                data[spec.name] = cd.get(spec.name) or ""
            for spec in self.etype.secret_fields():
                if cd.get(spec.name):
                    data[spec.name] = cd[spec.name]
            if cd.get("expires_at"):
                data["expires_at"] = cd["expires_at"]
        return data

    def clears_expiry(self) -> bool:
        """Edit: the expiry date was emptied (the service only sets dates, so the view clears it)."""
        cd = self.cleaned_data
        return (
            self.endpoint is not None
            and self.can_change_credential
            and not cd.get("expires_at")
            and self.endpoint.credential.expires_at is not None
            and cd.get("credential") in (None, self.endpoint.credential_id)
        )


@cache
def endpoint_form_class(type_key: str) -> type[EndpointFormBase]:
    """The endpoint form of one type, generated from its ``FieldSpec``s (never hand-written)."""
    etype = TYPES[type_key]
    attrs = {"etype": etype, "__module__": __name__}
    for spec in etype.fields:
        attrs[spec.name] = spec_field(spec)
        if spec.widget == "file_or_textarea":
            attrs[spec.name + FILE_SUFFIX] = spec_file_field(spec)
    form_class = type(f"{type_key.title().replace('_', '')}EndpointForm", (EndpointFormBase,), attrs)
    # registry order for the type's fields, right after the name
    names = ["name"] + [n for n in form_class.base_fields if n not in EndpointFormBase.base_fields]
    form_class.base_fields = {
        **{n: form_class.base_fields[n] for n in names},
        **{n: f for n, f in form_class.base_fields.items() if n not in names},
    }
    return form_class


class ScopeForm(StyledFormMixin, forms.Form):
    """Endpoint › Permissions: scope and custom members (E3)."""

    scope = forms.ChoiceField(label=_("Scope of use"), choices=Scope.choices, widget=forms.RadioSelect)
    members = forms.MultipleChoiceField(
        label=_("Members"),
        required=False,
        help_text=_("For the custom scope: the members who may see and use the endpoint."),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].choices = member_choices(project)

    def service_args(self) -> tuple[str, list[str]]:
        scope = self.cleaned_data["scope"]
        return scope, list(self.cleaned_data.get("members") or []) if scope == Scope.CUSTOM else []


# --------------------------------------------------------------------------- credentials


def kind_type(kind: str) -> EndpointType:
    """The fields that describe a credential kind (also kinds no endpoint type uses, such as SSH keys)."""
    return types.kind_type(kind)


class CredentialFormBase(FileOrTextareaMixin, StyledFormMixin, forms.Form):
    kind_key: str
    editing: bool

    kind = forms.ChoiceField(label=_("Kind"), choices=list(CREDENTIAL_KINDS.items()), widget=forms.HiddenInput)
    name = forms.CharField(label=_("Name"), required=False, help_text=_("Unique within the project."))
    identity = forms.CharField(label=_("Identity"), required=False, strip=False)
    secret = forms.CharField(label=_("Secret"), required=False, strip=False)
    shared = forms.BooleanField(
        label=_("Shared"), required=False, help_text=_("Other project members may pick it for their endpoints.")
    )
    expires_at = forms.DateField(
        label=_("Expiry date"),
        required=False,
        help_text=_("When the secret stops working; verification then reports “overdue”. Optional."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args, credential=None, **kwargs):
        self.credential = credential
        if credential is not None:
            kwargs["initial"] = {
                "kind": credential.kind,
                "name": credential.name,
                "identity": credential.identity,
                "shared": credential.shared,
                "expires_at": credential.expires_at,
                **(kwargs.get("initial") or {}),
            }
        super().__init__(*args, **kwargs)
        self.fields["name"].show_required = True
        self.fields["secret"].show_required = credential is None
        if credential is not None:
            self.fields["kind"].disabled = True
            self.fields["secret"].label = _("Replace secret")
            self.fields["secret"].help_text = _(
                "Leave empty to keep the stored secret. A new one repairs every endpoint that uses this credential."
            )

    def secret_row(self) -> dict:
        file_name = "secret" + FILE_SUFFIX
        return {
            "field": self["secret"],
            "file": self[file_name] if file_name in self.fields else None,
            "secret": True,
            "reenter": self.needs_reentry("secret"),
        }

    def service_data(self) -> dict:
        cd = self.cleaned_data
        data = {
            "name": cd.get("name") or "",
            "shared": bool(cd.get("shared")),
            "expires_at": cd.get("expires_at"),
        }
        if "identity" in self.fields:
            data["identity"] = cd.get("identity") or ""
        if self.credential is None:
            data["kind"] = self.kind_key
            data["secret"] = cd.get("secret") or ""
            if data["expires_at"] is None:
                data.pop("expires_at")
        elif cd.get("secret"):
            data["secret"] = cd["secret"]
        return data


@cache
def credential_form_class(kind: str) -> type[CredentialFormBase]:
    """The credential form of one kind: identity and secret fields described by the registry."""
    etype = kind_type(kind)
    secret_spec = etype.secret_fields()[0]
    attrs = {"kind_key": kind, "__module__": __name__}
    identity = etype.identity_fields()
    if identity:
        spec = identity[0]
        attrs["identity"] = forms.CharField(
            label=spec.label,
            help_text=spec.help_text,
            required=False,
            strip=False,
            widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": spec.placeholder}),
        )
        attrs["identity"].show_required = True
    else:
        attrs["identity"] = None  # this kind has no identity half (kubeconfig, private key)
    secret = spec_field(secret_spec)
    secret.help_text = secret_spec.help_text
    attrs["secret"] = secret
    if secret_spec.widget == "file_or_textarea":
        spec = FieldSpec(
            "secret",
            secret_spec.label,
            secret_spec.help_text,
            "secret",
            secret_spec.widget,
            max_length=secret_spec.max_length,
        )
        secret.spec = spec
        attrs["secret" + FILE_SUFFIX] = spec_file_field(spec)
    return type(f"{kind.title().replace('_', '')}CredentialForm", (CredentialFormBase,), attrs)
