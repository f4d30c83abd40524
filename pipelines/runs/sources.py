"""Resolve a run's sources when it starts (X1, P2, K2; R2 values): what each alias means for this run.

* Code sources (repo, git, github_app): the run's branch or tag applies to the first code source (the one
  ``start`` takes the default branch from); any other code source uses its own default branch. The ref
  must exist (``git ls-remote`` through the endpoint): an unknown branch is refused as ``{"branch": …}``
  (``{"tag": …}`` for a tag). Its commit is recorded, so every task of the run (and a retry) checks out
  the same commit.
* Release repository: Latest is the newest build package of the project with that package name (built
  on a branch matching the source's branch filter, if any); Specific must exist. Packages are kept per
  project without directories, so the source's top-level directory only labels it.
* Docker: tags come from the registry (``/v2/<org>/<image>/tags/list``, basic auth or the bearer
  challenge). Image tags carry no branch, so a branch filter is matched against the tag names. Latest is
  the highest version-like tag (``v1.10.0`` > ``v1.9.2`` > ``1.9.2-rc1``), else ``latest``, else the
  greatest name; Specific must exist.

The result goes to ``Run.sources[alias]``. Network calls happen before the run's transaction
(``start.start_run``); ``Resolution.matches`` notices a definition changed meanwhile. Endpoints the
starter may not use, or whose credential expired, are not contacted here: preflight fails the run.
Errors are keyed ``sources`` with the alias in each message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from devops_console.core.logmask import active_secrets
from endpoints.connectors import ConnectorError, TlsOptions
from endpoints.connectors._base import Context
from endpoints.connectors._gitcmd import ls_remote
from endpoints.connectors._http import HttpClient, json_or_none
from endpoints.connectors.docker_registry import _fetch_token, parse_challenge
from endpoints.services import endpoint_values
from pipelines.definition import CODE_SOURCE_KINDS
from pipelines.runs.models import BuildPackage
from pipelines.runs.preflight import usable_endpoint

MAX_TAG_PAGES = 20
MAX_PACKAGES = 2000
_VERSION_RE = re.compile(r"[vV]?(\d+(?:\.\d+)*)(.*)")


@dataclass
class Resolution:
    basis: list  # the definition's sources this was resolved from
    sources: dict = field(default_factory=dict)  # alias -> resolved values
    errors: dict = field(default_factory=dict)
    commit_id: str = ""  # of the first code source

    def matches(self, definition: dict) -> bool:
        """Whether ``definition`` still has the sources this was resolved from."""
        return definition.get("sources", []) == self.basis


def primary_alias(definition: dict) -> str | None:
    return next((s.get("alias") for s in definition.get("sources", []) if s.get("kind") in CODE_SOURCE_KINDS), None)


def code_ref(definition: dict, source: dict, branch: str, tag: str) -> tuple[str, str]:
    """(branch, tag) a code source uses in a run started on ``branch`` / ``tag``."""
    if source.get("alias") == primary_alias(definition):
        return ("", tag) if tag else (branch or source.get("default_branch", ""), "")
    return source.get("default_branch", ""), ""


def glob_match(pattern: str, value: str) -> bool:
    """T4 patterns: ``*`` within one path segment, ``**`` across segments, ``?`` one character."""
    regex = "".join(
        ".*" if part == "**" else "[^/]*" if part == "*" else "[^/]" if part == "?" else re.escape(part)
        for part in re.findall(r"\*\*|\*|\?|[^*?]+", pattern)
    )
    return re.fullmatch(regex, value) is not None


def version_key(tag: str) -> tuple:
    """Sort key for "Latest": version-like tags above others, numerically; a release above its pre-releases."""
    match = _VERSION_RE.fullmatch(tag)
    if not match:
        return (0, (), 0, tag)
    numbers = tuple(int(n) for n in match.group(1).split("."))
    rest = match.group(2)
    return (1, numbers, 0 if rest else 1, rest)


def latest_tag(tags: list[str]) -> str | None:
    if not tags:
        return None
    best = max(tags, key=version_key)
    if version_key(best)[0] == 0 and "latest" in tags:
        return "latest"
    return best


def connector_context(endpoint, timeout: float | None = None) -> Context:
    fields, secrets = endpoint_values(endpoint)
    return Context(
        fields,
        secrets,
        TlsOptions(ca_bundle=endpoint.ca_bundle or "", skip_verify=endpoint.skip_tls_verify),
        timeout or settings.ENDPOINT_VERIFY_TIMEOUT,
        settings.ENDPOINT_VERIFY_ALLOW_LINK_LOCAL,
    )


def resolve_sources(actor, pipeline, definition: dict, branch: str, tag: str, *, check: bool = True) -> Resolution:
    """Resolve every source of ``definition`` for a run of ``pipeline`` on ``branch`` / ``tag``."""
    resolution = Resolution(basis=list(definition.get("sources", [])))
    if not check:
        return resolution
    user = actor or pipeline.creator
    for source in resolution.basis:
        alias, kind = source.get("alias"), source.get("kind")
        try:
            if kind in CODE_SOURCE_KINDS:
                _resolve_code(resolution, user, pipeline, definition, source, branch, tag)
            elif kind == "release":
                resolution.sources[alias] = _resolve_release(pipeline, source)
            elif kind == "docker":
                endpoint, _why = usable_endpoint(user, pipeline.project_id, source.get("endpoint"), alias)
                if endpoint is not None:
                    resolution.sources[alias] = _resolve_docker(endpoint, source)
        except ConnectorError as exc:
            message = _("Source %(alias)s: %(problem)s") % {"alias": alias, "problem": str(exc)}
            resolution.errors.setdefault("sources", []).append(message)
    return resolution


def _resolve_code(resolution, user, pipeline, definition, source, branch, tag) -> None:
    from pipelines.executors.checkout import git_remote

    alias = source["alias"]
    endpoint, _why = usable_endpoint(user, pipeline.project_id, source.get("endpoint"), alias)
    if endpoint is None:
        return
    ref_branch, ref_tag = code_ref(definition, source, branch, tag)
    ctx, url, username, password = git_remote(endpoint, source.get("repository", ""))
    with active_secrets([password, *ctx.secrets.values()]):
        listed = ls_remote(ctx, url, username, password, heads=bool(ref_branch), tags=bool(ref_tag))
    refs = {ref: sha for sha, ref in listed}
    if ref_tag:
        commit = refs.get(f"refs/tags/{ref_tag}^{{}}") or refs.get(f"refs/tags/{ref_tag}")
    else:
        commit = refs.get(f"refs/heads/{ref_branch}")
    if not commit:
        what = {"repo": source.get("repository", ""), "ref": ref_tag or ref_branch}
        if alias != primary_alias(definition):
            message = _("Source %(alias)s: branch “%(ref)s” does not exist in %(repo)s.") % {**what, "alias": alias}
            resolution.errors.setdefault("sources", []).append(message)
        elif ref_tag:
            resolution.errors["tag"] = [_("Tag “%(ref)s” does not exist in %(repo)s.") % what]
        else:
            resolution.errors["branch"] = [_("Branch “%(ref)s” does not exist in %(repo)s.") % what]
        return
    resolution.sources[alias] = {
        "repository": source.get("repository", ""),
        "source_branch": ref_branch,
        "tag": ref_tag,
        "commit_id": commit,
    }
    if alias == primary_alias(definition):
        resolution.commit_id = commit


def _resolve_release(pipeline, source: dict) -> dict:
    packages = BuildPackage.objects.filter(project_id=pipeline.project_id, name=source["package"])
    pattern = source.get("branch_filter") or ""
    if pattern:
        packages = packages.select_related("run")
    candidates = [
        p
        for p in packages.order_by("-created", "-pk")[:MAX_PACKAGES]
        if not pattern or (p.run is not None and glob_match(pattern, p.run.branch))
    ]
    on_branch = _(" built on a branch matching “%(pattern)s”") % {"pattern": pattern} if pattern else ""
    if source.get("version_strategy") == "specific":
        version = source["version"]
        if not any(p.version == version for p in candidates):
            raise ConnectorError(
                _("version %(version)s of package “%(package)s”%(where)s is not in the release repository.")
                % {"version": version, "package": source["package"], "where": on_branch}
            )
    elif candidates:
        version = candidates[0].version
    else:
        raise ConnectorError(
            _("the release repository has no package “%(package)s”%(where)s yet.")
            % {"package": source["package"], "where": on_branch}
        )
    chosen = [p for p in candidates if p.version == version]
    return {
        "package": source["package"],
        "version": version,
        "package_id": chosen[0].pk,
        "package_ids": [p.pk for p in chosen],
    }


def registry_tags(endpoint, organization: str, image: str) -> list[str]:
    """Every tag of ``organization/image`` in the endpoint's registry (Docker registry HTTP API v2)."""
    ctx = connector_context(endpoint)
    base = ctx.field("url").rstrip("/").removesuffix("/v2")
    name = f"{organization}/{image}"
    url = f"{base}/v2/{name}/tags/list"
    username, password = ctx.field("username"), ctx.secret("password")
    auth = (username, password) if (username or password) else None
    tags: list[str] = []
    with active_secrets([password]), HttpClient(ctx) as http:
        headers: dict[str, str] = {}
        response = http.get(url, params={"n": 1000}, auth=auth)
        if response.status_code == 401:
            scheme, challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            if scheme == "bearer" and challenge.get("realm"):
                challenge.setdefault("scope", f"repository:{name}:pull")
                headers = {"Authorization": f"Bearer {_fetch_token(http, ctx, challenge, auth)}"}
                auth = None
                response = http.get(url, params={"n": 1000}, headers=headers)
        for _page in range(MAX_TAG_PAGES):
            if response.status_code == 404:
                raise ConnectorError(_("image %(name)s does not exist in the registry.") % {"name": name})
            if response.status_code in (401, 403):
                raise ConnectorError(
                    _("the registry refused to list the tags (HTTP %(code)s).") % {"code": response.status_code}
                )
            if response.status_code != 200:
                raise ConnectorError(_("the registry answered HTTP %(code)s.") % {"code": response.status_code})
            body = json_or_none(response)
            tags += [t for t in (body.get("tags") or []) if isinstance(t, str)] if isinstance(body, dict) else []
            following = response.links.get("next", {}).get("url")
            if not following:
                break
            response = http.get(urljoin(response.url, following), auth=auth, headers=headers)
    return tags


def _resolve_docker(endpoint, source: dict) -> dict:
    tags = registry_tags(endpoint, source["organization"], source["image"])
    pattern = source.get("branch_filter") or ""
    candidates = [t for t in tags if not pattern or glob_match(pattern, t)]
    name = f"{source['organization']}/{source['image']}"
    if source.get("version_strategy") == "specific":
        version = source["version"]
        if version not in candidates:
            raise ConnectorError(_("tag %(tag)s of image %(name)s does not exist.") % {"tag": version, "name": name})
    else:
        version = latest_tag(candidates)
        if version is None:
            raise ConnectorError(_("image %(name)s has no tag to use yet.") % {"name": name})
    host = urlsplit(str(endpoint.config.get("url") or "")).netloc
    return {"image": f"{host}/{name}:{version}", "version": version}
