"""Pipeline sources (P2): code repositories through endpoints, artifacts (release repository, Docker), none."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from .base import Checker, DefinitionContext, item, join, label_of, pattern_problem

SOURCE_KINDS = ("repo", "git", "github_app", "release", "docker", "none")
MAX_SOURCES = 10
VERSION_STRATEGIES = ("latest", "specific")

#: source kind -> endpoint types it accepts
ENDPOINT_TYPES = {
    "git": frozenset({"git", "hosted_repo", "gitlab", "bitbucket", "codeup"}),
    "github_app": frozenset({"github_app"}),
    "repo": frozenset({"hosted_repo", "git"}),
    "docker": frozenset({"docker_registry"}),
}
_CODE_KEYS = ("kind", "alias", "endpoint", "repository", "default_branch")
#: source kind -> its fields, in output order
KEYS = {
    "repo": _CODE_KEYS,
    "git": _CODE_KEYS,
    "github_app": _CODE_KEYS,
    "release": ("kind", "alias", "directory", "package", "branch_filter", "version_strategy", "version"),
    "docker": ("kind", "alias", "endpoint", "organization", "image", "branch_filter", "version_strategy", "version"),
    "none": ("kind",),
}
KIND_LABELS = {
    "repo": _l("a hosted repo source"),
    "git": _l("a Git source"),
    "github_app": _l("a GitHub App source"),
    "docker": _l("a Docker source"),
}

ALIAS_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
_REF_FORBIDDEN_RE = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_DOCKER_ORG_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOCKER_IMAGE_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
_DOCKER_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def is_git_ref_name(value: str) -> bool:
    """A usable branch name (``git check-ref-format --branch`` rules, simplified)."""
    if not value or len(value) > 200 or value.startswith("-") or value == "@":
        return False
    if _REF_FORBIDDEN_RE.search(value) or ".." in value or "@{" in value or "//" in value:
        return False
    if value.startswith("/") or value.endswith(("/", ".", ".lock")):
        return False
    return not any(part.startswith(".") or part.endswith(".lock") for part in value.split("/"))


def validate_sources(c: Checker, raw, ctx: DefinitionContext) -> list[dict]:
    """Normalized sources with unique aliases.

    Alias-derived system parameters (R2) of two different aliases never collide: no suffix is another
    suffix with a ``<word>_`` prefix, so uniqueness of the aliases is enough.
    """
    holder = {"sources": raw}
    items = c.items(holder, "sources", "", limit=MAX_SOURCES, what=_l("Sources"))
    out: list[dict] = []
    aliases: dict[str, int] = {}
    kinds = []
    for index, value in enumerate(items):
        path = item("sources", index)
        source = c.obj(value, path, what=_l("A source"), required=True)
        if source is None:
            continue
        kind = c.choice(source, "kind", path, SOURCE_KINDS)
        kinds.append(kind)
        if kind is None:
            continue
        if kind == "none" and source.get("alias") not in (None, ""):
            c.add(join(path, "alias"), _("A “none” source takes no alias."))
            source = {k: v for k, v in source.items() if k != "alias"}
        c.unknown_keys(source, path, KEYS[kind])
        normalized = _KIND_VALIDATORS[kind](c, source, path, ctx)
        out.append(normalized)
        alias = normalized.get("alias")
        if not alias:
            continue
        if alias in aliases:
            c.add(
                join(path, "alias"),
                _("Alias “%(alias)s” is already used by source %(n)s; aliases must be unique."),
                alias=alias,
                n=aliases[alias] + 1,
            )
            continue
        aliases[alias] = index
    if "none" in kinds and len(items) > 1:
        c.add(
            item("sources", kinds.index("none")),
            _("A “none” source must be the only source: remove it or the other sources."),
        )
    return out


def _alias(c: Checker, source: dict, path: str) -> str | None:
    alias = c.text(
        source,
        "alias",
        path,
        max_len=32,
        required=True,
        hint=_l("Use a letter followed by letters, digits or “_” (at most 32)."),
    )
    if alias is not None and not ALIAS_RE.fullmatch(alias):
        c.add(
            join(path, "alias"),
            _("“Alias” must start with a letter and contain only letters, digits and “_” (at most 32)."),
        )
        return None
    return alias


def _code(c: Checker, source: dict, path: str, ctx: DefinitionContext) -> dict:
    kind = source["kind"]
    alias = _alias(c, source, path)
    endpoint = c.endpoint(source, "endpoint", path, ctx, ENDPOINT_TYPES[kind], what=KIND_LABELS[kind])
    repository = c.text(
        source, "repository", path, max_len=300, required=True, hint=_l("Enter the repository path, e.g. org/app.")
    )
    branch = c.text(
        source,
        "default_branch",
        path,
        max_len=200,
        required=True,
        hint=_l("Manual and scheduled runs use this branch."),
    )
    if branch is not None and not is_git_ref_name(branch):
        c.add(
            join(path, "default_branch"),
            _(
                "“Default branch” must be a valid Git branch name: no spaces, no “..”, no leading “-”, "
                "none of ~^:?*[\\ and at most 200 characters."
            ),
        )
    return {"kind": kind, "alias": alias, "endpoint": endpoint, "repository": repository, "default_branch": branch}


def _version(c: Checker, source: dict, path: str, tag_re: re.Pattern | None = None) -> tuple[str, str]:
    strategy = c.choice(source, "version_strategy", path, VERSION_STRATEGIES, default="latest")
    if strategy != "specific":
        return strategy, ""
    version = c.text(
        source,
        "version",
        path,
        max_len=128,
        required=True,
        hint=_l("A specific version strategy needs the version to use."),
    )
    if version is not None and (any(ch.isspace() for ch in version) or (tag_re and not tag_re.fullmatch(version))):
        c.add(join(path, "version"), _("“Version” must be a version or tag without spaces (at most 128 characters)."))
    return strategy, version


def _branch_filter(c: Checker, source: dict, path: str) -> str:
    value = c.text(source, "branch_filter", path, max_len=200)
    if value:
        problem = pattern_problem(value)
        if problem:
            c.add(join(path, "branch_filter"), problem)
    return value


def _release(c: Checker, source: dict, path: str, ctx: DefinitionContext) -> dict:
    alias = _alias(c, source, path)
    directory = c.text(
        source,
        "directory",
        path,
        max_len=200,
        required=True,
        hint=_l("Enter the top-level directory of the release repository."),
    )
    package = c.text(source, "package", path, max_len=200, required=True, hint=_l("Enter the package name."))
    for key, value in (("directory", directory), ("package", package)):
        if value and (".." in value.split("/") or value.startswith("/")):
            c.add(
                join(path, key),
                _("“%(label)s” must be a name inside the release repository (no “..”, no leading “/”)."),
                label=label_of(key),
            )
    branch_filter = _branch_filter(c, source, path)
    strategy, version = _version(c, source, path)
    return {
        "kind": "release",
        "alias": alias,
        "directory": directory,
        "package": package,
        "branch_filter": branch_filter,
        "version_strategy": strategy,
        "version": version,
    }


def _docker(c: Checker, source: dict, path: str, ctx: DefinitionContext) -> dict:
    alias = _alias(c, source, path)
    endpoint = c.endpoint(source, "endpoint", path, ctx, ENDPOINT_TYPES["docker"], what=KIND_LABELS["docker"])
    organization = c.text(
        source,
        "organization",
        path,
        max_len=255,
        required=True,
        hint=_l("Enter the organization (namespace) of the image."),
    )
    if organization and not _DOCKER_ORG_RE.fullmatch(organization):
        c.add(
            join(path, "organization"),
            _("“Organization” must be lowercase letters, digits and separators (“.”, “_”, “-”), e.g. my-team."),
        )
    image = c.text(source, "image", path, max_len=255, required=True, hint=_l("Enter the image name."))
    if image and not _DOCKER_IMAGE_RE.fullmatch(image):
        c.add(
            join(path, "image"),
            _("“Image name” must be lowercase letters, digits and separators (“.”, “_”, “-”, “/”), e.g. web-app."),
        )
    branch_filter = _branch_filter(c, source, path)
    strategy, version = _version(c, source, path, _DOCKER_TAG_RE)
    return {
        "kind": "docker",
        "alias": alias,
        "endpoint": endpoint,
        "organization": organization,
        "image": image,
        "branch_filter": branch_filter,
        "version_strategy": strategy,
        "version": version,
    }


def _none(c: Checker, source: dict, path: str, ctx: DefinitionContext) -> dict:
    return {"kind": "none"}


_KIND_VALIDATORS = {
    "repo": _code,
    "git": _code,
    "github_app": _code,
    "release": _release,
    "docker": _docker,
    "none": _none,
}


def source_aliases(sources: list[dict]) -> list[str]:
    """Aliases of the (normalized) sources, in order."""
    return [s["alias"] for s in sources if isinstance(s.get("alias"), str) and s["alias"]]
