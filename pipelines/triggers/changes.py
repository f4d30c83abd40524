"""Changed files of a push or merge request, computed from the repository when the payload omits them
(GitHub lists at most 2048 commits, GitLab 20, Codeup no files at all, merge request payloads none).

The pipeline's first code source is fetched through its service endpoint into a temporary bare
repository (``--filter=blob:none``: commits and trees only), as the pipeline creator (A6: webhooks run
as the creator, who must still be allowed to use the endpoint). Git talks to the server in the shared
askpass environment (``endpoints.connectors._gitcmd.git_environment``): credentials never on a command
line, in a URL or in the environment. Then

* push: the files of every commit in ``before..after`` (a new branch: commits not on the source's default
  branch);
* merge request: ``target...head`` (the merge request's diff); merged: the merge commit's first-parent diff.

``changed_files`` answers ``(files, "")`` or ``(None, why)``; the caller then matches on branches alone.
"""

from __future__ import annotations

import os
import re

from devops_console.core.logmask import active_secrets
from endpoints.connectors import ConnectorError
from endpoints.connectors._gitcmd import GIT, _run, classify_git_failure, git_environment
from pipelines.definition import CODE_SOURCE_KINDS
from pipelines.runs.preflight import usable_endpoint

from .providers import ZERO_SHA

FETCH_TIMEOUT = 120
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_REF = re.compile(r"[A-Za-z0-9._/\-+@]{1,255}")
PULL_REFS = {"github": "refs/pull/{n}/head", "gitee": "refs/pull/{n}/head", "gitlab": "refs/merge-requests/{n}/head"}


class _Missing(Exception):
    """A commit the comparison needs cannot be fetched."""


def _source(pipeline) -> dict | None:
    return next((s for s in pipeline.definition.get("sources", []) if s.get("kind") in CODE_SOURCE_KINDS), None)


def changed_files(pipeline, provider: str, event: dict) -> tuple[list[str] | None, str]:
    """The changed files of the push or merge request ``event`` (an ``Incoming.as_dict()``)."""
    from pipelines.executors.checkout import git_remote

    source = _source(pipeline)
    if source is None:
        return None, "the pipeline has no Git source to compute the changed files from"
    endpoint, why = usable_endpoint(pipeline.creator, pipeline.project_id, source.get("endpoint"), source["alias"])
    if endpoint is None:
        return None, f"the changed files cannot be computed: {why}"
    try:
        ctx, url, username, password = git_remote(endpoint, source.get("repository", ""), FETCH_TIMEOUT)
        with (
            active_secrets([password, *ctx.secrets.values()]),
            git_environment(ctx, url, username, password) as (
                env,
                config,
            ),
        ):
            repo = _Repo(env, config, url, ctx)
            if event["kind"] == "push":
                return _push(repo, event, source.get("default_branch") or ""), ""
            return _merge_request(repo, provider, event), ""
    except _Missing as exc:
        return None, f"the changed files cannot be computed: {exc}"
    except ConnectorError as exc:
        return None, f"the changed files cannot be computed: {exc}"


