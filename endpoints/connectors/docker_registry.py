"""Docker registry endpoints: ``GET {url}/v2/`` with basic auth or the bearer-token challenge flow (E7)."""

from __future__ import annotations

import re

import requests

from ._base import STATUS_NORMAL, AuthenticationFailed, ConnectorError, Context, Unreachable, VerifyResult
from ._http import HttpClient, json_or_none, unexpected_status
from ._net import split_http_url

_PARAM_RE = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """Split a ``WWW-Authenticate`` value into its scheme and parameters.

    ``Bearer realm="https://auth/token",service="registry"`` gives ``("bearer", {"realm": ..., "service": ...})``.
    """
    scheme, _sep, rest = (header or "").strip().partition(" ")
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _PARAM_RE.finditer(rest)}
    return scheme.lower(), params


def _api_root(ctx: Context) -> str:
    url = ctx.field("url").rstrip("/")
    if not url:
        raise ConnectorError("the registry address is not set")
    if url.endswith("/v2"):
        url = url[: -len("/v2")]
    return url + "/v2/"


def _fetch_token(http: HttpClient, ctx: Context, params: dict[str, str], auth: tuple[str, str] | None) -> str:
    """Ask the challenge's token realm for a bearer token (with basic auth when credentials are set)."""
    realm = params.get("realm", "")
    try:
        split_http_url(realm)
    except ConnectorError:
        raise Unreachable("unreachable: the registry's token realm is not an http(s) URL") from None
    query = {k: v for k, v in params.items() if k in ("service", "scope") and v}
    response = http.get(realm, params=query, auth=auth)
    if response.status_code in (401, 403):
        raise AuthenticationFailed(f"unauthenticated: the token service rejected the credentials "
                                   f"(HTTP {response.status_code})")
    if response.status_code != 200:
        raise Unreachable(f"unreachable: the token service answered HTTP {response.status_code}")
    body = json_or_none(response)
    token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
    if not token or not isinstance(token, str):
        raise Unreachable("unreachable: the token service answered without a token")
    ctx.add_secret(token)
    return token


def _ok(response: requests.Response, how: str) -> VerifyResult:
    version = response.headers.get("Docker-Distribution-API-Version", "registry/2.0")
    return VerifyResult(STATUS_NORMAL, f"registry API reachable ({version}), {how}")


def verify(ctx: Context) -> VerifyResult:
    """200 on ``/v2/`` (directly or after the bearer flow) is normal; 401/403 is unauthenticated."""
    api = _api_root(ctx)
    username, password = ctx.field("username"), ctx.secret("password")
    auth = (username, password) if (username or password) else None
    with HttpClient(ctx) as http:
        response = http.get(api, auth=auth)
        if response.status_code == 200:
            return _ok(response, "credentials accepted" if auth else "anonymous access")
        if response.status_code == 401:
            scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            if scheme == "bearer" and params.get("realm"):
                token = _fetch_token(http, ctx, params, auth)
                retry = http.get(api, headers={"Authorization": f"Bearer {token}"})
                if retry.status_code == 200:
                    return _ok(retry, "token accepted")
                if retry.status_code in (401, 403):
                    raise AuthenticationFailed(f"unauthenticated: the registry rejected the token "
                                               f"(HTTP {retry.status_code})")
                raise unexpected_status(retry)
            raise AuthenticationFailed("unauthenticated: the registry rejected the credentials (HTTP 401)")
        if response.status_code == 403:
            raise AuthenticationFailed("unauthenticated: access denied by the registry (HTTP 403)")
        if response.status_code == 404:
            raise Unreachable("unreachable: no Docker registry API (/v2/) at this address (HTTP 404)")
        raise unexpected_status(response)
