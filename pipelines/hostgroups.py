"""Host groups (R7): named sets of SSH targets that deploy tasks and host-group parameters refer to by name.

Create, update and delete with validation, shared by the API and pages. Errors are raised as
``ValidationError`` keyed by field path (``hosts[0].port``). A host group that a pipeline definition
refers to (a deploy task's ``host_group`` or a host-group parameter's default) is neither deleted nor
renamed: ``HostGroupInUse`` carries the list of those references.
"""

from __future__ import annotations

import ipaddress
import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from devops_console.core.models import ADD_HOST_GROUP
from devops_console.core.parsing import parse_uint
from devops_console.core.permissions import USE, can
from endpoints.models import Credential
from pipelines.models import Host, HostGroup, Pipeline

KEYS = frozenset({"name", "description", "hosts"})
HOST_KEYS = frozenset({"address", "port", "ssh_user", "credential"})
#: credential kinds the SSH deploy executor logs in with
SSH_KINDS = frozenset({"ssh_key", "username_password"})
NAME_MAX, DESCRIPTION_MAX, MAX_HOSTS = 100, 500, 200
SSH_USER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class HostGroupInUse(Exception):
    """The host group is referenced by pipeline definitions; ``usages`` lists where."""

    def __init__(self, usages: list[dict], message: str):
        super().__init__(message)
        self.usages = usages


def may_manage(user, project) -> bool:
    """Whether ``user`` may create (and manage) host groups in ``project`` (``Project.restrict_q``)."""
    return can(user, project, ADD_HOST_GROUP)


# --- validation ---------------------------------------------------------------------------------


def is_host(value: str) -> bool:
    """A DNS host name (RFC 1123 labels) or an IPv4/IPv6 address."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    name = value[:-1] if value.endswith(".") else value
    labels = name.split(".")
    if not 0 < len(name) <= 253 or labels[-1].isdigit():  # 1.2.3.999 is neither an IP nor a name
        return False
    return all(_LABEL_RE.fullmatch(label) for label in labels)


def _text(data, key, errors, *, max_len, required=False) -> str | None:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or _CONTROL_RE.search(value) or "\x00" in value:
        errors[key] = [_("Enter a single line of text.")]
        return None
    value = value.strip()
    if len(value) > max_len:
        errors[key] = [_("Use at most %(n)s characters.") % {"n": max_len}]
    elif required and not value:
        errors[key] = [_("This field is required.")]
    else:
        return value
    return None


def _name(project, data, errors, group=None) -> str | None:
    name = _text(data, "name", errors, max_len=NAME_MAX, required=True)
    if name is None:
        return None
    if "${" in name:
        errors["name"] = [_("A host group name cannot contain “${”.")]
        return None
    clash = HostGroup.objects.filter(project=project, name__iexact=name).exclude(pk=getattr(group, "pk", None))
    if clash.exists():
        errors["name"] = [_("A host group named “%(name)s” already exists in this project.") % {"name": name}]
        return None
    return name


def _port(value, where, errors) -> int | None:
    if value is None or value == "":
        return 22
    if isinstance(value, bool) or not isinstance(value, int | str):
        value = None
    elif isinstance(value, str):
        value = parse_uint(value, 5)
    if value is None or not 1 <= value <= 65535:
        errors[f"{where}.port"] = [_("Enter a port from 1 to 65535.")]
        return None
    return value


def _host(raw, where, errors, usable: dict[int, str], kept: set[tuple]) -> dict | None:
    if not isinstance(raw, dict):
        errors[where] = [_("Each host must be an object with address, port, ssh_user and credential.")]
        return None
    for key in raw:
        if key not in HOST_KEYS and key != "id":
            errors[f"{where}.{str(key)[:64]}"] = [
                _("Unknown field; expected one of: %(k)s.") % {"k": ", ".join(sorted(HOST_KEYS))}
            ]
    address, user, credential = raw.get("address"), raw.get("ssh_user"), raw.get("credential")
    if not isinstance(address, str) or not is_host(address.strip()):
        errors[f"{where}.address"] = [_("Enter a host name or an IP address.")]
        address = None
    if not isinstance(user, str) or not SSH_USER_RE.fullmatch(user):
        errors[f"{where}.ssh_user"] = [
            _("Enter an SSH user: letters, digits, “_”, “.” and “-”, starting with a letter or “_” (at most 32).")
        ]
        user = None
    port = _port(raw.get("port"), where, errors)
    if isinstance(credential, bool) or not isinstance(credential, int):
        errors[f"{where}.credential"] = [_("Give the id of a credential.")]
        return None
    if None in (address, user, port):
        return None
    host = {"address": address.strip(), "port": port, "ssh_user": user, "credential": credential}
    if tuple(host.values()) in kept:
        return host
    if credential not in usable:
        errors[f"{where}.credential"] = [
            _("Credential #%(id)s does not exist in this project or you may not use it.") % {"id": credential}
        ]
        return None
    if usable[credential] not in SSH_KINDS:
        errors[f"{where}.credential"] = [
            _("Credential #%(id)s cannot log in over SSH; choose a username and password or an SSH private key.")
            % {"id": credential}
        ]
        return None
    return host


def _hosts(actor, project, raw, errors, group=None) -> list[dict] | None:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors["hosts"] = [_("Hosts must be a list.")]
        return None
    if len(raw) > MAX_HOSTS:
        errors["hosts"] = [_("A host group has at most %(n)s hosts.") % {"n": MAX_HOSTS}]
        return None
    wanted = {h.get("credential") for h in raw if isinstance(h, dict) and type(h.get("credential")) is int}
    usable = dict(
        Credential.objects.restrict(actor, USE).filter(project=project, pk__in=wanted).values_list("pk", "kind")
    )
    # an unchanged host may keep a credential the actor cannot use; a new or moved host may not
    kept = set(group.hosts.values_list("address", "port", "ssh_user", "credential_id")) if group else set()
    hosts = [_host(value, f"hosts[{i}]", errors, usable, kept) for i, value in enumerate(raw)]
    seen = set()
    for i, host in enumerate(hosts):
        key = host and (host["address"].lower(), host["port"], host["ssh_user"])
        if key and key in seen:
            errors[f"hosts[{i}].address"] = [_("This host is listed twice.")]
        seen.add(key)
    return hosts


def check_hosts(actor, project, raw: list, group: HostGroup | None = None) -> dict[str, list[str]]:
    """The errors the pages and the API answer for ``raw`` hosts of a group of ``project`` (keyed ``hosts`` or
    ``hosts[i].<field>``), for a form that edits the host rows itself (the admin's)."""
    errors: dict[str, list[str]] = {}
    _hosts(actor, project, raw, errors, group)
    return errors


def _clean(actor, project, data, group=None) -> dict:
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": [_("Send a JSON object.")]})
    errors: dict[str, list[str]] = {}
    for key in data:
        if key not in KEYS:
            errors[str(key)[:64]] = [_("Unknown field; expected one of: %(k)s.") % {"k": ", ".join(sorted(KEYS))}]
    clean = {}
    if group is None or "name" in data:
        clean["name"] = _name(project, data, errors, group)
    if group is None or "description" in data:
        clean["description"] = _text(data, "description", errors, max_len=DESCRIPTION_MAX)
    if group is None or "hosts" in data:
        clean["hosts"] = _hosts(actor, project, data.get("hosts"), errors, group)
    if errors:
        raise ValidationError(errors)
    return clean


# --- usage --------------------------------------------------------------------------------------


def _references(definition: dict, name: str) -> list[str]:
    found = []
    for index, parameter in enumerate(definition.get("parameters") or []):
        if isinstance(parameter, dict) and parameter.get("type") == "host_group" and parameter.get("default") == name:
            found.append(_("parameter %(name)s") % {"name": parameter.get("name") or f"#{index + 1}"})
    for stage in definition.get("stages") or []:
        for task in (stage.get("tasks") or []) if isinstance(stage, dict) else []:
            config = task.get("config") if isinstance(task, dict) else None
            if isinstance(config, dict) and task.get("type") == "deploy" and config.get("host_group") == name:
                found.append(f"{stage.get('name')} › {task.get('name')}")
    return found


def usages(group: HostGroup) -> list[dict]:
    """Pipelines whose definition names the group: ``[{pipeline_id, pipeline, where: [...]}]``."""
    out = []
    pipelines = Pipeline.objects.filter(project_id=group.project_id).only("pk", "name", "definition").order_by("name")
    for pipeline in pipelines.iterator(chunk_size=200):
        where = _references(pipeline.definition if isinstance(pipeline.definition, dict) else {}, group.name)
        if where:
            out.append({"pipeline_id": pipeline.pk, "pipeline": pipeline.name, "where": where})
    return out


# --- actions ------------------------------------------------------------------------------------


def _set_hosts(group: HostGroup, hosts: list[dict]) -> None:
    group.hosts.all().delete()
    Host.objects.bulk_create(
        [
            Host(
                group=group, address=h["address"], port=h["port"], ssh_user=h["ssh_user"], credential_id=h["credential"]
            )
            for h in hosts
        ]
    )


@transaction.atomic
def create_host_group(actor, project, data: dict) -> HostGroup:
    clean = _clean(actor, project, data)
    group = HostGroup.objects.create(project=project, name=clean["name"], description=clean["description"])
    _set_hosts(group, clean["hosts"])
    return group


@transaction.atomic
def update_host_group(actor, group: HostGroup, data: dict) -> HostGroup:
    """Change name, description and/or hosts (a given ``hosts`` list replaces all hosts)."""
    group = HostGroup.objects.select_for_update().get(pk=group.pk)
    clean = _clean(actor, group.project, data, group)
    if "name" in clean and clean["name"] != group.name:
        used = usages(group)
        if used:
            raise HostGroupInUse(used, _("The host group is used by pipelines and cannot be renamed."))
        group.name = clean["name"]
    if "description" in clean:
        group.description = clean["description"]
    group.save()
    if "hosts" in clean:
        _set_hosts(group, clean["hosts"])
    return group


@transaction.atomic
def delete_host_group(actor, group: HostGroup) -> None:
    used = usages(group)
    if used:
        raise HostGroupInUse(used, _("The host group is used by pipelines and cannot be deleted."))
    group.delete()
