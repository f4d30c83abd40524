"""AWS Signature Version 4 for simple requests (used by the IAM / STS connector).

Follows https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html: canonical
request -> string to sign -> HMAC-SHA256 key chain -> ``Authorization`` header.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def _uri_encode(value: str) -> str:
    return quote(value, safe="-_.~")


def canonical_query(params: dict[str, str] | list[tuple[str, str]]) -> str:
    """Query string with keys and values URI-encoded and sorted by key, then value."""
    items = params.items() if isinstance(params, dict) else params
    return "&".join(f"{k}={v}" for k, v in sorted((_uri_encode(str(k)), _uri_encode(str(v))) for k, v in items))


def host_header(url: str) -> str:
    """The Host header value for ``url`` (port only when it is not the scheme's default)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")."""
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def sign(method: str, url: str, params: dict[str, str], *, access_key: str, secret_key: str, region: str,
         service: str, payload: bytes = b"", now: dt.datetime | None = None,
         extra_headers: dict[str, str] | None = None) -> dict[str, str]:
    """Return the headers (Host, X-Amz-Date, Authorization, …) that sign the request.

    ``url`` is the endpoint without query string; ``params`` the query parameters.
    """
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    path = urlsplit(url).path or "/"
    headers = {"host": host_header(url), "x-amz-date": amz_date}
    for name, value in (extra_headers or {}).items():
        headers[name.lower()] = " ".join(str(value).split())
    signed = ";".join(sorted(headers))
    canonical_headers = "".join(f"{name}:{headers[name]}\n" for name in sorted(headers))
    payload_hash = hashlib.sha256(payload).hexdigest()
    canonical_request = "\n".join([method.upper(), quote(path, safe="/-_.~"), canonical_query(params),
                                   canonical_headers, signed, payload_hash])
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    signature = hmac.new(signing_key(secret_key, date, region, service), string_to_sign.encode("utf-8"),
                         hashlib.sha256).hexdigest()
    out = {"Host": headers["host"], "X-Amz-Date": amz_date,
           "Authorization": f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed}, "
                            f"Signature={signature}"}
    for name, value in (extra_headers or {}).items():
        out[name] = value
    return out
