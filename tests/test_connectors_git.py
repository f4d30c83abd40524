"""Connectors against a REAL Git smart-HTTP server (git http-backend over HTTPS with basic auth): E7, E10."""

from __future__ import annotations

import os
import stat
import tempfile
import threading
import time

import pytest

from endpoints import connectors
from endpoints.connectors import TlsOptions, _gitcmd
from endpoints.connectors._base import Context
from tests.servers._util import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def tls(git_server) -> TlsOptions:
    return TlsOptions(ca_bundle=git_server.ca_pem)


@pytest.fixture
def fields(git_server) -> dict:
    return {"url": git_server.repo_url("org/app.git"), "username": git_server.username}


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Route the connectors' temporary files into an inspectable directory."""
    directory = tmp_path / "connector-tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def test_right_password_is_normal(git_server, fields, tls):
    """E7: git ls-remote with the right password answers status 0 and really reached the server."""
    before = len(git_server.requests)
    result = connectors.verify("git", fields, {"password": git_server.password}, tls=tls)
    assert result.status == 0, result.detail
    assert "2 branches" in result.detail
    authed = [r for r in git_server.requests[before:] if r.user == git_server.username and r.status == 200]
    assert authed, "the server never saw an authenticated request"


def test_wrong_password_is_unauthenticated(git_server, fields, tls):
    """E7: a wrong password gives status 2 (unauthenticated), and the detail does not quote it."""
    result = connectors.verify("git", fields, {"password": "not-the-password-123"}, tls=tls)
    assert result.status == 2
    assert "credentials" in result.detail
    assert "not-the-password-123" not in result.detail


def test_unreachable_port_is_status_3(fields, git_server, tls):
    """E7: nothing listening gives status 3 (unreachable)."""
    fields = dict(fields, url=f"https://127.0.0.1:{free_port()}/org/app.git")
    result = connectors.verify("git", fields, {"password": git_server.password}, tls=tls, timeout=5)
    assert result == connectors.VerifyResult(3, "unreachable: connection refused")


def test_untrusted_ca_without_bundle_fails_with_tls_reason(git_server, fields):
    """E7: the test CA is not trusted by default, so verification fails with a TLS reason."""
    result = connectors.verify("git", fields, {"password": git_server.password})
    assert result.status in (2, 3)
    assert "TLS" in result.detail or "certificate" in result.detail


def test_ca_bundle_makes_it_trusted(git_server, fields, test_ca):
    """E7: supplying the CA bundle (PEM text) makes the same server trusted."""
    result = connectors.verify(
        "git", fields, {"password": git_server.password}, tls=TlsOptions(ca_bundle=test_ca.ca_pem)
    )
    assert result.status == 0, result.detail


def test_unrelated_ca_bundle_is_not_enough(git_server, fields):
    """E7: a CA bundle with a different CA does not make the server trusted."""
    from tests.servers.ca import CertificateAuthority

    result = connectors.verify(
        "git",
        fields,
        {"password": git_server.password},
        tls=TlsOptions(ca_bundle=CertificateAuthority("Other CA").ca_pem),
    )
    assert result.status == 3
    assert "TLS" in result.detail


def test_skip_verify(git_server, fields):
    """E7: skip_verify accepts the untrusted certificate."""
    result = connectors.verify("git", fields, {"password": git_server.password}, tls=TlsOptions(skip_verify=True))
    assert result.status == 0, result.detail


def test_missing_repository_is_reported(git_server, fields, tls):
    """E7: a repository that does not exist is reported as not found / no access (status 2)."""
    fields = dict(fields, url=git_server.repo_url("org/missing.git"))
    result = connectors.verify("git", fields, {"password": git_server.password}, tls=tls)
    assert result.status == 2
    assert "not found" in result.detail


def test_branches_tags_and_repository(git_server, fields, tls):
    """E10: branches and tags come from ls-remote (peeled ^{} entries dropped); one repository."""
    secrets = {"password": git_server.password}
    assert connectors.list_branches("git", fields, secrets, "", tls=tls) == ["main", "release/1.0"]
    assert connectors.list_tags("git", fields, secrets, fields["url"], tls=tls) == ["v1.0.0"]
    assert connectors.list_repositories("git", fields, secrets, tls=tls) == [
        {"name": "app", "full_name": "org/app", "clone_url": fields["url"]}
    ]
    assert connectors.list_branches("git", fields, secrets, "org/app", tls=tls) == ["main", "release/1.0"]


def test_branches_follow_pushes(git_server, tls):
    """E10: refs created later (a new repository with extra branches and tags) are listed."""
    url = git_server.create_repo("team/svc.git", branches=("develop", "feature/x"), tags=("v2",))
    fields = {"url": url, "username": git_server.username}
    secrets = {"password": git_server.password}
    assert connectors.list_branches("git", fields, secrets, "", tls=tls) == ["develop", "feature/x", "main"]
    assert connectors.list_tags("git", fields, secrets, "", tls=tls) == ["v2"]


def test_generic_git_refuses_other_repositories(git_server, fields, tls):
    """E10: a generic Git endpoint only serves its own repository (credentials never go elsewhere)."""
    with pytest.raises(connectors.ConnectorError, match="only its own repository"):
        connectors.list_branches(
            "git", fields, {"password": git_server.password}, "https://evil.example/x.git", tls=tls
        )


