"""Business actions on service endpoints and credentials, shared by pages, API, the seed-compatible
Git authorization API, admin and Celery tasks (Zulip style).

Callers fetch objects through ``restrict(user, action)`` first. These functions validate the whole
input (E6), raise ``ValidationError`` with per-field messages and save nothing on error, keep the
audit trail, and never put a secret value into a message, a log line or an audit entry (E5).
"""

from __future__ import annotations

from cryptography.exceptions import UnsupportedAlgorithm
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, get_users_with_perms, remove_perm

from devops_console.core.logmask import active_secrets
from devops_console.core.permissions import CHANGE, USE, VIEW, can, is_active_user
from endpoints import audit, connectors
from endpoints.models import AuditEntry, Credential, Scope, ServiceEndpoint, Status
from endpoints.types import CREDENTIAL_KINDS, PRIVATE_KEY_MAX, TYPES, get_type
from endpoints.validation import validate_endpoint

NAME_MAX = 128
COMMON_FIELDS = {"name", "type", "scope", "members", "credential", "ca_bundle", "skip_tls_verify", "expires_at"}
USE_PERM = "use_serviceendpoint"


class EndpointInUse(Exception):
    """Deleting an endpoint (or credential) that is referenced is refused with the list of users (E8)."""

    def __init__(self, usages: list[dict]):
        super().__init__(_("It is in use and cannot be deleted."))
        self.usages = usages


# --- reading -----------------------------------------------------------------------------------


def endpoint_values(endpoint: ServiceEndpoint) -> tuple[dict, dict]:
    """The endpoint's plain fields and its secret fields (decrypted), keyed as API.md's table."""
    etype = get_type(endpoint.type)
    known = set(etype.field_names())  # config may also hold bookkeeping keys (``meta`` of create_endpoint)
    fields = {**etype.defaults(), **{k: v for k, v in endpoint.config.items() if k in known and v not in ("", None)}}
    for spec in etype.identity_fields():
        fields[spec.name] = endpoint.credential.identity
    secrets = {spec.name: endpoint.credential.secret or "" for spec in etype.secret_fields()}
    return fields, secrets


def plain_fields(endpoint: ServiceEndpoint) -> dict:
    """What may be shown: every plain field, no secret."""
    etype = get_type(endpoint.type)
    values = {spec.name: endpoint.config.get(spec.name, "") for spec in etype.endpoint_fields()}
    for spec in etype.identity_fields():
        values[spec.name] = endpoint.credential.identity
    return values


def usable_endpoints(user, project, types=None):
    """Endpoints of ``project`` this user may pick in a pipeline (E3 "use"), optionally of these types."""
    queryset = ServiceEndpoint.objects.restrict(user, USE).filter(project=project)
    if types:
        queryset = queryset.filter(type__in=list(types))
    return queryset.select_related("credential")


def usages(endpoint: ServiceEndpoint) -> list[dict]:
    return [{"label": u.label, "url": u.url, "pipeline_id": u.pipeline_id} for u in endpoint.usages.order_by("label")]


# --- validation helpers ------------------------------------------------------------------------


def _clean_name(model, project, name, instance=None) -> list[str]:
    if not isinstance(name, str) or not name.strip():
        return [_("Enter a name.")]
    name = name.strip()
    if len(name) > NAME_MAX:
        return [_("Use at most %(max)d characters.") % {"max": NAME_MAX}]
    clash = model.objects.filter(project=project, name__iexact=name).exclude(pk=getattr(instance, "pk", None))
    if clash.exists():
        return [_("“%(name)s” is already used in this project.") % {"name": name}]
    return []


MEMBERS_MAX = 1000


