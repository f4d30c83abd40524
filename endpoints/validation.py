"""Field-level validation of service endpoints (SPEC E6), shared by forms, the API and admin.

``validate_endpoint`` returns ``{field name: [message, ...]}`` -- empty when the values are valid.
Messages are translated (gettext at call time), say what is wrong and what is expected, and never
repeat a submitted secret or URL (a URL may carry credentials).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection
from typing import NamedTuple
from urllib.parse import urlsplit

import yaml
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .types import KUBECONFIG_MAX, TYPES, EndpointType, FieldSpec, get_type

GITLAB_HTTP_PORTS = frozenset({80, 21, 443, 70, 210, 280, 488, 591, 777})
GITLAB_HTTP_PORT_RANGE = (1025, 65535)
GITLAB_COM_HOSTS = frozenset({"gitlab.com", "www.gitlab.com"})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MIN_RSA_BITS = 2048

_HOST_LABEL_RE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_MULTILINE_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # allows \t \n \r


Rule = Callable[[str, FieldSpec], list[str]]


def _short(name, limit=64) -> str:
    """Quote a user-supplied name (never a secret) for a message, truncated."""
    text = str(name)
    return "'" + (text if len(text) <= limit else text[: limit - 1] + "…") + "'"


def _err(message: str, label, **params) -> list[str]:
    """One message naming the field: ``label`` is a FieldSpec or a label; ``message`` already translated."""
    return [message % {"label": str(getattr(label, "label", label)), **params}]  # FieldSpec / EndpointType / text


# --------------------------------------------------------------------------- URLs


def validate_url(value: str, schemes: Collection[str], *, field_label) -> list[str]:
    """Check an absolute URL: allowed scheme, a host, no credentials, no whitespace, a valid port.

    Returns a list of messages (empty when valid). The URL itself is never echoed.
    """
    label = str(field_label)
    if not isinstance(value, str) or not value:
        return _err(_("“%(label)s” must be a URL."), label)
    if any(c.isspace() for c in value) or _CONTROL_RE.search(value):
        return _err(_("“%(label)s” must not contain spaces or line breaks."), label)
    try:
        parts = urlsplit(value)
    except ValueError:
        return _err(_("“%(label)s” is not a valid URL."), label)
    example = f"{sorted(schemes)[-1]}://host.example"
    if parts.scheme.lower() not in schemes or not value.lower().startswith(parts.scheme.lower() + "://"):
        return _err(_("“%(label)s” must be a URL starting with %(schemes)s (for example %(example)s)."), label,
                    schemes=_(" or ").join(f"{s}://" for s in schemes), example=example)
    if "@" in parts.netloc:
        return _err(_("“%(label)s” must not contain a user name or password; put credentials in the "
                      "username/password fields."), label)
    host = parts.hostname or ""
    if not host:
        return _err(_("“%(label)s” must include a host name, as in %(example)s."), label, example=example)
    if not _valid_host(host):
        return _err(_("“%(label)s” has an invalid host name."), label)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        return _err(_("“%(label)s” has an invalid port; use a number from 1 to 65535."), label)
    return []


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return len(ascii_host) <= 253 and all(label and _HOST_LABEL_RE.match(label) for label in labels)


def _url_rule(*schemes: str) -> Rule:
    def rule(value: str, spec: FieldSpec) -> list[str]:
        return validate_url(value, schemes, field_label=spec.label)

    return rule


def _gitlab_url(value: str, spec: FieldSpec) -> list[str]:
    """E6 / seed acr-bind-code-source: gitlab.com over HTTPS; self-managed HTTP on the listed ports or
    1025-65535, HTTPS on 443 only."""
    errors = validate_url(value, ("http", "https"), field_label=spec.label)
    if errors:
        return errors
    parts = urlsplit(value)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower().rstrip(".")
    port = parts.port or (443 if scheme == "https" else 80)
    label = str(spec.label)
    if host in GITLAB_COM_HOSTS:
        if scheme != "https" or port != 443:
            return _err(_("“%(label)s”: gitlab.com must be reached at https://gitlab.com."), label)
        return []
    if scheme == "https" and port != 443:
        return _err(_("“%(label)s”: HTTPS is supported on port 443 only; to use port %(port)s, use http:// "
                      "instead."), label, port=port)
    low, high = GITLAB_HTTP_PORT_RANGE
    if scheme == "http" and port not in GITLAB_HTTP_PORTS and not low <= port <= high:
        return _err(_("“%(label)s”: HTTP is supported on ports 80, 21, 443, 70, 210, 280, 488, 591, 777 and "
                      "1025-65535 only, not on port %(port)s."), label, port=port)
    return []


def _github_api_url(value: str, spec: FieldSpec) -> list[str]:
    """HTTPS; plain HTTP only towards this machine (test servers)."""
    errors = validate_url(value, ("http", "https"), field_label=spec.label)
    if errors:
        return errors
    parts = urlsplit(value)
    if parts.scheme.lower() == "http" and (parts.hostname or "").lower() not in LOCAL_HOSTS:
        return _err(_("“%(label)s” must start with https:// (http:// is allowed only for localhost)."), spec)
    return []


# --------------------------------------------------------------------------- plain fields


def _tenant_user(value: str, spec: FieldSpec) -> list[str]:
    """E1 / seed codearts-service-endpoints: "tenant name/username" with no leading or trailing spaces."""
    label = str(spec.label)
    if value != value.strip():
        return _err(_("“%(label)s” must not start or end with spaces; enter it as tenant name/username."), label)
    parts = value.split("/")
    if len(parts) != 2:
        return _err(_("“%(label)s” must be in the format tenant name/username, with exactly one “/”."), label)
    tenant, user = parts
    if not tenant or not user:
        return _err(_("“%(label)s” must be in the format tenant name/username; both parts must be filled in."), label)
    if tenant != tenant.strip() or user != user.strip():
        return _err(_("“%(label)s” must not have spaces around the “/”."), label)
    return []


def _repository_path(value: str, spec: FieldSpec) -> list[str]:
    if "://" in value or value.startswith("/") or any(c.isspace() for c in value) or ".." in value.split("/"):
        return _err(_("“%(label)s” must be a repository path such as group/repo, without the URL prefix."), spec)
    return []


def _match(pattern: str, message) -> Rule:
    """A rule accepting values that fully match ``pattern``; ``message`` is a lazy translation."""
    regex = re.compile(pattern)

    def rule(value: str, spec: FieldSpec) -> list[str]:
        return [] if regex.fullmatch(value) else _err(str(message), spec)

    return rule


_installation_id = _match(r"0*[1-9][0-9]*", gettext_lazy(
    "“%(label)s” must be a number (digits only), as shown after installing the GitHub App."))
_no_spaces = _match(r"[^\s\x00-\x1f\x7f]+", gettext_lazy("“%(label)s” must not contain spaces or line breaks."))
_access_key_id = _match(r"[A-Za-z0-9]{16,128}", gettext_lazy("“%(label)s” must be 16 to 128 letters and digits."))
_region = _match(r"[A-Za-z0-9][A-Za-z0-9_.-]*", gettext_lazy(
    "“%(label)s” must be a region name such as cn-north-4 (letters, digits, “-”, “_”, “.”)."))
_secret_access_key = _match(r"[^\s\x00-\x1f\x7f]{20,128}", gettext_lazy(
    "“%(label)s” must be 20 to 128 characters without spaces."))
_single_line_secret = _match(r"[^\x00-\x1f\x7f]*", gettext_lazy(
    "“%(label)s” must be a single line without control characters."))


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors/aliases (kubeconfigs never need them; avoids alias bombs)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("aliases are not allowed")
        return super().compose_node(parent, index)


def _named(entries, what: str) -> dict:
    if entries is None:
        return {}
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError(_("the kubeconfig's “%(what)s” must be a list of named entries.") % {"what": what})
    return {str(e.get("name")): e for e in entries if e.get("name") not in (None, "")}


def _names(entries: dict) -> str:
    return ", ".join(_short(n)[1:-1] for n in sorted(entries)[:20]) or _("(none)")


class CurrentContext(NamedTuple):
    """A checked kubeconfig and what its current context selects: each entry's body (``context:``,
    ``cluster:``, ``user:``; an absent user body is empty)."""

    config: dict
    context: dict
    cluster: dict
    user: dict


def parse_kubeconfig(text: str) -> dict:
    """Parse and check a kubeconfig (E6); return the parsed mapping or raise ValueError with a safe message."""
    return current_context(text).config


def current_context(text: str) -> CurrentContext:
    """Parse and check a kubeconfig (E6) and resolve its current context, or raise ValueError with a safe
    message (the Kubernetes connector reads kubeconfigs with it).

    Checks: YAML mapping of kind Config (or no kind); ``current-context`` is set and found in
    ``contexts``; that context names a cluster in ``clusters`` with a server and a user in ``users``.
    """
    if not isinstance(text, str):
        raise ValueError(_("the kubeconfig must be text."))
    if len(text.encode("utf-8", "surrogatepass")) > KUBECONFIG_MAX:
        raise ValueError(_("the kubeconfig is larger than 1 MiB."))
    if "\x00" in text:
        raise ValueError(_("the kubeconfig must not contain NUL characters."))
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            raise ValueError(_("the kubeconfig is not valid YAML (line %(line)s, column %(column)s).")
                             % {"line": mark.line + 1, "column": mark.column + 1}) from None
        raise ValueError(_("the kubeconfig is not valid YAML.")) from None
    except RecursionError:
        raise ValueError(_("the kubeconfig is nested too deeply.")) from None
    if not isinstance(data, dict):
        raise ValueError(_("the kubeconfig must be a YAML mapping with clusters, users and contexts."))
    kind = data.get("kind")
    if kind not in (None, "Config"):
        raise ValueError(_("the kubeconfig's kind must be Config, not %(kind)s.") % {"kind": _short(kind, 40)})
    contexts = _named(data.get("contexts"), "contexts")
    clusters = _named(data.get("clusters"), "clusters")
    users = _named(data.get("users"), "users")
    current = data.get("current-context")
    if current in (None, ""):
        raise ValueError(_("the kubeconfig has no current-context; set it to one of the contexts: %(names)s.")
                         % {"names": _names(contexts)})
    current = str(current)
    if current not in contexts:
        raise ValueError(_("current context %(name)s is not among the contexts: %(names)s.")
                         % {"name": _short(current), "names": _names(contexts)})
    context = contexts[current].get("context")
    if not isinstance(context, dict):
        raise ValueError(_("context %(name)s has no cluster and user.") % {"name": _short(current)})
    cluster_name, user_name = context.get("cluster"), context.get("user")
    if cluster_name in (None, ""):
        raise ValueError(_("context %(name)s names no cluster.") % {"name": _short(current)})
    if str(cluster_name) not in clusters:
        raise ValueError(_("cluster %(cluster)s of context %(name)s is not among the clusters: %(names)s.")
                         % {"cluster": _short(cluster_name), "name": _short(current), "names": _names(clusters)})
    if user_name in (None, ""):
        raise ValueError(_("context %(name)s names no user.") % {"name": _short(current)})
    if str(user_name) not in users:
        raise ValueError(_("user %(user)s of context %(name)s is not among the users: %(names)s.")
                         % {"user": _short(user_name), "name": _short(current), "names": _names(users)})
    cluster = clusters[str(cluster_name)].get("cluster")
    server = cluster.get("server") if isinstance(cluster, dict) else None
    if not isinstance(server, str) or not server:
        raise ValueError(_("cluster %(cluster)s has no server address.") % {"cluster": _short(cluster_name)})
    label = _("server of cluster %(cluster)s") % {"cluster": _short(cluster_name)}
    errors = validate_url(server, ("http", "https"), field_label=label)
    if errors:
        raise ValueError(errors[0])
    user = users[str(user_name)].get("user")
    return CurrentContext(data, context, cluster, user if isinstance(user, dict) else {})


def _kubeconfig(value: str, spec: FieldSpec) -> list[str]:
    try:
        parse_kubeconfig(value)
    except ValueError as exc:
        return _err(_("“%(label)s”: %(problem)s"), spec, problem=exc)
    return []


def _private_key(value: str, spec: FieldSpec) -> list[str]:
    """A PEM RSA private key of at least 2048 bits, unencrypted (GitHub App keys)."""
    label = str(spec.label)
    try:
        key = load_pem_private_key(value.strip().encode("utf-8") + b"\n", password=None)
    except TypeError:
        return _err(_("“%(label)s” is encrypted; upload the unencrypted .pem file that GitHub generated."), label)
    except (ValueError, UnsupportedAlgorithm, UnicodeError):
        if "PUBLIC KEY-----" in value:
            return _err(_("“%(label)s” is a public key; a valid PEM private key is expected (the .pem file "
                          "GitHub generated)."), label)
        return _err(_("“%(label)s” is not a valid PEM private key; upload the .pem file generated for the "
                      "GitHub App."), label)
    if not isinstance(key, rsa.RSAPrivateKey):
        return _err(_("“%(label)s” must be an RSA private key (GitHub App keys are RSA)."), label)
    if key.key_size < MIN_RSA_BITS:
        return _err(_("“%(label)s” must be an RSA key of at least %(min)s bits, not %(bits)s."), label,
                    min=MIN_RSA_BITS, bits=key.key_size)
    return []


# --------------------------------------------------------------------------- dispatch

_HTTP_S = _url_rule("http", "https")

# (type key or "*", field name) -> rule; type-specific entries win over "*".
RULES: dict[tuple[str, str], Rule] = {
    ("docker_registry", "url"): _HTTP_S,
    ("kubernetes", "url"): _HTTP_S,
    ("git", "url"): _url_rule("https"),
    ("hosted_repo", "url"): _url_rule("https"),
    ("codeup", "url"): _url_rule("https"),
    ("gitlab", "url"): _gitlab_url,
    ("iam_user", "url"): _HTTP_S,
    ("*", "api_url"): _HTTP_S,
    ("github_app", "api_url"): _github_api_url,
    ("hosted_repo", "username"): _tenant_user,
    ("hosted_repo", "repository"): _repository_path,
    ("*", "installation_id"): _installation_id,
    ("*", "client_id"): _no_spaces,
    ("*", "organization_id"): _no_spaces,
    ("*", "access_key_id"): _access_key_id,
    ("*", "region"): _region,
    ("*", "secret_access_key"): _secret_access_key,
    ("*", "password"): _single_line_secret,
    ("*", "token"): _no_spaces,
    ("*", "kubeconfig"): _kubeconfig,
    ("*", "private_key"): _private_key,
}


def _coerce(value) -> str | None:
    """User input as text: None -> "", int -> digits, bytes -> UTF-8; anything else -> None (invalid)."""
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    try:
        return value.decode("utf-8") if isinstance(value, bytes) else None
    except UnicodeDecodeError:
        return None


def _check_basic(value: str, spec: FieldSpec, secrets_present: Collection[str]) -> list[str] | None:
    """Emptiness, length, NUL and control characters; [] = accept as is, None = go on with the field's rule."""
    if value == "" or (not spec.is_secret and not value.strip()):
        if value:
            return _err(_("“%(label)s” must not consist of spaces only."), spec)
        if spec.required and not (spec.is_secret and spec.name in secrets_present):
            return _err(_("“%(label)s” is required."), spec)
        return []
    if len(value) > spec.max_length:
        return _err(_("“%(label)s” is too long: at most %(max)s characters, got %(n)s."), spec,
                    max=spec.max_length, n=len(value))
    if "\x00" in value:
        return _err(_("“%(label)s” must not contain NUL characters."), spec)
    if spec.widget == "file_or_textarea" and _MULTILINE_CONTROL_RE.search(value):
        return _err(_("“%(label)s” must not contain control characters."), spec)
    if not spec.is_secret and _CONTROL_RE.search(value):
        return _err(_("“%(label)s” must be a single line without control characters."), spec)
    return None


