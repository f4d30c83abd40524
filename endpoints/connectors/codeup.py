"""Codeup (Alibaba Cloud DevOps) endpoints: ``x-yunxiao-token`` OpenAPI checks, git ls-remote browsing (E7, E10)."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

from ._base import STATUS_NORMAL, AuthenticationFailed, ConnectorError, Context, VerifyResult
from ._gitcmd import branch_and_tag_names, ls_remote
from ._http import HttpClient, json_list, json_or_none, unexpected_status, with_query_param
from ._net import same_origin

DEFAULT_API_URL = "https://openapi-rdc.aliyuncs.com"
DEFAULT_CLONE_URL = "https://codeup.aliyun.com"
PAGE_SIZE = 100


def _api(ctx: Context) -> str:
    return ctx.field("api_url", DEFAULT_API_URL).rstrip("/")


def _headers(ctx: Context) -> dict[str, str]:
    token = ctx.secret("token")
    if not token:
        raise AuthenticationFailed("unauthenticated: no personal access token is set")
    return {"x-yunxiao-token": token, "Accept": "application/json"}


def verify(ctx: Context) -> VerifyResult:
    """200 from ``/oapi/v1/platform/user`` is normal; 401/403 unauthenticated."""
    with HttpClient(ctx) as http:
        response = http.get(f"{_api(ctx)}/oapi/v1/platform/user", headers=_headers(ctx))
    if response.status_code == 200:
        body = json_or_none(response)
        login = (body.get("username") or body.get("name")) if isinstance(body, dict) else None
        who = f" as {login}" if isinstance(login, str) and 0 < len(login) < 256 else ""
        return VerifyResult(STATUS_NORMAL, f"authenticated{who}")
    if response.status_code in (401, 403):
        raise AuthenticationFailed(f"unauthenticated: Codeup rejected the token (HTTP {response.status_code})")
    raise unexpected_status(response)


def _clone_base(ctx: Context) -> str:
    return ctx.field("url", DEFAULT_CLONE_URL).rstrip("/")


def _repo(ctx: Context, item: dict) -> dict:
    path = str(item.get("pathWithNamespace") or item.get("path") or "")
    clone = str(item.get("httpUrlToRepo") or "")
    if not clone:
        web = str(item.get("webUrl") or "")
        clone = f"{web}.git" if web else (f"{_clone_base(ctx)}/{path}.git" if path else "")
    return {"name": str(item.get("name") or path.rsplit("/", 1)[-1]), "full_name": path, "clone_url": clone}


def _next_page(response) -> str | None:
    """``x-next-page`` when the server sends it; otherwise the next page number after a full page."""
    if "x-next-page" in response.headers:
        page = response.headers["x-next-page"].strip()
        return with_query_param(response.url, "page", page) if page.isdigit() else None
    if len(json_list(response)) >= PAGE_SIZE:
        current = parse_qs(urlsplit(response.url).query).get("page", ["1"])[0]
        return with_query_param(
            response.url, "page", str(int(current) + 1 if current.isascii() and current.isdigit() else 2)
        )
    return None


def list_repositories(ctx: Context) -> list[dict]:
    """Repositories of the organization (``organization_id`` is required)."""
    organization = ctx.field("organization_id")
    if not organization:
        raise ConnectorError("the organization ID is required to list Codeup repositories")
    url = f"{_api(ctx)}/oapi/v1/codeup/organizations/{quote(organization, safe='')}/repositories"
    with HttpClient(ctx) as http:
        items = http.paginate(
            url, params={"page": 1, "perPage": PAGE_SIZE}, headers=_headers(ctx), items_of=json_list, next_of=_next_page
        )
        return [_repo(ctx, item) for item in items]


def clone_url(ctx: Context, repository: str) -> str:
    """A clone URL for ``repository``: a full https URL on the Codeup host, or a ``group/repo`` path."""
    repo = (repository or "").strip()
    if not repo:
        raise ConnectorError("no repository given")
    base = _clone_base(ctx)
    if "://" in repo:
        if not same_origin(repo, base):
            raise ConnectorError("the repository URL is not on the Codeup host")
        return repo
    path = repo.strip("/")
    return f"{base}/{path}" if path.endswith(".git") else f"{base}/{path}.git"


def _ref_names(ctx: Context, repository: str, prefix: str) -> list[str]:
    refs = ls_remote(
        ctx,
        clone_url(ctx, repository),
        ctx.field("username"),
        ctx.secret("token"),
        heads=prefix == "refs/heads/",
        tags=prefix == "refs/tags/",
    )
    return branch_and_tag_names(refs, prefix)


def list_branches(ctx: Context, repository: str) -> list[str]:
    """Branch names via git ls-remote with the HTTPS clone username and token."""
    return _ref_names(ctx, repository, "refs/heads/")


def list_tags(ctx: Context, repository: str) -> list[str]:
    """Tag names via git ls-remote with the HTTPS clone username and token."""
    return _ref_names(ctx, repository, "refs/tags/")
