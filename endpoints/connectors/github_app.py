"""GitHub App endpoints: app JWT (RS256) -> installation access token (E7), then REST browsing (E10)."""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import jwt

from ._base import STATUS_NORMAL, AuthenticationFailed, ConnectorError, Context, Unreachable, VerifyResult
from ._http import HttpClient, json_list, json_or_none, unexpected_status

DEFAULT_API_URL = "https://api.github.com"
ACCEPT = "application/vnd.github+json"
API_VERSION = "2022-11-28"
_FULL_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def app_jwt(client_id: str, private_key: str, now: float | None = None) -> str:
    """The app's RS256 JWT: ``iat`` = now - 60, ``exp`` = now + 540, ``iss`` = client ID."""
    if not client_id:
        raise AuthenticationFailed("unauthenticated: the GitHub App client ID is not set")
    issued = int(now if now is not None else time.time())
    try:
        return jwt.encode({"iat": issued - 60, "exp": issued + 540, "iss": client_id}, private_key,
                          algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError):
        raise AuthenticationFailed("unauthenticated: the private key is not a valid RSA private key (PEM)") from None


def _api(ctx: Context) -> str:
    return ctx.field("api_url", DEFAULT_API_URL).rstrip("/")


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": ACCEPT, "X-GitHub-Api-Version": API_VERSION}


def _installation_token(ctx: Context, http: HttpClient) -> tuple[str, str]:
    """POST .../access_tokens; return (token, expires_at)."""
    installation_id = ctx.field("installation_id")
    if not (installation_id.isascii() and installation_id.isdigit()):
        raise AuthenticationFailed("unauthenticated: the installation ID must be digits")
    token = app_jwt(ctx.field("client_id"), ctx.secret("private_key"))
    ctx.add_secret(token)
    response = http.request("POST", f"{_api(ctx)}/app/installations/{installation_id}/access_tokens",
                            headers=_headers(token))
    if response.status_code == 201:
        body = json_or_none(response)
        access = body.get("token") if isinstance(body, dict) else None
        if not isinstance(access, str) or not access:
            raise Unreachable("unreachable: GitHub answered without an installation token")
        ctx.add_secret(access)
        expires = body.get("expires_at")
        return access, expires if isinstance(expires, str) and len(expires) < 40 else ""
    if response.status_code == 401:
        raise AuthenticationFailed("unauthenticated: GitHub rejected the app JWT (check the client ID and "
                                   "the private key)")
    if response.status_code == 404:
        raise AuthenticationFailed("unauthenticated: installation not found")
    if response.status_code == 403:
        raise AuthenticationFailed("unauthenticated: GitHub refused an installation token (HTTP 403; "
                                   "the installation may be suspended)")
    raise unexpected_status(response)


def verify(ctx: Context) -> VerifyResult:
    """201 from the access-token endpoint is normal."""
    with HttpClient(ctx) as http:
        _token, expires = _installation_token(ctx, http)
    suffix = f" (expires {expires})" if expires else ""
    return VerifyResult(STATUS_NORMAL, f"installation access token issued{suffix}")


def _next_link(response) -> str | None:
    return response.links.get("next", {}).get("url")


def _list(ctx: Context, path: str, pick) -> list:
    with HttpClient(ctx) as http:
        token, _expires = _installation_token(ctx, http)
        items = http.paginate(f"{_api(ctx)}{path}", params={"per_page": 100}, headers=_headers(token),
                              items_of=pick, next_of=_next_link)
        return list(items)


def _full_name(repository: str) -> str:
    name = (repository or "").strip().strip("/")
    if name.endswith(".git"):
        name = name[: -len(".git")]
    if not _FULL_NAME_RE.match(name):
        raise ConnectorError("the repository must be given as owner/name")
    owner, repo = name.split("/")
    return f"{quote(owner, safe='')}/{quote(repo, safe='')}"


def _repositories(response) -> list[dict]:
    body = json_or_none(response)
    repos = body.get("repositories") if isinstance(body, dict) else None
    return [{"name": r.get("name", ""), "full_name": r.get("full_name", ""), "clone_url": r.get("clone_url", "")}
            for r in (repos or []) if isinstance(r, dict)]


def _names(response) -> list[str]:
    return [item["name"] for item in json_list(response) if isinstance(item.get("name"), str)]


def list_repositories(ctx: Context) -> list[dict]:
    """Repositories the installation can access."""
    return _list(ctx, "/installation/repositories", _repositories)


def list_branches(ctx: Context, repository: str) -> list[str]:
    """Branch names of ``owner/name``."""
    return _list(ctx, f"/repos/{_full_name(repository)}/branches", _names)


def list_tags(ctx: Context, repository: str) -> list[str]:
    """Tag names of ``owner/name``."""
    return _list(ctx, f"/repos/{_full_name(repository)}/tags", _names)