def _rule_for(etype: EndpointType, name: str) -> Rule | None:
    return RULES.get((etype.key, name)) or RULES.get(("*", name))


def validate_field(etype: EndpointType, spec: FieldSpec, raw, *, secrets_present: Collection[str] = ()) -> list[str]:
    """All messages for one field of one type (E6)."""
    value = _coerce(raw)
    if value is None:
        return _err(_("“%(label)s” must be text."), spec)
    errors = _check_basic(value, spec, secrets_present)
    if errors is not None:
        return errors
    rule = _rule_for(etype, spec.name)
    if not spec.is_secret and value != value.strip() and rule is not _tenant_user:  # that rule says it itself
        return _err(_("“%(label)s” must not start or end with spaces."), spec)
    return rule(value, spec) if rule else []


def validate_endpoint(type_key: str, values: dict, *, secrets_present: Collection[str] = frozenset(),
                      partial: bool = False) -> dict[str, list[str]]:
    """Validate an endpoint's plain and secret field values (not ``name``) for type ``type_key``.

    A secret left empty (or missing) keeps the stored one when its name is in ``secrets_present``.
    With ``partial`` (PATCH) only the keys present in ``values`` are checked. Returns {} when valid,
    else {field name: [message, ...]}; an unknown type is reported on "type".
    """
    try:
        etype = get_type(type_key)
    except ValueError:
        return {"type": [_("Unknown endpoint type; expected one of: %(types)s.") % {"types": ", ".join(TYPES)}]}
    errors: dict[str, list[str]] = {}
    known = set(etype.field_names())
    for key in values:
        if key not in known:
            errors[str(key)] = _err(_("%(key)s is not a field of %(label)s endpoints; expected one of: %(fields)s."),
                                    etype, key=_short(key), fields=", ".join(etype.field_names()))
    for spec in etype.fields:
        if partial and spec.name not in values:
            continue
        messages = validate_field(etype, spec, values.get(spec.name), secrets_present=secrets_present)
        if messages:
            errors[spec.name] = messages
    return errors
