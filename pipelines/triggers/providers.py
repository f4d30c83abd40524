"""Webhook payloads of GitHub, GitLab, Gitee, Codeup and a generic JSON shape, read into one internal
event (T1–T3, T6), and each provider's authentication.

* GitHub: ``X-GitHub-Event`` push (``refs/heads/…`` or ``refs/tags/…``; ``created``/``deleted``),
  create (tags), pull_request (opened → created, synchronize → updated, closed + merged → merged,
  reopened → reopened), ping. ``X-Hub-Signature-256``: HMAC-SHA256 of the raw body. ``X-GitHub-Delivery``.
* GitLab: ``X-Gitlab-Event`` Push Hook, Tag Push Hook, Merge Request Hook (``object_attributes.action``
  open / update / merge / reopen; an update without new commits has no ``oldrev``). ``X-Gitlab-Token``
  equals the secret. ``X-Gitlab-Event-UUID``.
* Codeup: GitLab's payloads with ``X-Codeup-Event`` (or ``Codeup-Event``) and ``X-Codeup-Token``; its
  push commits do not list files.
* Gitee: ``X-Gitee-Event`` Push Hook, Tag Push Hook, Merge Request Hook; ``X-Gitee-Token`` is the
  password, or the signature base64(HMAC-SHA256(secret, "<X-Gitee-Timestamp>\\n<secret>")).
* generic: ``{"event": "push" | "tag" | "merge_request", "branch", "tag", "target_branch",
  "source_branch", "action", "commit", "before", "message", "files", "sender", "delivery_id", "number"}``
  with the secret in ``X-Webhook-Secret`` (or an ``X-Hub-Signature-256`` HMAC).

Changed files are the union of added + modified + removed over all commits; ``files`` is None when the
payload does not list them all (they are then computed from the repository, ``changes``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass, field
from urllib.parse import parse_qs, unquote

from devops_console.core.parsing import parse_uint

PROVIDERS = ("github", "gitlab", "gitee", "codeup", "generic")
ZERO_SHA = "0" * 40
GITHUB_COMMIT_CAP = 2048
GITEE_SIGNATURE_WINDOW_MS = 3600 * 1000
_TEXT_LIMIT = 255


class BadPayload(Exception):
    """Malformed body or an event this receiver does not know (answered 400, recorded)."""


@dataclass
class Incoming:
    """One webhook event in internal form (stored on the delivery as ``detail``)."""

    kind: str  # push | tag | merge_request | ignored
    branch: str = ""
    tag: str = ""
    source_branch: str = ""
    target_branch: str = ""
    action: str = ""  # MR: created / updated / merged / reopened, or the provider's own word
    commit: str = ""
    before: str = ""
    message: str = ""
    files: list[str] | None = None
    files_unknown: str = ""
    sender: str = ""
    delivery_id: str = ""
    number: str = ""
    deleted: bool = False
    note: str = ""  # why an "ignored" event starts nothing
    extra: dict = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return self.tag or self.target_branch or self.branch

    def as_dict(self) -> dict:
        return asdict(self)


def _text(value, limit: int = _TEXT_LIMIT) -> str:
    return value[:limit] if isinstance(value, str) else ("" if value is None else str(value)[:limit])


def _obj(value) -> dict:
    return value if isinstance(value, dict) else {}


def _first_line(message) -> str:
    return _text(message, 2000).strip().splitlines()[0][:500] if _text(message, 2000).strip() else ""


def files_from_commits(commits, *, total=None, cap=None) -> tuple[list[str] | None, str]:
    """Union of added + modified + removed over ``commits`` (in order, no cap), or ``(None, why)``."""
    if not isinstance(commits, list) or not commits:
        return None, "the payload lists no commits"
    if cap and len(commits) >= cap:
        return None, f"the payload lists only the first {len(commits)} commits"
    if isinstance(total, int) and total > len(commits):
        return None, f"the payload lists {len(commits)} of {total} commits"
    seen: dict[str, None] = {}
    for commit in commits:
        commit = _obj(commit)
        if not any(key in commit for key in ("added", "modified", "removed")):
            return None, "the payload does not list the changed files"
        for key in ("added", "modified", "removed"):
            for path in commit.get(key) or []:
                if isinstance(path, str) and path:
                    seen.setdefault(path, None)
    return list(seen), ""


def _split_ref(ref: str) -> tuple[str, str]:
    """``refs/heads/x`` → ("branch", "x"); ``refs/tags/v1`` → ("tag", "v1")."""
    if ref.startswith("refs/heads/"):
        return "branch", ref[len("refs/heads/") :]
    if ref.startswith("refs/tags/"):
        return "tag", ref[len("refs/tags/") :]
    return "", ref


def _push(data: dict, sender: str, *, total=None, cap=None, message: str = "") -> Incoming:
    """A push payload (GitHub, GitLab, Gitee and Codeup share these fields) as a push or tag event."""
    what, name = _split_ref(_text(data.get("ref")))
    if not what or not name:
        raise BadPayload(f"the push names no branch or tag (ref {_text(data.get('ref'))!r})")
    after, before = _text(data.get("after"), 64), _text(data.get("before"), 64)
    deleted = bool(data.get("deleted")) or after == ZERO_SHA
    head = _obj(data.get("head_commit"))
    commit = _text(data.get("checkout_sha") or head.get("id"), 64) or after
    if not message:
        matching = [c for c in data.get("commits") or [] if isinstance(c, dict) and c.get("id") == after]
        message = _first_line(head.get("message") or (matching[0].get("message") if matching else ""))
    event = Incoming(kind="push" if what == "branch" else "tag", commit="" if deleted else commit, sender=sender)
    event.before, event.message, event.deleted = before, message, deleted
    if what == "branch":
        event.branch = name
        created = bool(data.get("created")) or before == ZERO_SHA
        if not deleted:
            event.files, event.files_unknown = files_from_commits(data.get("commits"), total=total, cap=cap)
            if created and event.files is None:
                event.files_unknown = "a new branch: the payload does not list its changed files"
    else:
        event.tag = name
    return event


# ---------------------------------------------------------------------------------------------- GitHub

_GITHUB_PR_ACTIONS = {"opened": "created", "synchronize": "updated", "reopened": "reopened"}


def parse_github(headers, data: dict) -> Incoming:
    kind = headers.get("X-GitHub-Event", "")
    sender = _text(_obj(data.get("sender")).get("login")) or _text(_obj(data.get("pusher")).get("name"))
    if kind == "ping":
        return Incoming(kind="ignored", note="ping: GitHub confirms the webhook is set up", sender=sender)
    if kind == "push":
        return _push(data, sender, cap=GITHUB_COMMIT_CAP)
    if kind == "create":
        if data.get("ref_type") != "tag":
            note = "a branch was created; the push event for it decides"
            return Incoming(kind="ignored", note=note, sender=sender, branch=_text(data.get("ref")))
        return Incoming(kind="tag", tag=_text(data.get("ref")), sender=sender)
    if kind == "pull_request":
        pr = _obj(data.get("pull_request"))
        raw = _text(data.get("action"))
        action = "merged" if raw == "closed" and pr.get("merged") else _GITHUB_PR_ACTIONS.get(raw, raw)
        head, base = _obj(pr.get("head")), _obj(pr.get("base"))
        commit = _text(pr.get("merge_commit_sha"), 64) if action == "merged" else _text(head.get("sha"), 64)
        return Incoming(
            kind="merge_request",
            action=action,
            source_branch=_text(head.get("ref")),
            target_branch=_text(base.get("ref")),
            commit=commit,
            message=_first_line(pr.get("title")),
            number=_text(pr.get("number") or data.get("number")),
            sender=sender,
            files_unknown="merge request payloads do not list the changed files",
            extra={"head_sha": _text(head.get("sha"), 64), "base_sha": _text(base.get("sha"), 64)},
        )
    raise BadPayload(f"unknown GitHub event {kind!r}" if kind else "no X-GitHub-Event header")


# ------------------------------------------------------------------------------------- GitLab, Codeup

_GITLAB_MR_ACTIONS = {"open": "created", "update": "updated", "merge": "merged", "reopen": "reopened"}
_GITLAB_KINDS = {"push hook": "push", "tag push hook": "tag", "merge request hook": "merge_request"}
_OBJECT_KINDS = {"push": "push", "tag_push": "tag", "merge_request": "merge_request"}


def parse_gitlab(headers, data: dict, *, provider: str = "gitlab") -> Incoming:
    if provider == "codeup":
        header = headers.get("X-Codeup-Event") or headers.get("Codeup-Event") or ""
    else:
        header = headers.get("X-Gitlab-Event", "")
    kind = _GITLAB_KINDS.get(header.strip().lower()) or (
        _OBJECT_KINDS.get(data.get("object_kind")) if not header else ""
    )
    if not kind:
        raise BadPayload(f"unknown {provider} event {header!r}" if header else f"no {provider} event header")
    user = _obj(data.get("user"))
    sender = _text(data.get("user_username") or user.get("username") or data.get("user_name") or user.get("name"))
    if kind in ("push", "tag"):
        event = _push(data, sender, total=data.get("total_commits_count"), message=_first_line(data.get("message")))
        if (event.kind == "tag") != (kind == "tag"):
            raise BadPayload(f"a {header or kind} whose ref is {_text(data.get('ref'))!r}")
        return event
    attrs = _obj(data.get("object_attributes"))
    raw = _text(attrs.get("action"))
    action = _GITLAB_MR_ACTIONS.get(raw, raw)
    note = ""
    if provider == "gitlab" and raw == "update" and not attrs.get("oldrev"):
        action, note = "edited", "the merge request was edited without new commits"
    last = _obj(attrs.get("last_commit"))
    commit = _text(attrs.get("merge_commit_sha"), 64) if action == "merged" else ""
    return Incoming(
        kind="merge_request",
        action=action,
        source_branch=_text(attrs.get("source_branch")),
        target_branch=_text(attrs.get("target_branch")),
        commit=commit or _text(last.get("id"), 64),
        message=_first_line(last.get("message") or attrs.get("title")),
        number=_text(attrs.get("iid") or attrs.get("local_id") or attrs.get("id")),
        sender=sender,
        note=note,
        files_unknown="merge request payloads do not list the changed files",
        extra={"head_sha": _text(last.get("id"), 64)},
    )


# ----------------------------------------------------------------------------------------------- Gitee

_GITEE_KINDS = {"push hook": "push", "tag push hook": "tag", "merge request hook": "merge_request"}
_GITEE_HOOKS = {"push_hooks": "push", "tag_push_hooks": "tag", "merge_request_hooks": "merge_request"}
_GITEE_MR_ACTIONS = {"open": "created", "update": "updated", "merge": "merged", "reopen": "reopened"}


def parse_gitee(headers, data: dict) -> Incoming:
    header = headers.get("X-Gitee-Event", "")
    kind = _GITEE_KINDS.get(header.strip().lower()) or (_GITEE_HOOKS.get(data.get("hook_name")) if not header else "")
    if not kind:
        raise BadPayload(f"unknown Gitee event {header!r}" if header else "no X-Gitee-Event header")
    sender_obj = _obj(data.get("sender")) or _obj(data.get("author"))
    sender = _text(sender_obj.get("login") or sender_obj.get("username") or data.get("user_name"))
    if kind in ("push", "tag"):
        return _push(data, sender, total=data.get("total_commits_count"))
    pr = _obj(data.get("pull_request"))
    raw = _text(data.get("action"))
    action = _GITEE_MR_ACTIONS.get(raw, raw)
    desc = _text(data.get("action_desc"))
    note = ""
    if raw == "update" and desc and not desc.endswith("branch_changed"):
        action, note = "edited", f"the merge request was edited ({desc}) without new commits"
    head, base = _obj(pr.get("head")), _obj(pr.get("base"))
    commit = _text(pr.get("merge_commit_sha"), 64) if action == "merged" else _text(head.get("sha"), 64)
    return Incoming(
        kind="merge_request",
        action=action,
        source_branch=_text(head.get("ref") or data.get("source_branch")),
        target_branch=_text(base.get("ref") or data.get("target_branch")),
        commit=commit,
        message=_first_line(pr.get("title") or data.get("title")),
        number=_text(pr.get("number") or data.get("number")),
        sender=sender,
        note=note,
        files_unknown="merge request payloads do not list the changed files",
        extra={"head_sha": _text(head.get("sha"), 64), "base_sha": _text(base.get("sha"), 64)},
    )


# --------------------------------------------------------------------------------------------- generic

_GENERIC_ACTIONS = {"opened": "created", "open": "created", "synchronize": "updated", "reopen": "reopened"}


def parse_generic(headers, data: dict) -> Incoming:
    kind = data.get("event")
    if kind not in ("push", "tag", "merge_request"):
        raise BadPayload(f"unknown event {_text(kind)!r}: use push, tag or merge_request")
    for key in ("branch", "tag", "target_branch", "source_branch", "action", "commit", "before", "sender"):
        if data.get(key) is not None and not isinstance(data.get(key), str):
            raise BadPayload(f"“{key}” must be text")
    event = Incoming(kind=kind, sender=_text(data.get("sender")), commit=_text(data.get("commit") or data.get("after")))
    event.before, event.message = _text(data.get("before"), 64), _first_line(data.get("message"))
    event.deleted, event.number = bool(data.get("deleted")), _text(data.get("number"))
    if kind == "push":
        event.branch = _text(data.get("branch"))
        if not event.branch:
            raise BadPayload("a push needs “branch”")
    elif kind == "tag":
        event.tag = _text(data.get("tag"))
        if not event.tag:
            raise BadPayload("a tag event needs “tag”")
    else:
        event.target_branch = _text(data.get("target_branch"))
        event.source_branch = _text(data.get("source_branch") or data.get("branch"))
        raw = _text(data.get("action"))
        event.action = _GENERIC_ACTIONS.get(raw, raw)
        if not event.target_branch:
            raise BadPayload("a merge request event needs “target_branch”")
    files = data.get("files")
    if files is None:
        event.files, event.files_unknown = None, "the delivery did not list the changed files"
    elif isinstance(files, list) and all(isinstance(f, str) for f in files):
        event.files = list(dict.fromkeys(f for f in files if f))
    else:
        raise BadPayload("“files” must be a list of paths")
    return event


PARSERS = {
    "github": parse_github,
    "gitlab": parse_gitlab,
    "codeup": lambda headers, data: parse_gitlab(headers, data, provider="codeup"),
    "gitee": parse_gitee,
    "generic": parse_generic,
}


def load_body(headers, body: bytes) -> dict:
    """The JSON object of the body (GitHub may also send ``payload=<json>`` form-encoded)."""
    content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/x-www-form-urlencoded":
            body = (parse_qs(body.decode("utf-8")).get("payload") or [""])[0].encode()
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadPayload("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadPayload("the body must be a JSON object")
    return data


def parse(provider: str, headers, body: bytes) -> Incoming:
    """Parse ``body`` (raw bytes, already authenticated) into an ``Incoming`` event; raises BadPayload."""
    data = load_body(headers, body)
    event = PARSERS[provider](headers, data)
    event.delivery_id = delivery_id(provider, headers, data, body)
    return event


def delivery_id(provider: str, headers, data: dict | None, body: bytes) -> str:
    """The provider's delivery id, else a hash of the body (retries of one delivery send the same body)."""
    names = {
        "github": ("X-GitHub-Delivery",),
        "gitlab": ("X-Gitlab-Event-UUID",),
        "gitee": ("X-Gitee-Delivery",),
        "codeup": ("X-Codeup-Delivery", "X-Codeup-Event-UUID"),
        "generic": ("X-Webhook-Delivery",),
    }[provider]
    for name in names:
        if headers.get(name):
            return _text(headers.get(name), 200)
    if provider == "generic" and data and isinstance(data.get("delivery_id"), str | int) and data["delivery_id"]:
        return _text(data["delivery_id"], 200)
    return "sha256:" + hashlib.sha256(body).hexdigest()


