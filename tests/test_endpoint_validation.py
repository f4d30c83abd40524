"""Endpoint type registry (SPEC E1) and field-level validation (SPEC E6)."""

import os

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings

if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
    settings.configure(USE_I18N=False)  # run without the project settings (pytest -p no:django)

from endpoints.types import CREDENTIAL_KINDS, TYPES, get_type  # noqa: E402
from endpoints.validation import parse_kubeconfig, validate_endpoint, validate_url  # noqa: E402


def _pem(key, fmt=serialization.PrivateFormat.TraditionalOpenSSL, enc=None) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc or serialization.NoEncryption()).decode()


RSA_2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_KEY = _pem(RSA_2048)
RSA_PKCS8 = _pem(RSA_2048, serialization.PrivateFormat.PKCS8)
RSA_1024 = _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))
EC_KEY = _pem(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8)
RSA_PUBLIC = (
    RSA_2048.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
RSA_ENCRYPTED = _pem(
    RSA_2048, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pem-passphrase-xyz")
)
KUBE_TOKEN = "kube-token-S3CRET-value-987"


def kubeconfig(**overrides) -> str:
    """A kubeconfig with two clusters, two users and two contexts; overrides replace top-level keys."""
    data = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "prod",
        "clusters": [
            {"name": "prod-cluster", "cluster": {"server": "https://10.0.0.1:6443"}},
            {"name": "dev-cluster", "cluster": {"server": "http://dev.example:8080"}},
        ],
        "users": [
            {"name": "admin", "user": {"token": KUBE_TOKEN}},
            {"name": "dev", "user": {"client-key-data": "S0VZLURBVEEtU0VDUkVU"}},
        ],
        "contexts": [
            {"name": "prod", "context": {"cluster": "prod-cluster", "user": "admin"}},
            {"name": "dev", "context": {"cluster": "dev-cluster", "user": "dev", "namespace": "x"}},
        ],
    }
    data.update(overrides)
    return yaml.safe_dump({k: v for k, v in data.items() if v is not None}, sort_keys=False)


AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
VALID = {
    "docker_registry": {"url": "http://registry:5000", "username": "robot", "password": "pw with spaces ok"},
    "kubernetes": {"url": "https://api.k8s.example:6443", "kubeconfig": kubeconfig()},
    "git": {"url": "https://git.example/group/repo.git", "username": "dev", "password": "ghp_token"},
    "iam_user": {"access_key_id": AK, "secret_access_key": SK, "url": "", "region": "cn-north-4"},
    "hosted_repo": {
        "url": "https://host.example",
        "username": "tenant/user",
        "password": "pw",
        "repository": "group/repo",
    },
    "github_app": {"client_id": "Iv23liAbCdEf", "installation_id": "12345678", "api_url": "", "private_key": RSA_KEY},
    "gitlab": {"url": "https://gitlab.com", "username": "dev", "token": "glpat-abcdef"},
    "bitbucket": {"username": "workspace", "api_url": "", "token": "app-password"},
    "codeup": {"username": "clone-user", "api_url": "", "organization_id": "", "token": "pt-abc"},
}


def errors_for(type_key, **changes):
    values = {**VALID[type_key], **changes}
    return validate_endpoint(type_key, {k: v for k, v in values.items() if v is not None})


def all_messages(errors) -> str:
    return "\n".join(m for messages in errors.values() for m in messages)


# ---------------------------------------------------------------- E1 registry

API_TABLE = {  # API.md "Endpoint types": plain fields, secret fields
    "docker_registry": ({"url", "username"}, {"password"}),
    "kubernetes": ({"url"}, {"kubeconfig"}),
    "git": ({"url", "username"}, {"password"}),
    "iam_user": ({"access_key_id"}, {"secret_access_key"}),
    "hosted_repo": ({"url", "username"}, {"password"}),
    "github_app": ({"client_id", "installation_id", "api_url"}, {"private_key"}),
    "gitlab": ({"url", "username"}, {"token"}),
    "bitbucket": ({"username"}, {"token"}),
    "codeup": ({"username"}, {"token"}),
}