def _clean_members(project, scope, members) -> tuple[list, list[str]]:
    if scope != Scope.CUSTOM:
        return [], ([_("Members are only listed for the custom scope.")] if members else [])
    if not isinstance(members, list | tuple) or not all(isinstance(m, str) for m in members):
        return [], [_("Give a list of usernames.")]
    if len(members) > MEMBERS_MAX:
        return [], [_("List at most %(max)d members.") % {"max": MEMBERS_MAX}]
    users = list(get_user_model().objects.filter(username__in=members, memberships__project=project, is_active=True))
    unknown = sorted(set(members) - {u.username for u in users})
    if unknown:
        return [], [_("Not members of this project: %(names)s.") % {"names": ", ".join(u[:150] for u in unknown[:10])}]
    return users, []


def _clean_common(data: dict, errors: dict) -> dict:
    cleaned = {}
    if "scope" in data:
        if data["scope"] not in Scope.values:
            errors["scope"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(Scope.values)}]
        cleaned["scope"] = data["scope"]
    if "ca_bundle" in data:
        ca = data["ca_bundle"] or ""
        if not isinstance(ca, str) or (ca.strip() and "-----BEGIN CERTIFICATE-----" not in ca):
            errors["ca_bundle"] = [_("Paste one or more PEM certificates (-----BEGIN CERTIFICATE-----).")]
        elif len(ca) > 256 * 1024:
            errors["ca_bundle"] = [_("The CA bundle may be at most 256 KiB.")]
        cleaned["ca_bundle"] = ca if isinstance(ca, str) else ""
    if "skip_tls_verify" in data:
        if not isinstance(data["skip_tls_verify"], bool):
            errors["skip_tls_verify"] = [_("Must be true or false.")]
        cleaned["skip_tls_verify"] = data["skip_tls_verify"] is True
    if data.get("expires_at") not in (None, ""):
        from django.utils.dateparse import parse_date

        value = data["expires_at"]
        try:
            parsed = value if hasattr(value, "year") else (parse_date(value) if isinstance(value, str) else None)
        except ValueError:  # well formed but impossible, e.g. 2024-02-30
            parsed = None
        if parsed is None:
            errors["expires_at"] = [_("Enter a date as YYYY-MM-DD.")]
        cleaned["expires_at"] = parsed
    return cleaned


def _type_values(etype, data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in COMMON_FIELDS}


def _credential_pk(value) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def _pick_credential(actor, project, etype, credential_id, errors: dict):
    pk = _credential_pk(credential_id)
    credential = None
    if pk is not None:
        credential = Credential.objects.restrict(actor, USE).filter(project=project, pk=pk).first()
    if credential is None:
        errors["credential"] = [_("No credential with this id that you may use in this project.")]
    elif credential.kind != etype.credential_kind:
        errors["credential"] = [
            _("This credential is of kind “%(kind)s”; %(type)s endpoints need “%(need)s”.")
            % {"kind": credential.kind, "type": etype.label, "need": etype.credential_kind}
        ]
        credential = None
    return credential


def _raise(errors: dict):
    if errors:
        raise ValidationError(errors)


# --- endpoints ---------------------------------------------------------------------------------


