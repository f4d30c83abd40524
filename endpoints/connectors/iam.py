"""IAM user (AK/SK) endpoints: a SigV4-signed STS ``GetCallerIdentity`` call (E7)."""

from __future__ import annotations

import re

from . import _sigv4
from ._base import STATUS_NORMAL, AuthenticationFailed, ConnectorError, Context, CredentialExpired, VerifyResult
from ._http import HttpClient, unexpected_status

DEFAULT_URL = "https://sts.amazonaws.com"
DEFAULT_REGION = "us-east-1"
ACTION = {"Action": "GetCallerIdentity", "Version": "2011-06-15"}

_AUTH_CODES = {"InvalidClientTokenId", "SignatureDoesNotMatch", "IncompleteSignature", "AccessDenied",
               "AuthFailure", "UnrecognizedClientException", "InvalidAccessKeyId", "MissingAuthenticationToken",
               "NotAuthorized"}
_EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired"}


def error_code(body: str) -> str:
    """The ``<Code>`` of an AWS XML error (or the ``"code"`` of a JSON one), "" when absent."""
    match = re.search(r"<Code>\s*([A-Za-z0-9.]+)\s*</Code>", body or "") or \
        re.search(r'"(?:[Cc]ode|__type)"\s*:\s*"(?:[^"#]*#)?([A-Za-z0-9.]+)"', body or "")
    return match.group(1) if match else ""


def verify(ctx: Context) -> VerifyResult:
    """200 is normal; InvalidClientTokenId / SignatureDoesNotMatch unauthenticated; ExpiredToken overdue."""
    access_key, secret_key = ctx.field("access_key_id"), ctx.secret("secret_access_key")
    if not access_key or not secret_key:
        raise AuthenticationFailed("unauthenticated: access key ID and secret access key are required")
    url = ctx.field("url", DEFAULT_URL).rstrip("/") + "/"
    if "?" in url:
        raise ConnectorError("the STS endpoint must not contain a query string")
    headers = _sigv4.sign("GET", url, ACTION, access_key=access_key, secret_key=secret_key,
                          region=ctx.field("region", DEFAULT_REGION), service="sts")
    with HttpClient(ctx) as http:
        response = http.get(f"{url}?{_sigv4.canonical_query(ACTION)}", headers=headers)
    code = error_code(response.text[:4096]) if response.status_code != 200 else ""
    if response.status_code == 200:
        arn = re.search(r"<Arn>\s*([^<\s]{1,256})\s*</Arn>", response.text)
        return VerifyResult(STATUS_NORMAL, f"authenticated as {arn.group(1)}" if arn else "authenticated")
    if code in _EXPIRED_CODES:
        raise CredentialExpired(f"overdue: the security token has expired ({code})")
    if code in _AUTH_CODES:
        raise AuthenticationFailed(f"unauthenticated: the access key was rejected ({code})")
    if response.status_code in (401, 403):
        raise AuthenticationFailed(f"unauthenticated: the token service answered HTTP {response.status_code}")
    raise unexpected_status(response)