def test_browse_with_wrong_password_raises_status_2(git_server, fields, tls):
    """E10: browsing with bad credentials raises a ConnectorError carrying status 2, without the secret."""
    with pytest.raises(connectors.ConnectorError) as info:
        connectors.list_branches("git", fields, {"password": "bad-secret-xyz"}, "", tls=tls)
    assert info.value.status == 2
    assert "bad-secret-xyz" not in str(info.value)


def _process_table() -> list[tuple[str, str, str]]:
    """(pid, cmdline, environ) of every process we can read."""
    rows = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open(f"/proc/{pid}/environ", "rb") as fh:
                environ = fh.read().replace(b"\0", b"\n").decode("utf-8", "replace")
        except OSError:
            continue
        rows.append((pid, cmdline, environ))
    return rows


def test_password_never_in_process_list_or_environment(git_server, fields, tls, private_tmp):
    """E7/E5: while git runs, the password is in no process's command line or environment; the
    askpass files are 0600/0700 in a private directory that is removed afterwards."""
    password = git_server.password
    outcome: dict = {}
    thread = threading.Thread(
        target=lambda: outcome.setdefault("result", connectors.verify("git", fields, {"password": password}, tls=tls))
    )
    git_server.delay = 0.4
    seen_git, leaks, modes = [], [], {}
    try:
        thread.start()
        while thread.is_alive():
            for pid, cmdline, environ in _process_table():
                if "ls-remote" in cmdline or "remote-https" in cmdline:
                    seen_git.append(cmdline)
                if password in cmdline or (password in environ and pid != str(os.getpid())):
                    leaks.append(cmdline)
            for path in private_tmp.rglob("*"):
                try:
                    modes[path.name] = stat.S_IMODE(path.stat().st_mode)
                except FileNotFoundError:
                    pass
            time.sleep(0.02)
        thread.join()
    finally:
        git_server.delay = 0.0
    assert outcome["result"].status == 0, outcome["result"].detail
    assert seen_git, "git was never observed running"
    assert not [c for c in seen_git if password in c]
    assert not leaks
    assert modes.get("password") == 0o600 and modes.get("username") == 0o600
    assert modes.get("askpass.sh") == 0o700
    assert list(private_tmp.iterdir()) == [], "temporary credential files were left behind"


def test_git_stderr_is_scrubbed():
    """E7: an unrecognised git error is shown filtered: any secret value is replaced."""
    ctx = Context({}, {"password": "s3cr3t-value"})
    error = _gitcmd.classify_git_failure("fatal: weird failure near s3cr3t-value in transport\n", ctx)
    assert "s3cr3t-value" not in str(error)
    assert "weird failure" in str(error) and "***" in str(error)


def test_hosted_repo_with_repository(git_server, tls):
    """E7/E10: hosted repo endpoints run ls-remote on prefix/repository; bad passwords give 2."""
    fields = {"url": git_server.base_url, "username": git_server.username, "repository": "org/app.git"}
    assert connectors.verify("hosted_repo", fields, {"password": git_server.password}, tls=tls).status == 0
    assert connectors.verify("hosted_repo", fields, {"password": "nope-nope"}, tls=tls).status == 2
    secrets = {"password": git_server.password}
    assert connectors.list_branches("hosted_repo", fields, secrets, "org/app.git", tls=tls) == ["main", "release/1.0"]
    assert connectors.list_tags("hosted_repo", fields, secrets, "org/app.git", tls=tls) == ["v1.0.0"]
    repos = connectors.list_repositories("hosted_repo", fields, secrets, tls=tls)
    assert repos == [{"name": "app", "full_name": "org/app.git", "clone_url": git_server.repo_url("org/app.git")}]


def test_hosted_repo_prefix_only_uses_basic_auth(git_server, tls):
    """E7: without a repository, a GET of the prefix with basic auth: 401 gives 2, otherwise 0."""
    fields = {"url": git_server.base_url, "username": git_server.username}
    assert connectors.verify("hosted_repo", fields, {"password": git_server.password}, tls=tls).status == 0
    assert connectors.verify("hosted_repo", fields, {"password": "wrong-one"}, tls=tls).status == 2


def test_codeup_branches_via_git(git_server, tls):
    """E10: Codeup branches and tags come from git ls-remote with the HTTPS clone username and token."""
    fields = {"username": git_server.username, "url": git_server.base_url}
    secrets = {"token": git_server.password}
    assert connectors.list_branches("codeup", fields, secrets, "org/app", tls=tls) == ["main", "release/1.0"]
    assert connectors.list_tags("codeup", fields, secrets, git_server.repo_url("org/app.git"), tls=tls) == ["v1.0.0"]
    with pytest.raises(connectors.ConnectorError) as info:
        connectors.list_branches("codeup", fields, {"token": "bad-token"}, "org/app", tls=tls)
    assert info.value.status == 2
    with pytest.raises(connectors.ConnectorError, match="not on the Codeup host"):
        connectors.list_branches("codeup", fields, secrets, "https://elsewhere.example/org/app.git", tls=tls)