@transaction.atomic
def create_endpoint(actor, project, data: dict, *, meta: dict | None = None) -> ServiceEndpoint:
    """Create an endpoint with either an existing credential (``credential``: id) or inline secret fields.

    ``meta``: non-secret bookkeeping kept in ``config`` next to the type's fields (e.g. the seed
    Git authorization API's ``auth_kind``); never a type field name, never shown by ``plain_fields``
    and never passed to connectors. ``update_endpoint`` keeps it.
    """
    errors: dict[str, list[str]] = {}
    try:
        etype = get_type(data.get("type"))
    except ValueError as exc:
        raise ValidationError({"type": [str(exc)]}) from None
    meta = dict(meta or {})
    if clash := sorted(set(meta) & (set(etype.field_names()) | COMMON_FIELDS)):
        raise ValueError(f"meta keys clash with endpoint fields: {', '.join(clash)}")
    if name_errors := _clean_name(ServiceEndpoint, project, data.get("name")):
        errors["name"] = name_errors
    common = _clean_common({"scope": Scope.PRIVATE, **data}, errors)
    members, member_errors = _clean_members(project, common.get("scope"), data.get("members") or [])
    if member_errors:
        errors["members"] = member_errors
    values = _type_values(etype, data)
    credential = None
    if data.get("credential") not in (None, ""):
        credential = _pick_credential(actor, project, etype, data["credential"], errors)
        for spec in etype.credential_fields():
            if values.pop(spec.name, None) not in (None, ""):
                errors.setdefault(spec.name, []).append(
                    _("Comes from the chosen credential; leave it empty or choose no credential.")
                )
        errors.update(validate_endpoint(etype.key, values, partial=True))
        # required endpoint fields still apply
        for spec in etype.endpoint_fields():
            if spec.required and not values.get(spec.name) and spec.name not in errors:
                errors[spec.name] = [_("“%(field)s” is required.") % {"field": spec.label}]
    else:
        errors.update(validate_endpoint(etype.key, values))
    _raise(errors)
    if credential is None:
        credential = Credential.objects.create(
            project=project,
            name=_unique_credential_name(project, data["name"].strip()),
            kind=etype.credential_kind,
            identity=next((values.get(s.name, "") for s in etype.identity_fields()), ""),
            secret=next((values.get(s.name, "") for s in etype.secret_fields()), ""),
            secret_updated_at=timezone.now(),
            owner=actor,
            expires_at=common.get("expires_at"),
        )
        audit.record(actor, AuditEntry.Action.CREATE, credential=credential, detail=_("created with endpoint"))
    endpoint = ServiceEndpoint.objects.create(
        project=project,
        name=data["name"].strip(),
        type=etype.key,
        credential=credential,
        created_by=actor,
        config={**meta, **{s.name: values.get(s.name) or s.default for s in etype.endpoint_fields()}},
        scope=common["scope"],
        ca_bundle=common.get("ca_bundle", ""),
        skip_tls_verify=common.get("skip_tls_verify", False),
    )
    _set_members(endpoint, members)
    audit.record(
        actor,
        AuditEntry.Action.CREATE,
        endpoint=endpoint,
        fields=[k for k in data if k not in etype.field_names() or not etype.field(k).is_secret] + ["credential"],
    )
    return endpoint


def _unique_credential_name(project, base: str) -> str:
    name, n = base[:120], 1
    while Credential.objects.filter(project=project, name=name).exists():
        n += 1
        name = f"{base[:110]} ({n})"
    return name


def _set_members(endpoint, users) -> None:
    endpoint.__dict__.pop("use_grants", None)  # a list's prefetch is stale from here on
    current = set(get_users_with_perms(endpoint, only_with_perms_in=[USE_PERM], with_group_users=False))
    for user in current - set(users):
        remove_perm(USE_PERM, user, endpoint)
    for user in set(users) - current:
        assign_perm(USE_PERM, user, endpoint)


def with_members(queryset):
    """Prefetch the custom-scope members of every endpoint (one query for a whole list)."""
    from django.db.models import Prefetch

    from endpoints.models import ServiceEndpointUserObjectPermission

    grants = ServiceEndpointUserObjectPermission.objects.filter(permission__codename=USE_PERM).select_related("user")
    return queryset.prefetch_related(
        Prefetch("serviceendpointuserobjectpermission_set", queryset=grants, to_attr="use_grants")
    )


def members_of(endpoint) -> list[str]:
    if hasattr(endpoint, "use_grants"):
        return sorted(grant.user.username for grant in endpoint.use_grants)
    return sorted(
        u.username for u in get_users_with_perms(endpoint, only_with_perms_in=[USE_PERM], with_group_users=False)
    )


