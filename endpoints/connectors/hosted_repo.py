"""Hosted repo HTTPS endpoints (CodeArts Repo style): a URL prefix plus ``tenant/user`` credentials."""

from __future__ import annotations

from ._base import STATUS_NORMAL, ConnectorError, Context, VerifyResult
from ._gitcmd import branch_and_tag_names, ls_remote
from ._http import HttpClient, unexpected_status
from ._net import same_origin
from .git import repository_names


def repository_url(ctx: Context, repository: str) -> str:
    """``prefix/repository``; a full URL is accepted only when it lies under the prefix's host."""
    prefix = ctx.field("url").rstrip("/")
    if not prefix:
        raise ConnectorError("the repository URL prefix is not set")
    repo = (repository or "").strip()
    if not repo:
        raise ConnectorError("no repository given")
    if "://" in repo:
        if not same_origin(repo, prefix):
            raise ConnectorError("the repository URL is not under the endpoint's URL prefix")
        return repo
    return f"{prefix}/{repo.lstrip('/')}"


def verify(ctx: Context) -> VerifyResult:
    """ls-remote of ``prefix/repository`` when ``repository`` is set, else a GET of the prefix with basic auth."""
    repository = ctx.field("repository")
    username, password = ctx.field("username"), ctx.secret("password")
    if repository:
        refs = ls_remote(ctx, repository_url(ctx, repository), username, password, heads=True)
        count = len(branch_and_tag_names(refs, "refs/heads/"))
        return VerifyResult(STATUS_NORMAL, f"git ls-remote succeeded ({count} branch{'es' if count != 1 else ''})")
    prefix = ctx.field("url")
    if not prefix:
        raise ConnectorError("the repository URL prefix is not set")
    with HttpClient(ctx) as http:
        response = http.get(prefix, auth=(username, password), follow_redirects=False)
    if response.status_code in (401, 403):
        raise unexpected_status(response)
    return VerifyResult(STATUS_NORMAL, f"server reachable (HTTP {response.status_code})")


def list_repositories(ctx: Context) -> list[dict]:
    """The configured repository, if any (the prefix alone cannot be enumerated)."""
    repository = ctx.field("repository")
    if not repository:
        return []
    url = repository_url(ctx, repository)
    name, full_name = repository_names(url)
    if "://" not in repository:
        full_name = repository.strip("/")
    return [{"name": name, "full_name": full_name, "clone_url": url}]


def _ref_names(ctx: Context, repository: str, prefix: str) -> list[str]:
    url = repository_url(ctx, repository or ctx.field("repository"))
    refs = ls_remote(ctx, url, ctx.field("username"), ctx.secret("password"),
                     heads=prefix == "refs/heads/", tags=prefix == "refs/tags/")
    return branch_and_tag_names(refs, prefix)


def list_branches(ctx: Context, repository: str) -> list[str]:
    """Branches of ``prefix/repository``."""
    return _ref_names(ctx, repository, "refs/heads/")


def list_tags(ctx: Context, repository: str) -> list[str]:
    """Tags of ``prefix/repository``."""
    return _ref_names(ctx, repository, "refs/tags/")
