"""Run ``git ls-remote`` safely (E7 verify, E10 browse).

Credentials never appear on a command line, in a URL or in git's environment: git asks a small
0700 askpass script, which prints the username or password from 0600 files in a private temporary
directory that is removed afterwards. Stored credential helpers, global/system configuration,
terminal prompts, redirects and non-HTTP protocols are disabled.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from ._base import AuthenticationFailed, ConnectorError, Context, Unreachable, private_tempdir, write_private_file
from ._net import ca_file_content, check_url_allowed, split_http_url

GIT = os.environ.get("CONNECTOR_GIT_BINARY", "git")

_PASSTHROUGH_ENV = ("PATH", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
                    "all_proxy", "ALL_PROXY", "GIT_SSL_CAINFO", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE")
_NETLOC_RE = re.compile(r"^[A-Za-z0-9.\-:\[\]_]+$")

_AUTH_PATTERNS = ("authentication failed", "could not read username", "could not read password",
                  "terminal prompts disabled", "access denied", "returned error: 401", "returned error: 403",
                  "invalid username or password", "invalid credentials", "permission denied")
_TRANSPORT_PATTERNS = (("could not resolve host", "host name could not be resolved"),
                       ("timed out", "connection timed out"),
                       ("timeout was reached", "connection timed out"),
                       ("operation too slow", "connection timed out"),
                       ("connection refused", "connection refused"),
                       ("couldn't connect to server", "connection refused"),
                       ("failed to connect", "connection failed"))
_TLS_VERIFY_PATTERNS = ("ssl certificate problem", "server certificate verification failed",
                        "certificate verify failed", "unable to get local issuer certificate",
                        "self signed certificate", "self-signed certificate")
_TLS_OTHER_PATTERNS = ("ssl_connect", "gnutls", "tls", "ssl")
_NOT_FOUND_PATTERNS = ("repository not found", "not found", "returned error: 404", "does not appear to be a git")
_LATE_PATTERNS = (("empty reply from server", "empty reply from the server"),
                  ("recv failure", "connection closed by the server"),
                  ("redirect", "the server redirected the request (redirects are not followed)"))


def _askpass_script(tmp: str, netloc: str) -> str:
    """A POSIX shell askpass that only answers prompts for the endpoint's own host."""
    user_file = shlex.quote(os.path.join(tmp, "username"))
    pass_file = shlex.quote(os.path.join(tmp, "password"))
    return (
        "#!/bin/sh\n"
        "# Answers git's credential prompts from 0600 files; never echoes anything else.\n"
        'case "$1" in\n'
        f"  *\"//{netloc}'\"*|*\"@{netloc}'\"*) ;;\n"
        "  *) exit 1 ;;\n"
        "esac\n"
        'case "$1" in\n'
        f"  Username*|username*) exec cat {user_file} ;;\n"
        f"  *) exec cat {pass_file} ;;\n"
        "esac\n"
    )


def classify_git_failure(stderr: str, ctx: Context) -> ConnectorError:
    """Map git's (C-locale) stderr to an E7 status with a short reason; unknown errors are scrubbed."""
    text = stderr.lower()
    if any(p in text for p in _AUTH_PATTERNS):
        return AuthenticationFailed("unauthenticated: the Git server rejected the credentials")
    for pattern, reason in _TRANSPORT_PATTERNS:
        if pattern in text:
            return Unreachable(f"unreachable: {reason}")
    if any(p in text for p in _TLS_VERIFY_PATTERNS):
        return Unreachable("unreachable: TLS certificate verification failed (untrusted or invalid server certificate)")
    if any(p in text for p in _TLS_OTHER_PATTERNS):
        return Unreachable("unreachable: TLS connection failed")
    if any(p in text for p in _NOT_FOUND_PATTERNS):
        return AuthenticationFailed("unauthenticated: repository not found or no access to it")
    for pattern, reason in _LATE_PATTERNS:
        if pattern in text:
            return Unreachable(f"unreachable: {reason}")
    first = next((line.strip() for line in stderr.splitlines() if line.strip()), "")
    first = ctx.scrub(re.sub(r"^(fatal|error):\s*", "", first))[:200]
    return Unreachable(f"unreachable: git ls-remote failed ({first})" if first else "unreachable: git ls-remote failed")


