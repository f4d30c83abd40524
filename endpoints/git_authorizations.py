"""Git repository authorizations (SPEC E9; seed 004) as service endpoints: the mapping between the seed's
authorization shape (``repo_type``, ``token_type``, ``repo_host``) and the Git-type endpoints behind them, and
creating one (``create_authorization``, through ``services.create_endpoint``). The seed-compatible API in
``endpoints.gitauth`` answers with these; a refusal is ``Refused``, which it turns into the seed's error format.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.utils.translation import gettext as _

from endpoints import services
from endpoints.models import ServiceEndpoint, Status

# --- mapping between service endpoints and the seed's authorizations ------------------------------

#: Endpoint types that are Git authorizations (everything else, e.g. docker_registry, is not listed).
GIT_TYPES = ("git", "hosted_repo", "github_app", "gitlab", "bitbucket", "codeup")

#: Seed ``repo_type`` of each endpoint type. github / gitlab / bitbucket / devcloud (CodeArts Repo,
#: our hosted repo) are the seed's values; codeup and generic git have no seed value and keep our name.
REPO_TYPE_OF = {
    "github_app": "github",
    "gitlab": "gitlab",
    "bitbucket": "bitbucket",
    "hosted_repo": "devcloud",
    "codeup": "codeup",
    "git": "git",
}
REPO_TYPES = ("github", "gitlab", "gitee", "bitbucket", "devcloud", "codeup", "git")
REPO_TYPE_ALIASES = {"codearts": "devcloud"}

#: The seed's ``token_type`` values: the kind of authorization used at creation.
TOKEN_TYPES = ("oauth", "personal", "password")
#: For endpoints made elsewhere (pages, /api/v1): derived from the credential kind. A GitHub App is
#: an app authorized on the account (installation tokens), the nearest seed value being "oauth".
TOKEN_TYPE_OF_CREDENTIAL = {"username_password": "password", "username_token": "personal", "github_app_key": "oauth"}

#: Which endpoint type an authorization of each kind becomes, per seed ``repo_type``.
TARGET_TYPE = {
    "personal": {"gitlab": "gitlab", "github": "git", "gitee": "git", "bitbucket": "bitbucket", "codeup": "codeup"},
    "password": {
        "bitbucket": "bitbucket",
        "devcloud": "hosted_repo",
        "git": "git",
        "github": "git",
        "gitlab": "git",
        "gitee": "git",
    },
    "oauth": {},
}
#: Username sent with a private token when the body names none (the hosts' documented conventions
#: for token authentication over HTTPS); other hosts need ``user``.
DEFAULT_TOKEN_USER = {"github": "x-access-token", "gitlab": "oauth2"}
#: Bookkeeping kept in ServiceEndpoint.config (``services.create_endpoint(meta=…)``).
META_AUTH_KIND, META_REPO_TYPE = "auth_kind", "repo_type"

DEFAULT_URLS = {
    "github_app": "https://api.github.com",
    "gitlab": "https://gitlab.com",
    "bitbucket": "https://api.bitbucket.org/2.0",
    "codeup": "https://codeup.aliyun.com",
}

#: The seed's rule for authorization names: 4 to 63 letters, digits, ".", "_" and "-".
NAME_RE = re.compile(r"[A-Za-z0-9._-]{4,63}")


class Refused(Exception):
    """Why an authorization was not created: ``error`` names the kind (``invalid``, ``not_implemented``,
    ``exists``: the API's error ids), ``errors`` the fields at fault ({field: [messages]}) when it is invalid."""

    def __init__(self, error: str, message: str = "", errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.error, self.errors = error, errors


# --- reading ----------------------------------------------------------------------------------------


def _origin(url: str) -> str:
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def repo_host_and_home(endpoint: ServiceEndpoint) -> tuple[str, str]:
    """``repo_host``: scheme and host of the service; ``repo_home``: the endpoint's own URL (web root)."""
    config, kind = endpoint.config or {}, endpoint.type
    if kind == "github_app":
        api = config.get("api_url") or DEFAULT_URLS[kind]
        home = "https://github.com" if api.rstrip("/") == DEFAULT_URLS[kind] else _origin(api)
        return _origin(api), home
    if kind == "bitbucket":
        api = config.get("api_url") or DEFAULT_URLS[kind]
        if api.rstrip("/") == DEFAULT_URLS[kind]:
            workspace = (endpoint.credential.identity or "").split("/", 1)[0].strip()
            return _origin(api), "https://bitbucket.org/" + workspace if workspace else "https://bitbucket.org"
        return _origin(api), api
    url = config.get("url") or DEFAULT_URLS.get(kind, "")
    return _origin(url), url


def repo_type_of(endpoint: ServiceEndpoint) -> str:
    hint = (endpoint.config or {}).get(META_REPO_TYPE)
    return hint if hint in REPO_TYPES else REPO_TYPE_OF.get(endpoint.type, endpoint.type)


def token_type_of(endpoint: ServiceEndpoint) -> str:
    kind = (endpoint.config or {}).get(META_AUTH_KIND)
    return kind if kind in TOKEN_TYPES else TOKEN_TYPE_OF_CREDENTIAL.get(endpoint.credential.kind, "password")


def status_of(endpoint: ServiceEndpoint) -> int:
    """Seed status: 0 normal, 1 overdue, 2 unauthenticated. Never verified, or unreachable when last
    verified (our 3), is 2: the authorization has not been confirmed to work."""
    if endpoint.status in (Status.NORMAL, Status.OVERDUE, Status.UNAUTHENTICATED):
        return int(endpoint.status)
    return int(Status.UNAUTHENTICATED)


# --- creating ---------------------------------------------------------------------------------------


def normal_repo_type(value: str) -> str:
    key = (value or "").strip().lower()
    key = REPO_TYPE_ALIASES.get(key, key)
    if key not in REPO_TYPES:
        raise Refused(
            "not_implemented",
            _("Repository type %(type)s is not supported; choose one of: %(types)s.")
            % {"type": "'" + str(value)[:40] + "'", "types": ", ".join(REPO_TYPES)},
        )
    return key


def oauth_unavailable(repo_type: str) -> Refused:
    return Refused(
        "not_implemented",
        _(
            "OAuth authorization is not available for %(type)s: this console has no OAuth application registered "
            "with it. Create a private-token authorization (POST …/git/auths/%(type)s/personal) or a password "
            "authorization instead."
        )
        % {"type": repo_type},
    )


def _has_repository_path(url: str) -> bool:
    try:
        return bool(urlsplit(url).path.strip("/"))
    except ValueError:
        return True  # let the URL validation explain what is wrong


def _plan(repo_type: str, kind: str, body: dict, names: dict) -> tuple[dict, dict, dict]:
    """(create_endpoint data, meta, our field name → the body key that carried it)."""
    if kind == "oauth":
        raise oauth_unavailable(repo_type)
    target = TARGET_TYPE[kind].get(repo_type)
    if target is None:
        supported = [rt for rt in REPO_TYPES if rt in TARGET_TYPE[kind]]
        raise Refused(
            "not_implemented",
            _("%(kind)s authorization is not available for repository type %(type)s; it is for: %(types)s.")
            % {"kind": kind.capitalize(), "type": repo_type, "types": ", ".join(supported)},
        )
    secret_key = "token" if kind == "personal" else "password"
    secret = body.get(secret_key)
    host = body.get("host") or ""
    user = body.get("user") or ""
    if not user and kind == "personal":
        user = DEFAULT_TOKEN_USER.get(repo_type, "")
    if target == "git" and host and not _has_repository_path(host):
        raise Refused(
            "invalid",
            errors={
                names.get("host", "host"): [
                    _(
                        "A %(type)s authorization serves one repository: give its HTTPS clone URL, such as "
                        "https://host.example/group/repo.git."
                    )
                    % {"type": repo_type}
                ]
            }
        )
    fields = {
        "git": {"url": host, "username": user, "password": secret},
        "hosted_repo": {"url": host, "username": user, "password": secret},
        "gitlab": {"url": host, "username": user, "token": secret},
        "bitbucket": {"username": user, "api_url": host, "token": secret},
        "codeup": {"username": user, "url": host, "token": secret},
    }[target]
    data = {"name": body["name"], "type": target, **fields}
    for key in ("scope", "members", "ca_bundle", "skip_tls_verify"):
        if body.get(key) is not None:
            data[key] = body[key]
    body_names = {
        "url": names.get("host", "host"),
        "api_url": names.get("host", "host"),
        "username": names.get("user", "user"),
        "password": names.get(secret_key, secret_key),
        "token": names.get(secret_key, secret_key),
    }
    return data, {META_AUTH_KIND: kind, META_REPO_TYPE: repo_type}, body_names


def create_authorization(actor, project, repo_type: str, kind: str, body: dict, names: dict | None = None):
    """Create (and verify) the service endpoint behind a new authorization; ``Refused`` says why not."""
    repo_type = normal_repo_type(repo_type)
    data, meta, body_names = _plan(repo_type, kind, body, names or {})
    taken = Refused(
        "exists",
        _("An authorization or service endpoint named “%(name)s” already exists in this project.")
        % {"name": data["name"]},
    )
    if ServiceEndpoint.objects.filter(project=project, name__iexact=data["name"]).exists():
        raise taken
    try:
        endpoint = services.create_endpoint(actor, project, data, meta=meta)
    except DjangoValidationError as exc:
        errors = {body_names.get(k, k): [str(m) for m in v] for k, v in exc.message_dict.items()}
        raise Refused("invalid", errors=errors) from None
    except IntegrityError:  # the same name, created concurrently
        raise taken from None
    services.verify_endpoint(actor, endpoint)
    return endpoint