@transaction.atomic
def update_endpoint(actor, endpoint: ServiceEndpoint, data: dict) -> ServiceEndpoint:
    """Partial update: omitted fields keep their value; an empty secret keeps the stored one (E5).

    Identity and secret fields change the referenced credential — every endpoint sharing it is
    repaired at once (E4). ``type`` cannot change.
    """
    etype = get_type(endpoint.type)
    errors: dict[str, list[str]] = {}
    if "type" in data and data["type"] != endpoint.type:
        errors["type"] = [_("The type of an endpoint cannot change; create a new endpoint instead.")]
    if "name" in data and (name_errors := _clean_name(ServiceEndpoint, endpoint.project, data["name"], endpoint)):
        errors["name"] = name_errors
    common = _clean_common(data, errors)
    values = _type_values(etype, data)
    secret_names = {s.name for s in etype.secret_fields()}
    kept = {name for name in secret_names if values.get(name) in ("", None)}
    for name in kept:
        values.pop(name, None)
    errors.update(validate_endpoint(etype.key, values, secrets_present=secret_names, partial=True))
    new_credential = None
    if data.get("credential") not in (None, "", endpoint.credential_id):
        new_credential = _pick_credential(actor, endpoint.project, etype, data["credential"], errors)
    _check_credential_rights(actor, new_credential or endpoint.credential, etype, values, data, errors)
    scope_change = "scope" in data or "members" in data
    _raise(errors)
    changed = set()
    if "name" in data and data["name"].strip() != endpoint.name:
        endpoint.name = data["name"].strip()
        changed.add("name")
    for key in ("ca_bundle", "skip_tls_verify"):
        if key in common and getattr(endpoint, key) != common[key]:
            setattr(endpoint, key, common[key])
            changed.add(key)
    config = dict(endpoint.config)
    for spec in etype.endpoint_fields():
        if spec.name in values and (values[spec.name] or spec.default) != config.get(spec.name):
            config[spec.name] = values[spec.name] or spec.default
            changed.add(spec.name)
    endpoint.config = config
    if new_credential is not None:
        endpoint.credential = new_credential
        changed.add("credential")
    credential_changed = _update_credential_values(actor, endpoint.credential, etype, values, common)
    changed |= credential_changed
    endpoint.save()
    if changed:
        audit.record(actor, AuditEntry.Action.EDIT, endpoint=endpoint, fields=changed)
    if scope_change:
        scope = data.get("scope", endpoint.scope)
        default_members = members_of(endpoint) if scope == Scope.CUSTOM else []
        set_scope(actor, endpoint, scope, data.get("members", default_members))
    return endpoint


def _check_credential_rights(actor, credential, etype, values: dict, data: dict, errors: dict) -> None:
    """Identity, secret and expiry live on the credential: only who may change it changes them (E4)."""
    touched = [s.name for s in etype.credential_fields() if values.get(s.name) not in (None, "")]
    touched += ["expires_at"] if "expires_at" in data else []
    if not touched or not is_active_user(actor) or can(actor, credential, CHANGE):
        return
    for name in touched:
        errors.setdefault(name, []).append(
            _("Comes from the shared credential “%(name)s”, which only its owner or a project manager may change.")
            % {"name": credential.name}
        )


def _update_credential_values(actor, credential: Credential, etype, values: dict, common: dict) -> set:
    changed = set()
    for spec in etype.identity_fields():
        if spec.name in values and values[spec.name] != credential.identity:
            credential.identity = values[spec.name]
            changed.add(spec.name)
    for spec in etype.secret_fields():
        if values.get(spec.name):
            credential.secret = values[spec.name]
            credential.secret_updated_at = timezone.now()
            changed.add(spec.name)
    if "expires_at" in common and common["expires_at"] != credential.expires_at:
        credential.expires_at = common["expires_at"]
        changed.add("expires_at")
    if changed:
        credential.save()
        audit.record(actor, AuditEntry.Action.EDIT, credential=credential, fields=changed)
    return changed


@transaction.atomic
def set_scope(actor, endpoint: ServiceEndpoint, scope: str, members=()) -> ServiceEndpoint:
    """Change who may see and use the endpoint (E3); custom lists the members."""
    errors: dict = {}
    _clean_common({"scope": scope}, errors)
    users, member_errors = _clean_members(endpoint.project, scope, [] if members is None else members)
    if member_errors:
        errors["members"] = member_errors
    _raise(errors)
    before = (endpoint.scope, members_of(endpoint))
    endpoint.scope = scope
    endpoint.save(update_fields=["scope", "updated"])
    _set_members(endpoint, users)
    after = (scope, sorted(u.username for u in users))
    if before != after:
        audit.record(
            actor,
            AuditEntry.Action.SCOPE,
            endpoint=endpoint,
            fields=["scope", "members"],
            detail=_("%(before)s → %(after)s") % {"before": before[0], "after": scope},
        )
    return endpoint