@contextmanager
def git_environment(ctx: Context, url: str, username: str, password: str) -> Iterator[tuple[dict[str, str], list[str]]]:
    """``(env, config_args)`` for running git against the http(s) ``url`` with these credentials.

    Checks the URL first (http/https, no credentials in it, a plain host, not link-local). ``env`` holds
    no secret: git asks the askpass script, which answers only prompts for ``url``'s host from 0600
    files in a private 0700 directory (also git's HOME and the cwd to use) that is removed on exit.
    ``config_args`` (``-c`` options, placed before the git subcommand) disable credential helpers,
    redirects and slow transfers, and apply the TLS options (CA bundle or skip-verify).
    """
    split_http_url(url)
    netloc = urlsplit(url).netloc
    if not _NETLOC_RE.match(netloc):
        raise ConnectorError("invalid host in the Git URL")
    check_url_allowed(url, ctx.allow_link_local)
    ctx.add_secret(password)
    with private_tempdir("connector-git-") as tmp:
        write_private_file(tmp, "username", (username or "git") + "\n")
        write_private_file(tmp, "password", password + "\n")
        askpass = write_private_file(tmp, "askpass.sh", _askpass_script(tmp, netloc), mode=0o700)
        env = {k: os.environ[k] for k in _PASSTHROUGH_ENV if k in os.environ}
        env.update({"HOME": tmp, "XDG_CONFIG_HOME": tmp, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
                    "GIT_ASKPASS": askpass, "SSH_ASKPASS": askpass, "GIT_ALLOW_PROTOCOL": "http:https",
                    "LC_ALL": "C", "LANG": "C", "LANGUAGE": "C"})
        env.setdefault("PATH", os.defpath)
        config = ["-c", "credential.helper=", "-c", "core.askPass=", "-c", "http.followRedirects=false",
                  "-c", "http.lowSpeedLimit=1", "-c", f"http.lowSpeedTime={max(1, int(ctx.timeout))}"]
        if ctx.tls.skip_verify:
            config += ["-c", "http.sslVerify=false"]
            env.pop("GIT_SSL_CAINFO", None)
        elif ctx.tls.ca_bundle.strip():
            ca_path = write_private_file(tmp, "ca.pem", ca_file_content(ctx.tls.ca_bundle))
            config += ["-c", f"http.sslCAInfo={ca_path}"]
            env["GIT_SSL_CAINFO"] = ca_path  # the environment variable would override the config otherwise
        yield env, config


def ls_remote(ctx: Context, url: str, username: str, password: str, *, heads: bool = False,
              tags: bool = False) -> list[tuple[str, str]]:
    """Return ``(sha, ref)`` pairs of ``git ls-remote`` against an http(s) ``url``.

    Raises AddressNotAllowed / AuthenticationFailed / Unreachable / ConnectorError (scrubbed messages).
    """
    with git_environment(ctx, url, username, password) as (env, config):
        cmd = [GIT, *config, "ls-remote"]
        if heads:
            cmd.append("--heads")
        if tags:
            cmd.append("--tags")
        cmd += ["--", url]
        stdout, stderr, returncode = _run(cmd, env, env["HOME"], ctx.timeout)
    if returncode != 0:
        raise classify_git_failure(stderr, ctx)
    refs = []
    for line in stdout.splitlines():
        sha, _sep, ref = line.partition("\t")
        if ref:
            refs.append((sha.strip(), ref.strip()))
    return refs


def _run(cmd: list[str], env: dict[str, str], cwd: str, timeout: float) -> tuple[str, str, int]:
    """Run git in its own process group; kill the whole group on timeout."""
    try:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
    except FileNotFoundError:
        raise ConnectorError("git is not installed on the server") from None
    try:
        out, err = proc.communicate(timeout=timeout + 2)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
        proc.communicate()
        raise Unreachable("unreachable: git ls-remote timed out") from None
    return out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), proc.returncode


def branch_and_tag_names(refs: list[tuple[str, str]], prefix: str) -> list[str]:
    """Names under ``refs/heads/`` or ``refs/tags/`` (peeled ``^{}`` entries dropped), sorted."""
    names = {ref[len(prefix):] for _sha, ref in refs if ref.startswith(prefix) and not ref.endswith("^{}")}
    return sorted(names)