def test_registry_order_and_fields_match_api_table():
    """E1: the nine types in spec order; each carries API.md's plain and secret field names."""
    assert list(TYPES) == list(API_TABLE)
    for key, (plain, secret) in API_TABLE.items():
        etype = TYPES[key]
        assert plain <= {f.name for f in etype.plain_fields()}, key
        assert {f.name for f in etype.secret_fields()} == secret, key
        assert etype.credential_kind in CREDENTIAL_KINDS
        assert set(etype.plain_fields()) == set(etype.identity_fields()) | set(etype.endpoint_fields())
        assert all(str(f.label) and str(f.help_text) for f in etype.fields)
        assert etype.icon.startswith("bi-") and str(etype.description)
        extra = {f.name for f in etype.fields} - plain - secret
        assert all(not etype.field(name).required for name in extra), (key, extra)


def test_registry_labels_kinds_and_browsing():
    """E1 / E4 / E10: labels, shareable credential kinds, browsable git-ish types."""
    labels = [str(t.label) for t in TYPES.values()]
    assert labels == [
        "Docker repository",
        "Kubernetes",
        "Generic Git",
        "IAM user",
        "Hosted repo HTTPS",
        "GitHub App",
        "GitLab",
        "Bitbucket",
        "Codeup",
    ]
    kinds = {k: t.credential_kind for k, t in TYPES.items()}
    assert {k for k, v in kinds.items() if v == "username_password"} == {"docker_registry", "git", "hosted_repo"}
    assert {k for k, v in kinds.items() if v == "username_token"} == {"gitlab", "bitbucket", "codeup"}
    assert {k for k, t in TYPES.items() if t.browsable} == {
        "git",
        "hosted_repo",
        "github_app",
        "gitlab",
        "bitbucket",
        "codeup",
    }
    assert str(TYPES["git"].field("password").label) == "Password or access token"
    assert TYPES["gitlab"].defaults() == {"url": "https://gitlab.com"}
    assert TYPES["kubernetes"].field("kubeconfig").widget == "file_or_textarea"
    assert [f.name for f in TYPES["gitlab"].identity_fields()] == ["username"]


@pytest.mark.parametrize("key", ["nope", "", None, 3])
def test_get_type_unknown_raises_value_error(key):
    """E1: an unknown type is a clear ValueError, never a KeyError."""
    with pytest.raises(ValueError, match="unknown endpoint type"):
        get_type(key)
    with pytest.raises(ValueError, match="not a field"):
        TYPES["git"].field("token")


@pytest.mark.parametrize("type_key", list(VALID))
def test_valid_values_of_every_type(type_key):
    """E1 / E6: a complete, valid submission of each type has no errors."""
    assert validate_endpoint(type_key, VALID[type_key]) == {}


# ---------------------------------------------------------------- E6 URL schemes


@pytest.mark.parametrize(
    "type_key, field, value, ok",
    [
        ("docker_registry", "url", "https://reg.example", True),
        ("docker_registry", "url", "http://10.0.0.5:5000", True),
        ("docker_registry", "url", "ftp://registry.example", False),
        ("docker_registry", "url", "registry.example", False),
        ("kubernetes", "url", "http://[::1]:8080", True),
        ("kubernetes", "url", "https://kubernetes.default.svc", True),
        ("kubernetes", "url", "tcp://10.0.0.1", False),
        ("git", "url", "https://git.example/a/b.git", True),
        ("git", "url", "http://git.example/a/b.git", False),
        ("git", "url", "git@git.example:a/b.git", False),
        ("hosted_repo", "url", "https://host.example", True),
        ("hosted_repo", "url", "http://host.example", False),
        ("iam_user", "url", "https://sts.example", True),
        ("iam_user", "url", "http://sts.example", True),
        ("iam_user", "url", "", True),
        ("github_app", "api_url", "https://github.example/api/v3", True),
        ("github_app", "api_url", "http://127.0.0.1:8765", True),
        ("github_app", "api_url", "http://localhost:87/a", True),
        ("github_app", "api_url", "http://github.example/api/v3", False),
        ("bitbucket", "api_url", "https://bitbucket.example/rest", True),
        ("bitbucket", "api_url", "ftp://bitbucket.example", False),
        ("codeup", "api_url", "http://codeup.example", True),
        ("codeup", "api_url", "codeup.example", False),
        ("docker_registry", "url", "https://", False),
        ("docker_registry", "url", "https:///path", False),
        ("docker_registry", "url", "https://reg.example/a b", False),
        ("docker_registry", "url", "https://reg.example\n", False),
        ("docker_registry", "url", "https://r.ex:99999", False),
        ("docker_registry", "url", "https://reg.example:0", False),
        ("docker_registry", "url", "https://bad_!.ex", False),
        ("docker_registry", "url", "https://" + "a" * 1100 + ".example", False),
    ],
)
def test_url_schemes_per_type(type_key, field, value, ok):
    """E6 / E1: URL schemes per type (git and hosted repo https only; GitHub API http only for localhost)."""
    errors = errors_for(type_key, **{field: value})
    assert (errors == {}) is ok, errors
    if not ok:
        assert list(errors) == [field]
        assert len(value) < 12 or value not in all_messages(errors)