# --------------------------------------------------------------------------------------- authentication


def _equal(given: str, secret: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode("utf-8"))


def _github_signature(headers, body: bytes, secret: str) -> tuple[bool, str]:
    given = headers.get("X-Hub-Signature-256", "")
    if not given:
        return False, "the X-Hub-Signature-256 header is missing"
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not _equal(given.strip(), expected):
        return False, "the X-Hub-Signature-256 signature does not match the body and the webhook secret"
    return True, ""


def _token(headers, names: tuple[str, ...], secret: str) -> tuple[bool, str]:
    for name in names:
        given = headers.get(name)
        if given is not None:
            if _equal(given.strip(), secret):
                return True, ""
            return False, f"the {name} header does not match the webhook secret"
    return False, f"the {' or '.join(names)} header is missing"


def _gitee(headers, secret: str) -> tuple[bool, str]:
    given = headers.get("X-Gitee-Token")
    if given is None:
        return False, "the X-Gitee-Token header is missing"
    if _equal(given.strip(), secret):
        return True, ""
    stamp = headers.get("X-Gitee-Timestamp", "")
    millis = parse_uint(stamp, 18)
    if millis is not None and abs(time.time() * 1000 - millis) <= GITEE_SIGNATURE_WINDOW_MS:
        digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
        if _equal(unquote(given.strip()), base64.b64encode(digest).decode()):
            return True, ""
    return False, "the X-Gitee-Token header is neither the webhook password nor a valid recent signature"


def authenticate(provider: str, headers, body: bytes, secret: str) -> tuple[bool, str]:
    """``(True, "")`` when the request carries the pipeline's webhook ``secret``; else ``(False, why)``."""
    if not secret:
        return False, "no webhook secret is set for this pipeline; generate one on its Webhooks page"
    if provider == "github":
        return _github_signature(headers, body, secret)
    if provider == "gitlab":
        return _token(headers, ("X-Gitlab-Token",), secret)
    if provider == "gitee":
        return _gitee(headers, secret)
    if provider == "codeup":
        return _token(headers, ("X-Codeup-Token", "X-Webhook-Secret"), secret)
    if headers.get("X-Webhook-Secret") is None and headers.get("X-Hub-Signature-256"):
        return _github_signature(headers, body, secret)
    return _token(headers, ("X-Webhook-Secret",), secret)
