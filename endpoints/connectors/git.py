"""Generic Git endpoints: ``git ls-remote`` against the repository URL (E7 verify, E10 browse)."""

from __future__ import annotations

from urllib.parse import urlsplit

from ._base import STATUS_NORMAL, ConnectorError, Context, VerifyResult
from ._gitcmd import branch_and_tag_names, ls_remote


def repository_names(url: str) -> tuple[str, str]:
    """(name, full_name) of a clone URL: ``https://h/org/app.git`` gives ``("app", "org/app")``."""
    path = urlsplit(url).path.strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    name = path.rsplit("/", 1)[-1] if path else urlsplit(url).hostname or url
    return name, path or name


def _repo_url(ctx: Context, repository: str) -> str:
    """The endpoint's own URL; ``repository`` may be "", the URL itself, its full name or its name."""
    url = ctx.field("url")
    if not url:
        raise ConnectorError("the Git repository URL is not set")
    name, full_name = repository_names(url)
    wanted = (repository or "").strip()
    if wanted in ("", url, url.rstrip("/"), full_name, name, full_name + ".git"):
        return url
    raise ConnectorError("a generic Git endpoint serves only its own repository")


def verify(ctx: Context) -> VerifyResult:
    """``git ls-remote --heads`` with the endpoint's credentials."""
    refs = ls_remote(ctx, _repo_url(ctx, ""), ctx.field("username"), ctx.secret("password"), heads=True)
    count = len(branch_and_tag_names(refs, "refs/heads/"))
    return VerifyResult(STATUS_NORMAL, f"git ls-remote succeeded ({count} branch{'es' if count != 1 else ''})")


def list_repositories(ctx: Context) -> list[dict]:
    """Just the endpoint's one repository (no network call)."""
    url = _repo_url(ctx, "")
    name, full_name = repository_names(url)
    return [{"name": name, "full_name": full_name, "clone_url": url}]


def list_branches(ctx: Context, repository: str) -> list[str]:
    """Branch names from ``git ls-remote --heads``."""
    refs = ls_remote(ctx, _repo_url(ctx, repository), ctx.field("username"), ctx.secret("password"), heads=True)
    return branch_and_tag_names(refs, "refs/heads/")


def list_tags(ctx: Context, repository: str) -> list[str]:
    """Tag names from ``git ls-remote --tags``."""
    refs = ls_remote(ctx, _repo_url(ctx, repository), ctx.field("username"), ctx.secret("password"), tags=True)
    return branch_and_tag_names(refs, "refs/tags/")
