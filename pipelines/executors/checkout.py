"""Check out a task's source into ``ctx.workspace / "src"`` (build, code check, API test).

Code sources (repo, git, github_app) are cloned shallowly (``--depth 1 --branch <ref>``) at the ref and
commit ``start`` resolved (``pipelines.runs.sources``); when the branch moved since, that commit is
fetched by itself. Git talks to the server through the endpoint's credentials in the shared askpass
environment (``endpoints.connectors._gitcmd.git_environment``): never on a command line, in a URL, in
the log or in the process list; the endpoint's CA bundle / skip-TLS-verify option applies. The run's
starter must still be allowed to use the endpoint. The commit goes to ``Run.sources[alias]`` (and
``Run.commit_id`` / ``commit_message``), and the endpoint's use is recorded once per run.

A release source copies the files of the resolved package version into ``src``; a Docker source has
nothing to check out (its image reference is logged).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from devops_console.core.logmask import Masker, active_secrets
from endpoints.connectors import ConnectorError
from endpoints.connectors._gitcmd import GIT, git_environment
from endpoints.connectors._http import HttpClient
from endpoints.connectors.bitbucket import workspace_and_user
from endpoints.connectors.codeup import clone_url as codeup_clone_url
from endpoints.connectors.hosted_repo import repository_url
from endpoints.models import AuditEntry
from endpoints.services import record_use
from pipelines.definition import CODE_SOURCE_KINDS
from pipelines.runs.models import BuildPackage, Run
from pipelines.runs.preflight import starter_of, usable_endpoint
from pipelines.runs.sources import code_ref, connector_context

CLONE_LOW_SPEED_SECONDS = 60


class CheckoutFailed(Exception):
    """The source could not be checked out; the message says why (no secret in it)."""


def _repo_path(repository: str) -> str:
    path = (repository or "").strip().strip("/")
    return path[: -len(".git")] if path.endswith(".git") else path


def git_remote(endpoint, repository: str, timeout: float | None = None):
    """``(connector context, clone URL, username, password)`` of ``repository`` through ``endpoint``."""
    ctx = connector_context(endpoint, timeout)
    kind, path = endpoint.type, _repo_path(repository)
    if kind == "git":  # a generic Git endpoint serves only its own repository
        return ctx, ctx.field("url"), ctx.field("username"), ctx.secret("password")
    if kind == "hosted_repo":
        return ctx, repository_url(ctx, repository), ctx.field("username"), ctx.secret("password")
    if kind == "codeup":
        return ctx, codeup_clone_url(ctx, repository), ctx.field("username"), ctx.secret("token")
    if kind == "gitlab":
        base = ctx.field("url", "https://gitlab.com").rstrip("/").removesuffix("/api/v4")
        return ctx, f"{base}/{path}.git", ctx.field("username") or "oauth2", ctx.secret("token")
    if kind == "bitbucket":
        return (
            ctx,
            f"https://bitbucket.org/{path}.git",
            workspace_and_user(ctx.field("username"))[1],
            ctx.secret("token"),
        )
    if kind == "github_app":
        from endpoints.connectors import github_app

        with HttpClient(ctx) as http:
            token, _expires = github_app._installation_token(ctx, http)
        api = ctx.field("api_url", github_app.DEFAULT_API_URL).rstrip("/")
        host = "https://github.com" if api == github_app.DEFAULT_API_URL else api.removesuffix("/api/v3")
        return ctx, f"{host}/{path}.git", "x-access-token", token
    raise ConnectorError(f"{kind} endpoints cannot serve a code source")


def prepare(ctx, alias: str | None) -> Path:
    """``ctx.workspace / "src"`` with the aliased source in it (empty without an alias)."""
    src = ctx.workspace / "src"
    src.mkdir(exist_ok=True)
    if not alias:
        return src
    source = next((s for s in ctx.run.snapshot.get("sources", []) if s.get("alias") == alias), None)
    if source is None:
        raise CheckoutFailed(_("The pipeline has no source “%(alias)s”.") % {"alias": alias})
    if source["kind"] in CODE_SOURCE_KINDS:
        _checkout_git(ctx, source, src)
    elif source["kind"] == "release":
        _copy_release(ctx, source, src)
    elif source["kind"] == "docker":
        resolved = ctx.run.sources.get(alias, {})
        ctx.log.line(f"source {alias}: image {resolved.get('image', '?')} (nothing to check out)")
    return src


def _git(src: Path, env: dict, *args: str) -> str:
    """A local git command (no network) in ``src``; its output."""
    result = subprocess.run(
        [GIT, "-C", str(src), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise CheckoutFailed(_("git %(cmd)s failed: %(err)s") % {"cmd": args[0], "err": result.stderr.strip()[:200]})
    return result.stdout


def _checkout_git(ctx, source: dict, src: Path) -> None:
    run, alias = ctx.run, source["alias"]
    endpoint, why = usable_endpoint(starter_of(run), run.pipeline.project_id, source.get("endpoint"), alias)
    if endpoint is None:
        raise CheckoutFailed(why)
    resolved = run.sources.get(alias) or {}
    branch, tag = code_ref(run.snapshot, source, run.branch, run.tag)
    branch, tag = resolved.get("source_branch", branch), resolved.get("tag", tag)
    ref, commit = tag or branch, resolved.get("commit_id", "")
    repository = source.get("repository", "")
    timeout = ctx.config.get("timeout_minutes", 60) * 60
    try:
        remote, url, username, password = git_remote(endpoint, repository, CLONE_LOW_SPEED_SECONDS)
        secrets = [password, *remote.secrets.values()]
        ctx.secrets.extend(s for s in secrets if s)
        ctx.log.masker = Masker(ctx.secrets)
        with active_secrets(secrets), git_environment(remote, url, username, password) as (env, config):
            clone = [GIT, *config, "clone", "--quiet", "--depth", "1", "--branch", ref, "--", url, str(src)]
            if ctx.run_command(clone, cwd=ctx.workspace, env=env, timeout=timeout) != 0:
                raise CheckoutFailed(
                    _("Cloning %(repo)s at %(ref)s failed (see the log).") % {"repo": repository, "ref": ref}
                )
            if commit and _git(src, env, "rev-parse", "HEAD").strip() != commit:
                fetch = [GIT, *config, "-C", str(src), "fetch", "--quiet", "--depth", "1", "origin", commit]
                if ctx.run_command(fetch, cwd=ctx.workspace, env=env, timeout=timeout) != 0:
                    raise CheckoutFailed(
                        _("%(ref)s moved since the run started and commit %(commit)s cannot be fetched.")
                        % {"ref": ref, "commit": commit[:12]}
                    )
                _git(src, env, "checkout", "--quiet", "--detach", commit)
            sha, _sep, subject = _git(src, env, "log", "-1", "--format=%H%n%s").partition("\n")
    except ConnectorError as exc:
        raise CheckoutFailed(_("Source %(alias)s: %(problem)s") % {"alias": alias, "problem": str(exc)}) from None
    ctx.log.line(f"checked out {repository} {ref} {sha}")
    entry = {"repository": repository, "source_branch": branch, "tag": tag, "commit_id": sha}
    _record(ctx, alias, endpoint, entry, subject.strip())


def _record(ctx, alias: str, endpoint, entry: dict, subject: str) -> None:
    """Store the commit on the run (under its row lock: parallel tasks) and record the endpoint's use once."""
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("pipeline").get(pk=ctx.run.pk)
        run.sources = {**run.sources, alias: {**run.sources.get(alias, {}), **entry}}
        if not run.commit_id:
            run.commit_id = entry["commit_id"]
        if run.commit_id == entry["commit_id"] and not run.commit_message:
            run.commit_message = subject[:500]
        run.save(update_fields=["sources", "commit_id", "commit_message"])
        detail = f"{run.pipeline} #{run.number}"
        used = AuditEntry.objects.filter(endpoint=endpoint, action=AuditEntry.Action.USE, detail=detail)
        if not used.exists():
            record_use(endpoint, run.triggered_by, detail)
    ctx.run.sources, ctx.run.commit_id, ctx.run.commit_message = run.sources, run.commit_id, run.commit_message


def _copy_release(ctx, source: dict, src: Path) -> None:
    resolved = ctx.run.sources.get(source["alias"]) or {}
    packages = BuildPackage.objects.filter(
        pk__in=resolved.get("package_ids", []), project_id=ctx.run.pipeline.project_id
    )
    if not packages:
        raise CheckoutFailed(
            _("Source %(alias)s: its package is no longer in the release repository.") % {"alias": source["alias"]}
        )
    for package in packages:
        target = (src / package.filename).resolve()
        if src.resolve() not in target.parents:
            continue
        os.makedirs(target.parent, exist_ok=True)
        with package.file.open("rb") as handle, open(target, "wb") as out:
            shutil.copyfileobj(handle, out)
    ctx.log.line(
        f"source {source['alias']}: {resolved.get('package')} {resolved.get('version')} ({len(packages)} file(s))"
    )