@transaction.atomic
def delete_endpoint(actor, endpoint: ServiceEndpoint) -> None:
    """Delete an endpoint; refused with the usage list while anything references it (E8)."""
    in_use = usages(endpoint)
    if in_use:
        raise EndpointInUse(in_use)
    audit.record(actor, AuditEntry.Action.DELETE, endpoint=endpoint)
    credential = endpoint.credential
    endpoint.delete()
    # A credential created inline for this endpoint alone goes with it; a shared one stays.
    if not credential.endpoints.exists() and not credential.shared:
        audit.record(actor, AuditEntry.Action.DELETE, credential=credential, detail=_("deleted with its endpoint"))
        credential.delete()


# --- verification and browsing -----------------------------------------------------------------


def _tls(endpoint) -> connectors.TlsOptions:
    return connectors.TlsOptions(ca_bundle=endpoint.ca_bundle or "", skip_verify=endpoint.skip_tls_verify)


def verify_endpoint(actor, endpoint: ServiceEndpoint) -> connectors.VerifyResult:
    """Really talk to the service (E7) and record status, detail and time on the endpoint."""
    credential = endpoint.credential
    if credential.is_expired:
        result = connectors.VerifyResult(
            Status.OVERDUE, _("The credential expired on %(date)s.") % {"date": credential.expires_at.isoformat()}
        )
    else:
        fields, secrets = endpoint_values(endpoint)
        with active_secrets(secrets.values()):
            result = connectors.verify(
                endpoint.type,
                fields,
                secrets,
                tls=_tls(endpoint),
                timeout=settings.ENDPOINT_VERIFY_TIMEOUT,
                allow_link_local=settings.ENDPOINT_VERIFY_ALLOW_LINK_LOCAL,
            )
    now = timezone.now()
    detail = connectors.scrub(result.detail, [credential.secret or ""])[:500]
    ServiceEndpoint.objects.filter(pk=endpoint.pk).update(status=result.status, status_detail=detail, checked_at=now)
    endpoint.status, endpoint.status_detail, endpoint.checked_at = result.status, detail, now
    if result.status == Status.NORMAL:
        Credential.objects.filter(pk=credential.pk).update(last_verified_at=now)
    audit.record(
        actor, AuditEntry.Action.VERIFY, endpoint=endpoint, detail=f"{Status(result.status).label}: {detail}"[:500]
    )
    return connectors.VerifyResult(result.status, detail)


BROWSE_CACHE_SECONDS = 60


def browse(endpoint: ServiceEndpoint, what: str, repository: str = "") -> list:
    """Repositories, branches or tags through the endpoint (E10), cached briefly per endpoint."""
    from django.core.cache import cache

    key = f"endpoint-browse:{endpoint.pk}:{endpoint.updated.timestamp()}:{what}:{repository}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    fields, secrets = endpoint_values(endpoint)
    options = {
        "tls": _tls(endpoint),
        "timeout": settings.ENDPOINT_VERIFY_TIMEOUT,
        "allow_link_local": settings.ENDPOINT_VERIFY_ALLOW_LINK_LOCAL,
    }
    with active_secrets(secrets.values()):
        if what == "repositories":
            result = connectors.list_repositories(endpoint.type, fields, secrets, **options)
        elif what == "branches":
            result = connectors.list_branches(endpoint.type, fields, secrets, repository, **options)
        elif what == "tags":
            result = connectors.list_tags(endpoint.type, fields, secrets, repository, **options)
        else:
            raise ValueError(what)
    cache.set(key, result, BROWSE_CACHE_SECONDS)
    return result