class _Repo:
    """A temporary bare repository in git_environment's private directory (removed with it)."""

    def __init__(self, env: dict, config: list[str], url: str, ctx):
        self.env, self.config, self.url, self.ctx = env, config, url, ctx
        self.path = os.path.join(env["HOME"], "changes.git")
        self.git("init", "--quiet", "--bare", self.path)
        for key, value in (
            ("core.repositoryformatversion", "1"),
            ("remote.origin.url", url),
            ("remote.origin.promisor", "true"),
            ("remote.origin.partialclonefilter", "blob:none"),
            ("extensions.partialClone", "origin"),
        ):
            self.git("config", key, value)

    def git(self, *args: str, network: bool = False) -> tuple[str, int, str]:
        prefix = [GIT, *self.config] if network else [GIT]
        cwd = self.env["HOME"]
        cmd = [*prefix, *args] if args[0] == "init" else [*prefix, "--git-dir", self.path, *args]
        out, err, code = _run(cmd, self.env, cwd, FETCH_TIMEOUT)
        return out, code, err

    def fetch(self, *refspecs: str) -> bool:
        """Fetch (commits and trees only); False when the server refuses those refs or shas."""
        args = ["fetch", "--quiet", "--no-tags", "--filter=blob:none", "--no-write-fetch-head", "origin", *refspecs]
        _out, code, err = self.git(*args, network=True)
        if code == 0:
            return True
        lowered = err.lower()
        if "couldn't find remote ref" in lowered or "not our ref" in lowered or "no such remote ref" in lowered:
            return False
        if "upload-pack: not our ref" in lowered or "unadvertised object" in lowered:
            return False
        raise classify_git_failure(err, self.ctx)

    def has(self, sha: str) -> bool:
        return self.git("cat-file", "-e", f"{sha}^{{commit}}")[1] == 0

    def ensure(self, sha: str, *refspecs: str) -> None:
        """Make commit ``sha`` present: through ``refspecs`` first, then by itself."""
        if not _SHA.fullmatch(sha or ""):
            raise _Missing(f"no valid commit id ({sha[:12] or 'none'})")
        if self.has(sha):
            return
        if refspecs and self.fetch(*refspecs) and self.has(sha):
            return
        if not (self.fetch(sha) and self.has(sha)):
            raise _Missing(f"commit {sha[:12]} is not in the repository (force-pushed or deleted?)")

    def names(self, *args: str) -> list[str]:
        out, code, err = self.git(*args)
        if code != 0:
            raise _Missing(f"git {args[0]} failed ({err.strip()[:200]})")
        return list(dict.fromkeys(line for line in out.splitlines() if line.strip()))


def _branch_refspec(branch: str, local: str) -> str:
    if not _REF.fullmatch(branch or "") or ".." in branch:
        raise _Missing(f"not a valid branch name ({branch[:60]!r})")
    return f"+refs/heads/{branch}:refs/{local}"


def _push(repo: _Repo, event: dict, default_branch: str) -> list[str]:
    after, before = event.get("commit", ""), event.get("before", "")
    repo.ensure(after, _branch_refspec(event["branch"], "pushed"))
    if before and before != ZERO_SHA:
        repo.ensure(before)
        return repo.names("log", "--format=", "--name-only", "--no-renames", f"{before}..{after}")
    if default_branch and default_branch != event["branch"] and repo.fetch(_branch_refspec(default_branch, "base")):
        return repo.names("log", "--format=", "--name-only", "--no-renames", after, "--not", "refs/base")
    return repo.names("diff-tree", "--root", "--no-commit-id", "-r", "--name-only", "--no-renames", after)


def _merge_request(repo: _Repo, provider: str, event: dict) -> list[str]:
    extra = event.get("extra") or {}
    if event.get("action") == "merged" and _SHA.fullmatch(event.get("commit") or ""):
        merge = event["commit"]
        repo.ensure(merge, _branch_refspec(event["target_branch"], "target"))
        parents = repo.names("rev-list", "--parents", "-n", "1", merge)[0].split()[1:]
        if parents:
            return repo.names("diff", "--name-only", "--no-renames", f"{merge}^1", merge)
        return repo.names("diff-tree", "--root", "--no-commit-id", "-r", "--name-only", merge)
    head = extra.get("head_sha") or event.get("commit", "")
    refspecs = [_branch_refspec(event["target_branch"], "target")]
    pull = PULL_REFS.get(provider)
    if pull and str(event.get("number", "")).isdigit():
        refspecs.append(f"+{pull.format(n=event['number'])}:refs/head")
    elif event.get("source_branch"):
        refspecs.append(_branch_refspec(event["source_branch"], "head"))
    if not repo.fetch(refspecs[0]):
        raise _Missing(f"the target branch {event['target_branch']} is not in the repository")
    for refspec in refspecs[1:]:
        repo.fetch(refspec)
    repo.ensure(head)
    return repo.names("diff", "--name-only", "--no-renames", f"refs/target...{head}")
