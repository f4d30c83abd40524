"""HTTP helper shared by the connectors: TLS options, timeouts, safe redirects, short error messages."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
from urllib3.exceptions import InsecureRequestWarning

from ._base import AuthenticationFailed, ConnectorError, Context, Unreachable, private_tempdir, write_private_file
from ._net import ca_file_content, check_url_allowed, same_origin

USER_AGENT = "devops-console-connector/1.0"
MAX_REDIRECTS = 5
MAX_ITEMS = 1000


def describe_request_error(exc: requests.RequestException) -> str:
    """A short, secret-free reason for a requests exception (no raw exception dump)."""
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError) or "CERTIFICATE_VERIFY_FAILED" in text:
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            return "unreachable: TLS certificate verification failed (untrusted or invalid server certificate)"
        return "unreachable: TLS handshake failed"
    if isinstance(exc, requests.exceptions.Timeout):
        return "unreachable: connection timed out"
    if isinstance(exc, requests.exceptions.ConnectionError):
        lowered = text.lower()
        if "name or service not known" in lowered or "nameresolution" in lowered or "getaddrinfo" in lowered:
            return "unreachable: host name could not be resolved"
        if "refused" in lowered:
            return "unreachable: connection refused"
        if "reset" in lowered or "aborted" in lowered or "remote end closed" in lowered:
            return "unreachable: connection closed by the server"
        return "unreachable: connection failed"
    return f"unreachable: request failed ({type(exc).__name__})"


class HttpClient:
    """A requests session configured from a Context; use as a context manager.

    * ``verify`` is a 0600 temporary CA file (system CAs + ``ca_bundle`` + ``extra_ca``), False
      (skip_verify) or True;
    * every URL (including redirect targets and pagination links) is checked against the
      link-local / metadata rule before it is requested;
    * redirects are followed only within the same scheme/host/port, so credentials never travel
      to another host.
    """

    def __init__(self, ctx: Context, *, extra_ca: str = "", skip_verify: bool | None = None,
                 cert: tuple[str, str] | None = None) -> None:
        self.ctx = ctx
        self._extra_ca = extra_ca
        self._skip_verify = ctx.tls.skip_verify if skip_verify is None else skip_verify
        self._cert = cert
        self._stack = ExitStack()
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.verify: bool | str = True

    def __enter__(self) -> HttpClient:
        if self._skip_verify:
            self.verify = False
        elif self.ctx.tls.ca_bundle.strip() or self._extra_ca.strip():
            tmp = self._stack.enter_context(private_tempdir("connector-ca-"))
            pem = ca_file_content(self.ctx.tls.ca_bundle + "\n" + self._extra_ca)
            self.verify = write_private_file(tmp, "ca.pem", pem)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.session.close()
        self._stack.close()

    def request(self, method: str, url: str, *, follow_redirects: bool = True, **kwargs: Any) -> requests.Response:
        """Send one request; map transport failures to Unreachable with a short reason.

        With ``follow_redirects=False`` a 3xx answer is returned as it is.
        """
        original = url
        for _hop in range(MAX_REDIRECTS + 1):
            check_url_allowed(url, self.ctx.allow_link_local)
            try:
                with warnings.catch_warnings():
                    if self.verify is False:  # skip_verify was chosen explicitly; do not spam the logs
                        warnings.simplefilter("ignore", InsecureRequestWarning)
                    response = self.session.request(method, url, timeout=self.ctx.timeout, verify=self.verify,
                                                    cert=self._cert, allow_redirects=False, **kwargs)
            except requests.RequestException as exc:
                raise Unreachable(self.ctx.scrub(describe_request_error(exc))) from None
            location = response.headers.get("Location")
            if not follow_redirects or response.status_code not in (301, 302, 303, 307, 308) or not location:
                return response
            target = urljoin(url, location)
            if not same_origin(target, original):
                raise Unreachable(f"unreachable: redirected to another host (HTTP {response.status_code})")
            if response.status_code == 303:
                method, kwargs = "GET", {k: v for k, v in kwargs.items() if k not in ("data", "json")}
            url = target
        raise Unreachable("unreachable: too many redirects")

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        """GET ``url``."""
        return self.request("GET", url, **kwargs)

    def paginate(self, url: str, *, items_of, next_of, cap: int = MAX_ITEMS, **kwargs: Any) -> Iterator[Any]:
        """Yield items page after page.

        ``items_of(response)`` returns the page's items; ``next_of(response)`` the next page's URL or None.
        Stops after ``cap`` items; next links must stay on the same host.
        """
        count = 0
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            response = self.get(url, **kwargs)
            raise_for_browse(response)
            for item in items_of(response):
                yield item
                count += 1
                if count >= cap:
                    return
            next_url = next_of(response)
            if next_url:
                next_url = urljoin(url, next_url)
                if not same_origin(next_url, url):
                    raise Unreachable("unreachable: pagination link points to another host")
                kwargs.pop("params", None)
            url = next_url


def json_or_none(response: requests.Response) -> Any:
    """The decoded JSON body, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def raise_for_browse(response: requests.Response) -> None:
    """Turn an error status of a browsing request into a ConnectorError."""
    code = response.status_code
    if 200 <= code < 300:
        return
    if code in (401, 403):
        raise AuthenticationFailed(f"unauthenticated: the service answered HTTP {code}")
    if code == 404:
        raise ConnectorError("not found (HTTP 404)")
    raise Unreachable(f"unreachable: unexpected HTTP status {code}")


def unexpected_status(response: requests.Response) -> ConnectorError:
    """The error for an HTTP status a verify call did not expect (status code only, no body dump)."""
    code = response.status_code
    if code in (401, 403):
        return AuthenticationFailed(f"unauthenticated: the service answered HTTP {code}")
    return Unreachable(f"unreachable: unexpected HTTP status {code}")


def with_query_param(url: str, name: str, value: str) -> str:
    """``url`` with the query parameter ``name`` set to ``value`` (for page-number pagination)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name] + [(name, value)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def json_list(response: requests.Response) -> list[dict]:
    """The dict items of a JSON array body ([] for anything else)."""
    body = json_or_none(response)
    return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []
