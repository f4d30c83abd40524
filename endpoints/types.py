"""The single registry of service-endpoint types and their fields (SPEC E1, API.md "Endpoint types").

Every other layer (models, forms, serializers, admin, verification, browsing) reads field names,
labels, help texts, storage and limits from here; nothing else hard-codes a type's field list.

Storage of a field:

* ``endpoint`` -- plain, stored on the endpoint itself (URLs, ids, options);
* ``identity`` -- plain, stored on the shared credential (username, access key id);
* ``secret``   -- encrypted on the credential, write-only (E5).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

STORAGES = ("endpoint", "identity", "secret")
WIDGETS = ("text", "url", "textarea", "password", "file_or_textarea")

URL_MAX = 1024
USERNAME_MAX = 255
PASSWORD_MAX = 1024
TOKEN_MAX = 1024
KUBECONFIG_MAX = 1024 * 1024  # 1 MiB (E6)
PRIVATE_KEY_MAX = 16 * 1024  # an RSA 8192-bit PEM is ~6.5 KiB


@dataclass(frozen=True)
class FieldSpec:
    name: str  # API field name, exactly as API.md's table
    label: Promise
    help_text: Promise
    storage: str  # "endpoint" | "identity" | "secret"
    widget: str = "text"
    required: bool = True
    max_length: int = 255
    placeholder: str = ""
    default: str = ""  # applied by callers when an optional field is left empty

    def __post_init__(self):
        if self.storage not in STORAGES:
            raise ValueError(f"FieldSpec {self.name!r}: storage must be one of {STORAGES}, not {self.storage!r}")
        if self.widget not in WIDGETS:
            raise ValueError(f"FieldSpec {self.name!r}: widget must be one of {WIDGETS}, not {self.widget!r}")

    @property
    def is_secret(self) -> bool:
        return self.storage == "secret"


@dataclass(frozen=True)
class EndpointType:
    key: str
    label: Promise
    description: Promise
    credential_kind: str
    fields: tuple[FieldSpec, ...]
    browsable: bool  # repository / branch / tag browsing (E10)
    icon: str  # bootstrap-icons class name

    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise ValueError(
            f"{name!r} is not a field of {self.key} endpoints; expected one of: {', '.join(self.field_names())}"
        )

    def plain_fields(self) -> tuple[FieldSpec, ...]:
        """Fields stored in the clear, on the endpoint or on its credential."""
        return tuple(f for f in self.fields if f.storage != "secret")

    def secret_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.storage == "secret")

    def identity_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.storage == "identity")

    def endpoint_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.storage == "endpoint")

    def credential_fields(self) -> tuple[FieldSpec, ...]:
        """Identity and secret fields: what lives on the (shareable) credential (E4)."""
        return tuple(f for f in self.fields if f.storage in ("identity", "secret"))

    def defaults(self) -> dict[str, str]:
        return {f.name: f.default for f in self.fields if f.default}


CREDENTIAL_KINDS: dict[str, Promise] = {
    "username_password": _("Username and password"),
    "username_token": _("Username and access token"),
    "kubeconfig": _("Kubeconfig"),
    "access_key": _("Access key (AK/SK)"),
    "github_app_key": _("GitHub App private key"),
    "ssh_key": _("SSH private key"),  # host-group hosts (R7); no endpoint type uses it
}


def _url(name="url", label=None, help_text=None, *, required=True, placeholder="https://", default=""):
    return FieldSpec(
        name,
        label or _("URL"),
        help_text or _("HTTP or HTTPS address."),
        "endpoint",
        "url",
        required=required,
        max_length=URL_MAX,
        placeholder=placeholder,
        default=default,
    )


def _username(help_text, label=None, placeholder=""):
    return FieldSpec(
        "username", label or _("Username"), help_text, "identity", max_length=USERNAME_MAX, placeholder=placeholder
    )


def _password(help_text, label=None):
    return FieldSpec("password", label or _("Password"), help_text, "secret", "password", max_length=PASSWORD_MAX)


def _token(label, help_text):
    return FieldSpec("token", label, help_text, "secret", "password", max_length=TOKEN_MAX)


def _api_url(help_text, placeholder):
    return _url("api_url", _("API base URL"), help_text, required=False, placeholder=placeholder)


_TYPES = (
    EndpointType(
        "docker_registry",
        _("Docker repository"),
        _("Connect to a Docker image repository to push and pull images."),
        "username_password",
        (
            _url(
                label=_("Repository address"),
                help_text=_("Address of the Docker image repository to connect (HTTP or HTTPS address)."),
                placeholder="https://registry.example.com",
            ),
            _username(_("Username for connecting to the Docker image repository.")),
            _password(_("Password for connecting to the Docker image repository.")),
        ),
        browsable=False,
        icon="bi-box-seam",
    ),
    EndpointType(
        "kubernetes",
        _("Kubernetes"),
        _("Connect to a Kubernetes cluster to deliver deployment tasks to it."),
        "kubeconfig",
        (
            _url(
                label=_("Kubernetes URL"),
                help_text=_("API server address of the Kubernetes cluster to connect (HTTP or HTTPS address)."),
                placeholder="https://api.cluster.example:6443",
            ),
            FieldSpec(
                "kubeconfig",
                _("Kubeconfig"),
                _(
                    "The kubeconfig file holds clusters, users, namespaces and authentication details; it may "
                    "hold several. Its current context selects the cluster and user that are used."
                ),
                "secret",
                "file_or_textarea",
                max_length=KUBECONFIG_MAX,
            ),
        ),
        browsable=False,
        icon="bi-diagram-3",
    ),
    EndpointType(
        "git",
        _("Generic Git"),
        _("Connect to a Git repository over HTTPS to obtain its repositories and branches."),
        "username_password",
        (
            _url(
                label=_("Git repository URL"),
                help_text=_("Web URL of a Git repository (HTTPS address)."),
                placeholder="https://git.example.com/group/repo.git",
            ),
            _username(_("Username used for logging in to the Git repository.")),
            _password(
                _("Password or access token used for logging in to the Git repository."),
                label=_("Password or access token"),
            ),
        ),
        browsable=True,
        icon="bi-git",
    ),
    EndpointType(
        "iam_user",
        _("IAM user"),
        _("Delegate an access key (AK/SK) so that tasks can obtain a token with its permissions."),
        "access_key",
        (
            FieldSpec("access_key_id", _("Access Key Id"), _("Access Key ID (AK)."), "identity", max_length=128),
            FieldSpec(
                "secret_access_key",
                _("Secret Access Key"),
                _("Secret Access Key (SK)."),
                "secret",
                "password",
                max_length=128,
            ),
            _url(
                label=_("STS endpoint"),
                help_text=_("Token service address (HTTP or HTTPS). Leave empty to use the configured default."),
                required=False,
            ),
            FieldSpec(
                "region",
                _("Region"),
                _("Region of the token service, e.g. cn-north-4. Optional."),
                "endpoint",
                required=False,
                max_length=64,
                placeholder="cn-north-4",
            ),
        ),
        browsable=False,
        icon="bi-key",
    ),
    EndpointType(
        "hosted_repo",
        _("Hosted repo HTTPS"),
        _("Authorize pipelines to clone, branch, merge and commit in hosted repositories over HTTPS."),
        "username_password",
        (
            _url(
                label=_("Repo URL prefix"),
                help_text=_("Prefix of the HTTPS clone address of the hosted repositories, e.g. https://host.example."),
                placeholder="https://host.example",
            ),
            _username(
                _("HTTPS username in the format tenant name/username, without spaces at the beginning or end."),
                placeholder="tenant/user",
            ),
            _password(_("HTTPS password used to operate the repositories.")),
            FieldSpec(
                "repository",
                _("Repository"),
                _("A repository path under the prefix (e.g. group/repo) used to verify the connection. Optional."),
                "endpoint",
                required=False,
                max_length=URL_MAX,
                placeholder="group/repo",
            ),
        ),
        browsable=True,
        icon="bi-hdd-network",
    ),
    EndpointType(
        "github_app",
        _("GitHub App"),
        _("Connect to GitHub repositories through an installed GitHub App."),
        "github_app_key",
        (
            FieldSpec(
                "client_id",
                _("Client ID"),
                _("Client ID shown on the GitHub App's General page."),
                "endpoint",
                max_length=128,
                placeholder="Iv23li…",
            ),
            FieldSpec(
                "private_key",
                _("Private key"),
                _("Contents of the private-key .pem file generated for the GitHub App (RSA)."),
                "secret",
                "file_or_textarea",
                max_length=PRIVATE_KEY_MAX,
                placeholder="-----BEGIN RSA PRIVATE KEY-----",
            ),
            FieldSpec(
                "installation_id",
                _("Installation ID"),
                _("Number shown after installing the app on an account (digits only)."),
                "endpoint",
                max_length=20,
                placeholder="12345678",
            ),
            _api_url(
                _(
                    "Only for GitHub Enterprise Server, e.g. https://github.example.com/api/v3. "
                    "Leave empty for github.com."
                ),
                "https://api.github.com",
            ),
        ),
        browsable=True,
        icon="bi-github",
    ),
    EndpointType(
        "gitlab",
        _("GitLab"),
        _("Connect to gitlab.com or a self-managed GitLab instance with a personal access token."),
        "username_token",
        (
            _url(
                label=_("Instance URL"),
                help_text=_(
                    "Sign-in URL of the GitLab instance. Self-managed: HTTP on port 80, 21, 443, 70, 210, "
                    "280, 488, 591, 777 or 1025-65535; HTTPS on port 443 only."
                ),
                required=False,
                placeholder="https://gitlab.com",
                default="https://gitlab.com",
            ),
            _username(_("Your GitLab username.")),
            _token(_("Personal access token"), _("GitLab personal access token with the api scope.")),
        ),
        browsable=True,
        icon="bi-gitlab",
    ),
    EndpointType(
        "bitbucket",
        _("Bitbucket"),
        _("Connect to Bitbucket repositories with an app password or OAuth token."),
        "username_token",
        (
            _username(_("Bitbucket workspace or username."), label=_("Workspace / username")),
            _api_url(
                _("Only for a self-hosted Bitbucket; leave empty for bitbucket.org."), "https://api.bitbucket.org/2.0"
            ),
            _token(_("App password or OAuth token"), _("Bitbucket app password or OAuth access token.")),
        ),
        browsable=True,
        icon="bi-bucket",
    ),
    EndpointType(
        "codeup",
        _("Codeup"),
        _("Connect to Codeup repositories with a personal access token."),
        "username_token",
        (
            _username(
                _("HTTPS clone username, shown under Personal Settings > HTTPS Password in Codeup."),
                label=_("HTTPS clone username"),
            ),
            _api_url(_("Codeup OpenAPI address. Leave empty to use the default."), "https://openapi-rdc.aliyuncs.com"),
            _url(
                "url", _("Clone host"), _("Codeup HTTPS clone host. Leave empty for https://codeup.aliyun.com."),
                required=False, placeholder="https://codeup.aliyun.com",
            ),
            FieldSpec(
                "organization_id",
                _("Organization ID"),
                _("Codeup organization to browse. Optional."),
                "endpoint",
                required=False,
                max_length=128,
            ),
            _token(
                _("Personal access token"),
                _("Codeup personal access token with read access to repositories, branches and tags."),
            ),
        ),
        browsable=True,
        icon="bi-code-square",
    ),
)

TYPES: dict[str, EndpointType] = {t.key: t for t in _TYPES}

#: Credential kinds that no endpoint type uses, described like a type (identity + secret field) for the forms.
KIND_SHAPES: dict[str, EndpointType] = {
    "ssh_key": EndpointType(
        "ssh_key",
        _("SSH private key"),
        _("Log in to the hosts of a host group (deploy tasks) with a private key."),
        "ssh_key",
        (
            FieldSpec(
                "username",
                _("Username"),
                _("The SSH user the key belongs to, for reference; each host names the user it logs in as."),
                "identity",
                required=False,
                max_length=USERNAME_MAX,
            ),
            FieldSpec(
                "private_key",
                _("Private key"),
                _("The private key file (OpenSSH or PEM format), without a passphrase."),
                "secret",
                "file_or_textarea",
                max_length=PRIVATE_KEY_MAX,
            ),
        ),
        browsable=False,
        icon="bi-terminal",
    ),
}


def kind_type(kind: str) -> EndpointType:
    """What a credential kind holds: the fields of its first endpoint type, else its ``KIND_SHAPES`` entry."""
    return next((t for t in _TYPES if t.credential_kind == kind), None) or KIND_SHAPES[kind]


def get_type(key) -> EndpointType:
    """Return the endpoint type ``key``; an unknown key raises ValueError (never KeyError)."""
    try:
        return TYPES[key]
    except (KeyError, TypeError):
        raise ValueError(f"unknown endpoint type {key!r}; expected one of: {', '.join(TYPES)}") from None


def type_choices() -> list[tuple[str, Promise]]:
    """(key, label) pairs in E1 order, for model / form / serializer choices."""
    return [(t.key, t.label) for t in _TYPES]


def _check_registry():
    for kind in CREDENTIAL_KINDS:
        kind_type(kind)  # every kind has an endpoint type or a shape
    for t in _TYPES:
        if t.credential_kind not in CREDENTIAL_KINDS:
            raise ValueError(f"endpoint type {t.key!r}: unknown credential kind {t.credential_kind!r}")
        names = t.field_names()
        if len(set(names)) != len(names):
            raise ValueError(f"endpoint type {t.key!r}: duplicate field names")


_check_registry()
