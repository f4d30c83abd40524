"""Talk to the services behind service endpoints: verify a connection (E7) and browse code sources (E10).

Pure Python (requests, cryptography, PyJWT, PyYAML, the ``git`` binary); nothing here imports Django.

``fields`` holds an endpoint's plain fields and ``secrets`` its secret fields, keyed as in API.md's
"Endpoint types" table. Every message that leaves this package (``VerifyResult.detail``,
``ConnectorError`` text) has every secret value scrubbed out, and no URL resolving to a link-local
or cloud-metadata address is contacted unless ``allow_link_local=True``.
"""

from __future__ import annotations

import logging
from types import ModuleType

from . import bitbucket, codeup, docker_registry, git, github_app, gitlab, hosted_repo, iam, kubernetes
from ._base import (
    STATUS_NORMAL,
    STATUS_OVERDUE,
    STATUS_UNAUTHENTICATED,
    STATUS_UNREACHABLE,
    AddressNotAllowed,
    AuthenticationFailed,
    ConnectorError,
    Context,
    CredentialExpired,
    TlsOptions,
    Unreachable,
    VerifyResult,
    scrub,
)

__all__ = [
    "STATUS_NORMAL", "STATUS_OVERDUE", "STATUS_UNAUTHENTICATED", "STATUS_UNREACHABLE",
    "AddressNotAllowed", "AuthenticationFailed", "ConnectorError", "CredentialExpired", "TlsOptions",
    "Unreachable", "VerifyResult", "BROWSABLE_TYPES", "PROVIDERS",
    "list_branches", "list_repositories", "list_tags", "scrub", "verify",
]

logger = logging.getLogger(__name__)

DEFAULT_TLS = TlsOptions()

PROVIDERS: dict[str, ModuleType] = {
    "docker_registry": docker_registry,
    "kubernetes": kubernetes,
    "git": git,
    "iam_user": iam,
    "hosted_repo": hosted_repo,
    "github_app": github_app,
    "gitlab": gitlab,
    "bitbucket": bitbucket,
    "codeup": codeup,
}

BROWSABLE_TYPES = frozenset(key for key, module in PROVIDERS.items() if hasattr(module, "list_branches"))


def _provider(type_key: str) -> ModuleType:
    try:
        return PROVIDERS[type_key]
    except (KeyError, TypeError):
        raise ValueError(f"unknown endpoint type {type_key!r}") from None


def verify(type_key: str, fields: dict, secrets: dict, *, tls: TlsOptions = DEFAULT_TLS, timeout: float = 10.0,
           allow_link_local: bool = False) -> VerifyResult:
    """Really talk to the service with the endpoint's credentials and classify the outcome (E7).

    Never raises for a connection or credential problem: it returns status 0 normal, 1 overdue
    (expired), 2 unauthenticated or 3 unreachable with a short, secret-free ``detail``.
    An unknown ``type_key`` raises ValueError (a programming error).
    """
    module = _provider(type_key)
    ctx = Context(fields, secrets, tls, timeout, allow_link_local)
    try:
        result = module.verify(ctx)
    except ConnectorError as exc:
        return VerifyResult(exc.status, ctx.scrub(str(exc)) or "connection check failed")
    except Exception as exc:  # noqa: BLE001 - a verify button must always get an answer
        logger.warning("connector %s: unexpected %s during verify", type_key, type(exc).__name__)
        return VerifyResult(STATUS_UNREACHABLE, f"unreachable: unexpected error ({type(exc).__name__})")
    return VerifyResult(result.status, ctx.scrub(result.detail))


def _browse(type_key: str, fields: dict, secrets: dict, what: str, *args: str, tls: TlsOptions, timeout: float,
            allow_link_local: bool) -> list:
    module = _provider(type_key)
    function = getattr(module, what, None)
    if function is None:
        raise ConnectorError(f"{type_key} endpoints cannot be browsed for repositories, branches or tags")
    ctx = Context(fields, secrets, tls, timeout, allow_link_local)
    try:
        return function(ctx, *args)
    except ConnectorError as exc:
        raise type(exc)(ctx.scrub(str(exc))) from None
    except Exception as exc:  # noqa: BLE001 - never leak a raw exception (it might quote a secret)
        logger.warning("connector %s: unexpected %s during %s", type_key, type(exc).__name__, what)
        raise ConnectorError(f"unexpected error ({type(exc).__name__})") from None


def list_repositories(type_key: str, fields: dict, secrets: dict, *, tls: TlsOptions = DEFAULT_TLS,
                      timeout: float = 10.0, allow_link_local: bool = False) -> list[dict]:
    """Repositories the endpoint can see (E10): ``[{"name", "full_name", "clone_url"}, …]``.

    Raises ConnectorError (its ``status`` attribute carries the E7 status) on failure.
    """
    return _browse(type_key, fields, secrets, "list_repositories", tls=tls, timeout=timeout,
                   allow_link_local=allow_link_local)


def list_branches(type_key: str, fields: dict, secrets: dict, repository: str, *, tls: TlsOptions = DEFAULT_TLS,
                  timeout: float = 10.0, allow_link_local: bool = False) -> list[str]:
    """Branch names of ``repository`` (a ``full_name`` from list_repositories) (E10)."""
    return _browse(type_key, fields, secrets, "list_branches", repository, tls=tls, timeout=timeout,
                   allow_link_local=allow_link_local)


def list_tags(type_key: str, fields: dict, secrets: dict, repository: str, *, tls: TlsOptions = DEFAULT_TLS,
              timeout: float = 10.0, allow_link_local: bool = False) -> list[str]:
    """Tag names of ``repository`` (a ``full_name`` from list_repositories) (E10)."""
    return _browse(type_key, fields, secrets, "list_tags", repository, tls=tls, timeout=timeout,
                   allow_link_local=allow_link_local)
