"""GitLab endpoints (gitlab.com or self-managed): personal access token via ``PRIVATE-TOKEN`` (E7, E10)."""

from __future__ import annotations

import json
from urllib.parse import quote

from ._base import (
    STATUS_NORMAL,
    AuthenticationFailed,
    ConnectorError,
    Context,
    CredentialExpired,
    VerifyResult,
)
from ._http import HttpClient, json_list, json_or_none, unexpected_status, with_query_param

DEFAULT_URL = "https://gitlab.com"
_EXPIRED_MARKERS = ("token expired", "token has expired", "token is expired")


def _base(ctx: Context) -> str:
    url = ctx.field("url", DEFAULT_URL).rstrip("/")
    if url.endswith("/api/v4"):
        url = url[: -len("/api/v4")]
    return url


def _headers(ctx: Context) -> dict[str, str]:
    token = ctx.secret("token")
    if not token:
        raise AuthenticationFailed("unauthenticated: no access token is set")
    return {"PRIVATE-TOKEN": token, "Accept": "application/json"}


def is_expired_answer(body: object) -> bool:
    """True when a 401 body says the token expired (``{"error_description": "Token has expired."}`` etc.)."""
    text = json.dumps(body).lower() if body is not None else ""
    return any(marker in text for marker in _EXPIRED_MARKERS)


def verify(ctx: Context) -> VerifyResult:
    """200 from ``/api/v4/user`` is normal; 401 unauthenticated, or overdue when the token expired."""
    with HttpClient(ctx) as http:
        response = http.get(f"{_base(ctx)}/api/v4/user", headers=_headers(ctx))
    if response.status_code == 200:
        body = json_or_none(response)
        login = body.get("username") if isinstance(body, dict) else None
        who = f" as @{login}" if isinstance(login, str) and 0 < len(login) < 256 else ""
        return VerifyResult(STATUS_NORMAL, f"authenticated{who}")
    if response.status_code == 401:
        if is_expired_answer(json_or_none(response)):
            raise CredentialExpired("overdue: the GitLab access token has expired")
        raise AuthenticationFailed("unauthenticated: GitLab rejected the access token (HTTP 401)")
    if response.status_code == 403:
        raise AuthenticationFailed("unauthenticated: the access token lacks the required scope (HTTP 403)")
    raise unexpected_status(response)


def _next_page(response) -> str | None:
    page = (response.headers.get("X-Next-Page") or "").strip()
    if not page.isdigit():
        return None
    return with_query_param(response.url, "page", page)


def _list(ctx: Context, path: str, params: dict, pick) -> list:
    with HttpClient(ctx) as http:
        return list(http.paginate(f"{_base(ctx)}/api/v4{path}", params={**params, "per_page": 100},
                                  headers=_headers(ctx), items_of=pick, next_of=_next_page))


def _project(repository: str) -> str:
    path = (repository or "").strip().strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    if not path:
        raise ConnectorError("no repository given")
    return quote(path, safe="")


def _projects(response) -> list[dict]:
    return [{"name": p.get("name") or p.get("path", ""), "full_name": p.get("path_with_namespace", ""),
             "clone_url": p.get("http_url_to_repo", "")} for p in json_list(response)]


def _names(response) -> list[str]:
    return [i["name"] for i in json_list(response) if isinstance(i.get("name"), str)]


def list_repositories(ctx: Context) -> list[dict]:
    """Projects the token's user is a member of."""
    return _list(ctx, "/projects", {"membership": "true", "simple": "true"}, _projects)


def list_branches(ctx: Context, repository: str) -> list[str]:
    """Branch names of ``group/project``."""
    return _list(ctx, f"/projects/{_project(repository)}/repository/branches", {}, _names)


def list_tags(ctx: Context, repository: str) -> list[str]:
    """Tag names of ``group/project``."""
    return _list(ctx, f"/projects/{_project(repository)}/repository/tags", {}, _names)