@pytest.mark.parametrize("url", ["https://user:hunter2pw@reg.example", "https://token-only@reg.example/v2"])
def test_url_with_credentials_is_refused_without_echo(url):
    """E6 / E5: user-info in a URL is refused, pointing to the credential fields, and never echoed."""
    errors = errors_for("docker_registry", url=url)
    message = all_messages(errors)
    assert "username/password fields" in message
    assert "hunter2pw" not in message and "token-only" not in message and url not in message


def test_validate_url_exported():
    """E6: validate_url is reusable and returns a list of messages."""
    assert validate_url("https://a.example", ("https",), field_label="Server") == []
    (message,) = validate_url("http://a.example", ("https",), field_label="Server")
    assert message.startswith("“Server”") and "https://" in message


# ---------------------------------------------------------------- E6 GitLab ports (seed acr-bind-code-source)

GITLAB_HTTP_OK = [80, 21, 443, 70, 210, 280, 488, 591, 777, 1025, 8080, 65535]


@pytest.mark.parametrize(
    "url, ok",
    [
        *[(f"http://gitlab.example:{port}", True) for port in GITLAB_HTTP_OK],
        ("http://gitlab.example", True),
        ("https://gitlab.example", True),
        ("https://gitlab.example:443", True),
        ("http://gitlab.example:1024", False),
        ("http://gitlab.example:22", False),
        ("http://gitlab.example:8", False),
        ("http://gitlab.example:1000", False),
        ("https://gitlab.example:8443", False),
        ("https://gitlab.example:80", False),
        ("https://gitlab.com", True),
        ("https://gitlab.com/", True),
        ("http://gitlab.com", False),
        ("https://gitlab.com:8443", False),
        ("", True),
        ("ftp://gitlab.example", False),
    ],
)
def test_gitlab_self_managed_ports(url, ok):
    """E6: GitLab HTTP on 80, 21, 443, 70, 210, 280, 488, 591, 777 or 1025-65535; HTTPS on 443 only."""
    errors = errors_for("gitlab", url=url)
    assert (errors == {}) is ok, errors
    if not ok:
        assert list(errors) == ["url"]


def test_gitlab_port_messages_say_what_is_expected():
    """E6: the GitLab port messages name the rule."""
    assert "port 443 only" in all_messages(errors_for("gitlab", url="https://gitlab.example:8443"))
    assert "1025-65535" in all_messages(errors_for("gitlab", url="http://gitlab.example:1024"))


# ---------------------------------------------------------------- E6 tenant/user


@pytest.mark.parametrize(
    "username, ok",
    [
        ("tenant/user", True),
        ("my-tenant/john.doe", True),
        ("t/u", True),
        (" t/u", False),
        ("t/u ", False),
        ("t", False),
        ("t/u/v", False),
        ("/u", False),
        ("t/", False),
        ("/", False),
        ("t /u", False),
        ("t/ u", False),
        ("", False),
        ("   ", False),
    ],
)
def test_hosted_repo_tenant_user_form(username, ok):
    """E1 / E6: the hosted repo username is tenant/user, with no leading or trailing spaces."""
    errors = errors_for("hosted_repo", username=username)
    assert (errors == {}) is ok, errors
    if not ok:
        assert list(errors) == ["username"]


