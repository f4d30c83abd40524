"""Bitbucket Cloud endpoints: basic auth ``username:token`` against the 2.0 REST API (E7, E10)."""

from __future__ import annotations

import re
from urllib.parse import quote

from ._base import STATUS_NORMAL, AuthenticationFailed, ConnectorError, Context, VerifyResult
from ._http import HttpClient, json_or_none, unexpected_status

DEFAULT_API_URL = "https://api.bitbucket.org/2.0"
_SLUG_RE = re.compile(r"^[A-Za-z0-9_.{}-]+$")


def workspace_and_user(value: str) -> tuple[str, str]:
    """``"workspace/user"`` gives both; a single name is used as workspace and username."""
    value = (value or "").strip()
    if "/" in value:
        workspace, user = value.split("/", 1)
        return workspace.strip(), user.strip()
    return value, value


def _api(ctx: Context) -> str:
    return ctx.field("api_url", DEFAULT_API_URL).rstrip("/")


def _auth(ctx: Context) -> tuple[str, str]:
    _workspace, user = workspace_and_user(ctx.field("username"))
    if not user or not ctx.secret("token"):
        raise AuthenticationFailed("unauthenticated: username and token are required")
    return user, ctx.secret("token")


def verify(ctx: Context) -> VerifyResult:
    """200 from ``/user`` is normal; 401/403 unauthenticated."""
    with HttpClient(ctx) as http:
        response = http.get(f"{_api(ctx)}/user", auth=_auth(ctx), headers={"Accept": "application/json"})
    if response.status_code == 200:
        body = json_or_none(response)
        login = body.get("username") or body.get("nickname") if isinstance(body, dict) else None
        who = f" as {login}" if isinstance(login, str) and 0 < len(login) < 256 else ""
        return VerifyResult(STATUS_NORMAL, f"authenticated{who}")
    if response.status_code in (401, 403):
        raise AuthenticationFailed(f"unauthenticated: Bitbucket rejected the credentials "
                                   f"(HTTP {response.status_code})")
    raise unexpected_status(response)


def _next(response) -> str | None:
    body = json_or_none(response)
    nxt = body.get("next") if isinstance(body, dict) else None
    return nxt if isinstance(nxt, str) else None


def _values(response) -> list:
    body = json_or_none(response)
    values = body.get("values") if isinstance(body, dict) else None
    return [v for v in (values or []) if isinstance(v, dict)]


def _repo(item: dict) -> dict:
    clone = ""
    for link in (item.get("links") or {}).get("clone") or []:
        if isinstance(link, dict) and link.get("name") == "https":
            clone = str(link.get("href") or "")
    return {"name": item.get("name") or item.get("slug", ""), "full_name": item.get("full_name", ""),
            "clone_url": clone}


def _list(ctx: Context, path: str, convert) -> list:
    with HttpClient(ctx) as http:
        items = http.paginate(f"{_api(ctx)}{path}", params={"pagelen": 100}, auth=_auth(ctx),
                              headers={"Accept": "application/json"}, items_of=_values, next_of=_next)
        return [convert(item) for item in items]


def _full_name(repository: str) -> str:
    name = (repository or "").strip().strip("/")
    if name.endswith(".git"):
        name = name[: -len(".git")]
    parts = name.split("/")
    if len(parts) != 2 or not all(_SLUG_RE.match(p) for p in parts):
        raise ConnectorError("the repository must be given as workspace/repo_slug")
    return "/".join(quote(p, safe="{}") for p in parts)


def list_repositories(ctx: Context) -> list[dict]:
    """Repositories of the workspace."""
    workspace, _user = workspace_and_user(ctx.field("username"))
    if not workspace or not _SLUG_RE.match(workspace):
        raise ConnectorError("the workspace is not set")
    return _list(ctx, f"/repositories/{quote(workspace, safe='{}')}", _repo)


def list_branches(ctx: Context, repository: str) -> list[str]:
    """Branch names of ``workspace/repo_slug``."""
    return _list(ctx, f"/repositories/{_full_name(repository)}/refs/branches", lambda i: str(i.get("name", "")))


def list_tags(ctx: Context, repository: str) -> list[str]:
    """Tag names of ``workspace/repo_slug``."""
    return _list(ctx, f"/repositories/{_full_name(repository)}/refs/tags", lambda i: str(i.get("name", "")))