def expiring_credentials(within_days: int = 30):
    today = timezone.localdate()
    return Credential.objects.filter(
        expires_at__isnull=False, expires_at__lte=today + timezone.timedelta(days=within_days)
    )


def record_use(endpoint: ServiceEndpoint, actor, detail: str) -> None:
    """Called by the execution engine when a run uses the endpoint (audit + last used)."""
    Credential.objects.filter(pk=endpoint.credential_id).update(last_used_at=timezone.now())
    audit.record(actor, AuditEntry.Action.USE, endpoint=endpoint, detail=detail)


# --- credentials -------------------------------------------------------------------------------


def _secret_errors(kind: str, secret) -> list[str]:
    """Validate a credential's secret by the rules of the endpoint types of its kind (E6)."""
    if not isinstance(secret, str):
        return [_("Must be text.")]
    etype = next((t for t in TYPES.values() if t.credential_kind == kind), None)
    if etype is None:  # a kind no endpoint type uses: "ssh_key" (host-group hosts)
        return _ssh_key_errors(secret) if kind == "ssh_key" else []
    found = validate_endpoint(etype.key, {etype.secret_fields()[0].name: secret}, partial=True)
    return [message for messages in found.values() for message in messages]


def _ssh_key_errors(secret: str) -> list[str]:
    """An unencrypted SSH private key: OpenSSH format or PEM (PKCS#1, PKCS#8, SEC1)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_ssh_private_key

    if len(secret) > PRIVATE_KEY_MAX:
        return [_("At most %(n)s characters.") % {"n": PRIVATE_KEY_MAX}]
    data = secret.strip().encode("utf-8", "replace") + b"\n"
    for load in (load_ssh_private_key, load_pem_private_key):
        try:
            load(data, password=None)
            return []
        except TypeError:  # "Password was not given but private key is encrypted"
            return [_("The key is protected by a passphrase; store the key without one.")]
        except (ValueError, UnsupportedAlgorithm):
            continue
    return [_("Not a valid SSH private key; paste the private key file (OpenSSH or PEM format).")]


def _identity_errors(identity) -> list[str]:
    if not isinstance(identity, str) or len(identity) > 255 or identity != identity.strip():
        return [_("At most 255 characters, without leading or trailing spaces.")]
    if any(ch in identity for ch in "\x00\r\n"):
        return [_("Must be a single line.")]
    return []


@transaction.atomic
def create_credential(actor, project, data: dict) -> Credential:
    errors: dict = {}
    if name_errors := _clean_name(Credential, project, data.get("name")):
        errors["name"] = name_errors
    kind = data.get("kind")
    kind_ok = isinstance(kind, str) and kind in CREDENTIAL_KINDS
    if not kind_ok:
        errors["kind"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(CREDENTIAL_KINDS)}]
    secret = data.get("secret")
    if not isinstance(secret, str) or not secret:
        errors["secret"] = [_("Enter the secret.")]
    elif kind_ok and (secret_errors := _secret_errors(kind, secret)):
        errors["secret"] = secret_errors
    identity = data.get("identity") or ""
    if identity_errors := _identity_errors(identity):
        errors["identity"] = identity_errors
    common = _clean_common({k: data[k] for k in ("expires_at",) if k in data}, errors)
    shared = data.get("shared", False)
    if not isinstance(shared, bool):
        errors["shared"] = [_("Must be true or false.")]
    _raise(errors)
    credential = Credential.objects.create(
        project=project,
        name=data["name"].strip(),
        kind=kind,
        identity=identity,
        secret=secret,
        secret_updated_at=timezone.now(),
        owner=actor,
        shared=shared,
        expires_at=common.get("expires_at"),
    )
    audit.record(actor, AuditEntry.Action.CREATE, credential=credential)
    return credential


@transaction.atomic
def update_credential(actor, credential: Credential, data: dict) -> Credential:
    """Rename, share, set expiry, or replace the secret — which repairs every endpoint using it (E4)."""
    errors: dict = {}
    if "name" in data and (name_errors := _clean_name(Credential, credential.project, data["name"], credential)):
        errors["name"] = name_errors
    if "kind" in data and data["kind"] != credential.kind:
        errors["kind"] = [_("The kind of a credential cannot change.")]
    common = _clean_common({k: data[k] for k in ("expires_at",) if k in data}, errors)
    if "expires_at" in data and data["expires_at"] in (None, ""):
        common["expires_at"] = None
    if "shared" in data and not isinstance(data["shared"], bool):
        errors["shared"] = [_("Must be true or false.")]
    if "identity" in data:
        data = {**data, "identity": data["identity"] or ""}
        if identity_errors := _identity_errors(data["identity"]):
            errors["identity"] = identity_errors
    secret = data.get("secret")
    if secret not in (None, "") and (secret_errors := _secret_errors(credential.kind, secret)):
        errors["secret"] = secret_errors
    _raise(errors)
    changed = set()
    for key in ("name", "identity", "shared"):
        if key in data and data[key] != getattr(credential, key):
            setattr(credential, key, data[key].strip() if isinstance(data[key], str) else data[key])
            changed.add(key)
    if "expires_at" in common and common["expires_at"] != credential.expires_at:
        credential.expires_at = common["expires_at"]
        changed.add("expires_at")
    if secret not in (None, ""):
        credential.secret = secret
        credential.secret_updated_at = timezone.now()
        changed.add("secret")
    credential.save()
    if changed:
        action = AuditEntry.Action.REPLACE_SECRET if "secret" in changed else AuditEntry.Action.EDIT
        audit.record(actor, action, credential=credential, fields=changed)
    return credential


def credential_usage(credential: Credential, user=None, *, visible_ids=None) -> dict:
    """Endpoints using the credential and the pipelines they reach (E4). With ``user``, only the
    endpoints that user may see are named; ``hidden_endpoints`` counts the others.

    Lists pass ``visible_ids`` and a queryset from ``with_usage`` so no row costs a query.
    """
    if hasattr(credential, "usage_endpoints") and (user is None or visible_ids is not None):
        every = credential.usage_endpoints
    else:
        every = list(credential.endpoints.order_by("name").prefetch_related("usages"))
    if user is not None and visible_ids is None:
        visible_ids = set(
            ServiceEndpoint.objects.restrict(user, VIEW)
            .filter(pk__in=[e.pk for e in every])
            .values_list("pk", flat=True)
        )
    visible = every if user is None else [e for e in every if e.pk in visible_ids]
    usage = {
        "endpoints": [{"id": e.pk, "name": e.name, "type": e.type} for e in visible],
        "pipelines": sorted({u.label for e in visible for u in e.usages.all()}),
    }
    if user is not None:
        usage["hidden_endpoints"] = len(every) - len(visible)
    return usage


def with_usage(queryset):
    """Prefetch what ``credential_usage`` reads, for lists."""
    from django.db.models import Prefetch

    endpoints = ServiceEndpoint.objects.order_by("name").prefetch_related("usages")
    return queryset.prefetch_related(Prefetch("endpoints", queryset=endpoints, to_attr="usage_endpoints"))


@transaction.atomic
def delete_credential(actor, credential: Credential) -> None:
    hosts = [
        {"label": f"{h.group.name} › {h}", "host_group_id": h.group_id}
        for h in credential.hosts.select_related("group")
    ]
    if hosts:  # host groups log in with it (R7); the database protects the reference too
        raise EndpointInUse(hosts)
    if credential.endpoints.exists():
        usage = credential_usage(credential, actor)  # only endpoints the actor may see are named
        listed = [{"label": e["name"], "endpoint_id": e["id"]} for e in usage["endpoints"]]
        if usage["hidden_endpoints"]:
            listed.append({"label": _("%(n)s endpoint(s) you cannot see") % {"n": usage["hidden_endpoints"]}})
        raise EndpointInUse(listed)
    audit.record(actor, AuditEntry.Action.DELETE, credential=credential)
    credential.delete()