@pytest.mark.parametrize("repository", ["/group/repo", "https://host/group/repo", "a b", "group/../x"])
def test_hosted_repo_repository_path(repository):
    """E6: the optional verification repository is a path under the prefix."""
    assert list(errors_for("hosted_repo", repository=repository)) == ["repository"]


# ---------------------------------------------------------------- E6 kubeconfig


@pytest.mark.parametrize(
    "text, expected",
    [
        ("clusters: [a\n  - b: {", "not valid YAML"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("just text", "must be a YAML mapping"),
        (kubeconfig(kind="Secret"), "kind must be Config"),
        (kubeconfig(**{"current-context": None}), "has no current-context; set it to one of the contexts: dev, prod"),
        (kubeconfig(**{"current-context": "stage"}), "current context 'stage' is not among the contexts: dev, prod"),
        (
            kubeconfig(contexts=[{"name": "prod", "context": {"cluster": "gone", "user": "admin"}}]),
            "cluster 'gone' of context 'prod' is not among the clusters: dev-cluster, prod-cluster",
        ),
        (
            kubeconfig(contexts=[{"name": "prod", "context": {"cluster": "prod-cluster", "user": "ghost"}}]),
            "user 'ghost' of context 'prod' is not among the users: admin, dev",
        ),
        (kubeconfig(contexts=[{"name": "prod", "context": {"user": "admin"}}]), "names no cluster"),
        (kubeconfig(clusters=[{"name": "prod-cluster", "cluster": {}}]), "has no server"),
        (kubeconfig(clusters=[{"name": "prod-cluster", "cluster": {"server": "10.0.0.1:6443"}}]), "server of cluster"),
        (kubeconfig(users={"admin": {}}), "must be a list of named entries"),
        ("a: &x [1]\nb: *x\n", "not valid YAML"),
    ],
)
def test_kubeconfig_problems(text, expected):
    """E6: kubeconfig must parse, and its current context, cluster (with a server) and user must exist."""
    with pytest.raises(ValueError) as info:
        parse_kubeconfig(text)
    assert expected in str(info.value)
    errors = errors_for("kubernetes", kubeconfig=text)
    assert list(errors) == ["kubeconfig"] and expected in errors["kubeconfig"][0]
    assert KUBE_TOKEN not in all_messages(errors) and "S0VZLURBVEEtU0VDUkVU" not in all_messages(errors)


def test_kubeconfig_valid_multi_cluster_and_without_kind():
    """E6: a multi-cluster kubeconfig is accepted whichever context is current; kind may be absent."""
    assert parse_kubeconfig(kubeconfig())["current-context"] == "prod"
    assert parse_kubeconfig(kubeconfig(**{"current-context": "dev"}))["contexts"][1]["name"] == "dev"
    assert parse_kubeconfig(kubeconfig(kind=None, apiVersion=None))["users"][0]["name"] == "admin"


def test_current_context_gives_the_entries_it_checked():
    """What the check resolved is what the Kubernetes connector uses (one reading of a kubeconfig): the current
    context's own cluster and user, the last of entries that share a name."""
    from endpoints.validation import current_context

    _config, context, cluster, user = current_context(kubeconfig(**{"current-context": "dev"}))
    assert (context["namespace"], cluster["server"], user) == ("x", "http://dev.example:8080",
                                                               {"client-key-data": "S0VZLURBVEEtU0VDUkVU"})  # fmt: skip
    twice = [{"name": "admin", "user": {"token": "old"}}, {"name": "admin", "user": {"token": "new"}}]
    assert current_context(kubeconfig(users=twice)).user == {"token": "new"}


def test_kubeconfig_size_limit():
    """E6: kubeconfig input is limited to 1 MiB."""
    big = kubeconfig() + "# " + "x" * (1024 * 1024) + "\n"
    with pytest.raises(ValueError, match="1 MiB"):
        parse_kubeconfig(big)
    assert "kubeconfig" in errors_for("kubernetes", kubeconfig=big)


# ---------------------------------------------------------------- E6 GitHub App


@pytest.mark.parametrize(
    "key, expected",
    [
        ("garbage", "not a valid PEM private key"),
        ("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", "not a valid PEM private key"),
        (RSA_PUBLIC, "public key"),
        (EC_KEY, "must be an RSA private key"),
        (RSA_1024, "at least 2048 bits, not 1024"),
        (RSA_ENCRYPTED, "is encrypted"),
        (None, None),
        (RSA_PKCS8, None),
        ("\n" + RSA_KEY + "\n\n", None),
    ],
)
def test_private_key(key, expected):
    """E6: the GitHub App private key is an unencrypted PEM RSA key of at least 2048 bits."""
    errors = errors_for("github_app", private_key=key or RSA_KEY)
    if expected is None:
        assert errors == {}
        return
    assert list(errors) == ["private_key"] and expected in errors["private_key"][0]
    assert key.strip() not in errors["private_key"][0] and "BEGIN" not in errors["private_key"][0]


@pytest.mark.parametrize(
    "field, value, ok",
    [
        ("installation_id", "12345678", True),
        ("installation_id", 12345678, True),
        ("installation_id", "12a", False),
        ("installation_id", "-1", False),
        ("installation_id", "0", False),
        ("installation_id", "1 2", False),
        ("installation_id", "²", False),
        ("installation_id", "", False),
        ("client_id", "Iv1.0123456789abcdef", True),
        ("client_id", "Iv23liXYZ", True),
        ("client_id", "Iv1 abc", False),
        ("client_id", "", False),
    ],
)
def test_github_app_ids(field, value, ok):
    """E6: installation_id is digits only; client_id is non-empty without spaces."""
    errors = errors_for("github_app", **{field: value})
    assert (errors == {}) is ok, errors
    if not ok:
        assert list(errors) == [field]


# ---------------------------------------------------------------- E6 access keys, generic rules


@pytest.mark.parametrize(
    "field, value, ok",
    [
        ("access_key_id", "A" * 16, True),
        ("access_key_id", "a1b2" * 32, True),
        ("access_key_id", "A" * 15, False),
        ("access_key_id", "A" * 129, False),
        ("access_key_id", "AKIA-EXAMPLE-0001", False),
        ("secret_access_key", "s" * 20, True),
        ("secret_access_key", "S/+=" * 32, True),
        ("secret_access_key", "s" * 19, False),
        ("secret_access_key", "s" * 129, False),
        ("secret_access_key", "s" * 10 + " " + "s" * 10, False),
        ("secret_access_key", "s" * 20 + "\n", False),
        ("region", "bad region", False),
        ("region", "-x", False),
    ],
)
def test_access_keys(field, value, ok):
    """E6: AK is 16-128 letters and digits; SK is 20-128 characters without whitespace."""
    errors = errors_for("iam_user", **{field: value})
    assert (errors == {}) is ok, errors
    if not ok:
        assert list(errors) == [field]
        if field == "secret_access_key":
            assert value not in all_messages(errors)


@pytest.mark.parametrize(
    "type_key, field, value",
    [
        ("git", "password", "pass\x00word"),
        ("git", "password", "p" * 1025),
        ("git", "password", "line1\nline2"),
        ("gitlab", "token", "glpat token"),
        ("gitlab", "token", "t" * 1025),
        ("bitbucket", "token", "tok\x00en"),
        ("kubernetes", "kubeconfig", kubeconfig() + "\x00"),
        ("github_app", "private_key", RSA_KEY + "\x00"),
        ("github_app", "private_key", RSA_KEY * 10),
        ("docker_registry", "username", "robot\x00"),
        ("docker_registry", "username", "ro\nbot"),
        ("docker_registry", "username", " robot"),
        ("docker_registry", "username", "   "),
        ("docker_registry", "username", "u" * 256),
        ("docker_registry", "username", ["robot"]),
        ("git", "url", "https://git.example/" + "a" * 1024),
    ],
)
def test_generic_field_rules(type_key, field, value):
    """E6: NUL bytes, over-long values, control characters, surrounding spaces and non-text are refused."""
    errors = errors_for(type_key, **{field: value})
    assert list(errors) == [field], errors
    if isinstance(value, str) and value.strip():
        assert value.strip("\x00\n ") not in all_messages(errors)


# ---------------------------------------------------------------- E6 required, kept secrets, partial, unknown


def test_required_fields_and_kept_secrets():
    """E6 / E5: required fields; an empty or missing secret keeps the stored one only if one is stored."""
    errors = validate_endpoint("docker_registry", {})
    assert set(errors) == {"url", "username", "password"}
    assert all("is required" in m[0] for m in errors.values())
    assert validate_endpoint("docker_registry", {**VALID["docker_registry"], "password": ""}) == {
        "password": ["“Password” is required."]
    }
    kept = {"password"}
    assert (
        validate_endpoint("docker_registry", {**VALID["docker_registry"], "password": ""}, secrets_present=kept) == {}
    )
    assert (
        validate_endpoint("docker_registry", {"url": "https://r.example", "username": "u"}, secrets_present=kept) == {}
    )
    assert (
        validate_endpoint("docker_registry", {**VALID["docker_registry"], "password": None}, secrets_present=kept) == {}
    )
    assert validate_endpoint("gitlab", {"username": "u", "token": "t"}) == {}  # url optional, defaults


def test_partial_updates_only_check_given_keys():
    """E6: PATCH validates only the keys present."""
    assert validate_endpoint("docker_registry", {"username": "new"}, partial=True) == {}
    assert list(validate_endpoint("docker_registry", {"url": "ftp://x"}, partial=True)) == ["url"]
    assert list(validate_endpoint("docker_registry", {"password": ""}, partial=True)) == ["password"]
    assert validate_endpoint("docker_registry", {"password": ""}, partial=True, secrets_present={"password"}) == {}
    assert validate_endpoint("hosted_repo", {"username": "t/u"}, partial=True) == {}
    assert list(validate_endpoint("hosted_repo", {"username": "t/u/v"}, partial=True)) == ["username"]
    assert list(validate_endpoint("git", {"token": "x"}, partial=True)) == ["token"]


def test_unknown_fields_and_types():
    """E6: a key that is not a field of the type, and an unknown type, are reported on that key."""
    errors = validate_endpoint("docker_registry", {**VALID["docker_registry"], "token": "x", "name": "n"})
    assert set(errors) == {"token", "name"}
    assert "not a field of Docker repository endpoints" in errors["token"][0]
    assert "url, username, password" in errors["token"][0]
    assert list(validate_endpoint("nope", {"url": "x"})) == ["type"]


SECRET = "Zq9-UNIQUE-s3cret-VALUE"


@pytest.mark.parametrize(
    "type_key, values",
    [
        ("docker_registry", {"url": f"https://u:{SECRET}@r.example", "username": "u", "password": SECRET + "\x00"}),
        ("git", {"url": "http://g.example", "username": "u", "password": SECRET + "\n" + "x" * 1100}),
        ("gitlab", {"url": "https://gitlab.example:8443", "username": "u", "token": SECRET + " "}),
        ("iam_user", {"access_key_id": SECRET, "secret_access_key": SECRET + " x"}),
        ("github_app", {"client_id": "Iv1", "installation_id": "1", "private_key": f"-----BEGIN X-----\n{SECRET}"}),
        ("kubernetes", {"url": "https://k", "kubeconfig": f"users: [{{name: a, user: {{token: {SECRET}}}}}]\n"}),
        ("kubernetes", {"url": "https://k", "kubeconfig": f"token: {SECRET}\n  bad: [indent"}),
        ("codeup", {"username": "u", "token": SECRET + "\x01", "secret": SECRET}),
    ],
)
def test_no_message_contains_a_submitted_secret(type_key, values):
    """E5 / E6: whatever is wrong, no message repeats a submitted secret value."""
    errors = validate_endpoint(type_key, values)
    assert errors
    for messages in errors.values():
        for message in messages:
            assert type(message) is str and message
            assert SECRET not in message, message


def test_codeup_clone_host_must_be_https():
    """E6: Codeup's clone host is an https URL (the token travels to it)."""
    errors = validate_endpoint("codeup", {"username": "u", "token": "t" * 20, "url": "ftp://codeup.example"})
    assert "url" in errors
    assert "url" not in validate_endpoint("codeup", {"username": "u", "token": "t" * 20, "url": "https://codeup.example"})
