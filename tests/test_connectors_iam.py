"""IAM user (AK/SK) connector: SigV4-signed STS GetCallerIdentity (E7).

No real STS can run here. The pytest-httpserver STAND-IN below verifies requests like STS does:
it rebuilds the canonical request from what it actually received (method, path, query, the signed
headers) and recomputes the signature with the secret key, using its own implementation written
straight from the AWS documentation (not the connector's code).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from urllib.parse import quote

import pytest
from werkzeug import Request, Response

from endpoints import connectors
from endpoints.connectors import _sigv4

ACCESS_KEY = "AKIATESTEXAMPLE00001"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
EXPIRED_KEY = "ASIAEXPIREDEXAMPLE01"
KEYS = {ACCESS_KEY: SECRET_KEY, EXPIRED_KEY: SECRET_KEY}
ARN = "arn:aws:iam::123456789012:user/ci-deployer"

_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$"
)


def _error(status: int, code: str) -> Response:
    body = (
        f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>{code}</Message></Error><RequestId>r1</RequestId></ErrorResponse>"
    )
    return Response(body, status=status, content_type="text/xml")


def _expected_signature(
    request: Request, secret: str, date: str, region: str, service: str, signed_headers: str
) -> str:
    enc = lambda value: quote(value, safe="-_.~")  # noqa: E731 - RFC 3986 unreserved characters
    query = "&".join(sorted(f"{enc(k)}={enc(v)}" for k, v in request.args.items(multi=True)))
    headers = "".join(
        f"{name}:{' '.join(request.headers.get(name, '').split())}\n" for name in signed_headers.split(";")
    )
    canonical = "\n".join(
        [
            request.method,
            quote(request.path, safe="/-_.~"),
            query,
            headers,
            signed_headers,
            hashlib.sha256(request.get_data()).hexdigest(),
        ]
    )
    amz_date = request.headers["X-Amz-Date"]
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def sts_stand_in(request: Request) -> Response:
    """GetCallerIdentity as STS answers it: signature checked with the secret, expiry simulated."""
    match = _AUTH_RE.match(request.headers.get("Authorization", ""))
    if not match or "X-Amz-Date" not in request.headers:
        return _error(403, "MissingAuthenticationToken")
    access_key, date, region, service, signed, signature = match.groups()
    if access_key not in KEYS:
        return _error(403, "InvalidClientTokenId")
    if service != "sts" or "host" not in signed.split(";") or "x-amz-date" not in signed.split(";"):
        return _error(403, "IncompleteSignature")
    expected = _expected_signature(request, KEYS[access_key], date, region, service, signed)
    if not hmac.compare_digest(expected, signature):
        return _error(403, "SignatureDoesNotMatch")
    if request.args.get("Action") != "GetCallerIdentity" or request.args.get("Version") != "2011-06-15":
        return _error(400, "InvalidAction")
    if access_key == EXPIRED_KEY:
        return _error(400, "ExpiredToken")
    body = (
        f'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<GetCallerIdentityResult><Arn>{ARN}</Arn><UserId>AIDA1</UserId><Account>123456789012</Account>"
        f"</GetCallerIdentityResult></GetCallerIdentityResponse>"
    )
    return Response(body, content_type="text/xml")


@pytest.fixture
def sts_url(httpserver) -> str:
    httpserver.expect_request("/").respond_with_handler(sts_stand_in)
    return httpserver.url_for("/").rstrip("/")


def test_right_keys_are_normal(sts_url):
    """E7: a correctly signed GetCallerIdentity is accepted by the signature-checking stand-in."""
    result = connectors.verify(
        "iam_user", {"access_key_id": ACCESS_KEY, "url": sts_url}, {"secret_access_key": SECRET_KEY}
    )
    assert result == connectors.VerifyResult(0, f"authenticated as {ARN}")


def test_region_is_part_of_the_signature(sts_url):
    """E7: the region field is used in the credential scope (and still verifies)."""
    result = connectors.verify(
        "iam_user",
        {"access_key_id": ACCESS_KEY, "url": sts_url, "region": "eu-west-1"},
        {"secret_access_key": SECRET_KEY},
    )
    assert result.status == 0, result.detail


def test_wrong_secret_is_unauthenticated(sts_url):
    """E7: a wrong secret key fails the stand-in's signature check: SignatureDoesNotMatch -> 2."""
    result = connectors.verify(
        "iam_user",
        {"access_key_id": ACCESS_KEY, "url": sts_url},
        {"secret_access_key": "not/the/right/secret/key/at/all/000000"},
    )
    assert result.status == 2
    assert "SignatureDoesNotMatch" in result.detail
    assert "not/the/right" not in result.detail


def test_unknown_access_key_is_unauthenticated(sts_url):
    """E7: InvalidClientTokenId -> 2."""
    result = connectors.verify(
        "iam_user", {"access_key_id": "AKIAUNKNOWN000000000", "url": sts_url}, {"secret_access_key": SECRET_KEY}
    )
    assert result == connectors.VerifyResult(2, "unauthenticated: the access key was rejected (InvalidClientTokenId)")


def test_expired_token_is_overdue(sts_url):
    """E7: ExpiredToken -> 1 (overdue)."""
    result = connectors.verify(
        "iam_user", {"access_key_id": EXPIRED_KEY, "url": sts_url}, {"secret_access_key": SECRET_KEY}
    )
    assert result.status == 1
    assert "ExpiredToken" in result.detail


def test_sigv4_known_answers():
    """E7: signatures equal botocore's SigV4Auth output for the same request and time (values
    computed once with botocore 1.x; AWS's documented example keys)."""
    now = dt.datetime(2026, 11, 21, 21, 10, 32, tzinfo=dt.UTC)
    params = {"Action": "GetCallerIdentity", "Version": "2011-06-15"}
    expected = {
        "https://sts.amazonaws.com/": "08e93490d0021233e3489ed4831798160086c43d6d42f4409921c920dc6be7aa",
        "http://127.0.0.1:8080/": "1314181811d4c81f4f448a7e42d9fc49798e89d64067e9a1b8aa3203533aea8d",
    }
    for url, signature in expected.items():
        headers = _sigv4.sign(
            "GET",
            url,
            params,
            access_key="AKIDEXAMPLE",
            secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            region="us-east-1",
            service="sts",
            now=now,
        )
        assert headers["X-Amz-Date"] == "20261121T211032Z"
        assert headers["Authorization"] == (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/sts/aws4_request, "
            f"SignedHeaders=host;x-amz-date, Signature={signature}"
        )
