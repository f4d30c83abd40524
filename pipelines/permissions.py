"""Pipeline permissions (SPEC §7, A1–A6).

Stored: one row per role (A1) and one per person who has their own setting (A2). Effective rights of
every project member are materialized into django-guardian object permissions, which
``Pipeline.restrict_q`` — the one enforcement point — reads. Every change goes through
``apply_changes``, which keeps the invariant delete ⇒ modify ⇒ execute ⇒ view (A4), so neither a
page nor the API can store an impossible combination.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

from devops_console.core.models import Membership, Project, Role
from devops_console.core.permissions import VIEW, get_object_for_action
from pipelines.models import Pipeline, PipelinePersonPermission, PipelineRolePermission

FLAGS = ("view", "execute", "modify", "delete")
CODENAMES = {"execute": "execute_pipeline", "modify": "change_pipeline", "delete": "delete_pipeline"}
ALL = dict.fromkeys(FLAGS, True)

#: Defaults (issue 4): creators and managers all; developer view/execute/modify; tester and operator
#: view/execute; participant and viewer view (P8: only managers and creators delete by default).
DEFAULT_ROLE_FLAGS = {
    Role.CREATOR: ALL,
    Role.MANAGER: ALL,
    Role.DEVELOPER: {"view": True, "execute": True, "modify": True, "delete": False},
    Role.TESTER: {"view": True, "execute": True, "modify": False, "delete": False},
    Role.OPERATOR: {"view": True, "execute": True, "modify": False, "delete": False},
    Role.PARTICIPANT: {"view": True, "execute": False, "modify": False, "delete": False},
    Role.VIEWER: {"view": True, "execute": False, "modify": False, "delete": False},
}


def normalize(state: dict) -> dict:
    """Close a state under delete ⇒ modify ⇒ execute ⇒ view (view is always on, A3)."""
    new = {flag: bool(state.get(flag, False)) for flag in FLAGS}
    new["modify"] = new["modify"] or new["delete"]
    new["execute"] = new["execute"] or new["modify"]
    new["view"] = True
    return new


def toggle(state: dict, flag: str, value: bool) -> dict:
    """One click on one checkbox, with its A4 cascade. View is always on (A3)."""
    new = normalize(state)
    if flag == "view":
        new["view"] = True
        return new
    new[flag] = value
    if flag == "execute" and not value:
        new["modify"] = new["delete"] = False
    elif flag == "modify" and value:
        new["execute"] = True
    elif flag == "modify" and not value:
        new["delete"] = False
    elif flag == "delete" and value:
        new["modify"] = new["execute"] = True
    new["view"] = True
    return new


def apply_changes(stored: dict, requested: dict) -> dict:
    """API.md: a PUT is read as changes against the stored state. Each flag that differs from the
    stored value is a toggle, applied in the order view, execute, modify, delete."""
    state = {flag: bool(stored.get(flag, flag == "view")) for flag in FLAGS}
    original = dict(state)
    for flag in FLAGS:
        if flag in requested and bool(requested[flag]) != original[flag]:
            state = toggle(state, flag, bool(requested[flag]))
    return state


def is_consistent(state: dict) -> bool:
    """delete ⇒ modify ⇒ execute ⇒ view."""
    return (
        state["view"]
        and (not state["execute"] or state["view"])
        and (not state["modify"] or state["execute"])
        and (not state["delete"] or state["modify"])
    )


def locked_user_ids(pipeline: Pipeline) -> set[int]:
    """The project creator and the pipeline creator always have everything (A5)."""
    return {pipeline.creator_id, pipeline.project.creator_id}


def create_defaults(pipeline: Pipeline) -> None:
    PipelineRolePermission.objects.bulk_create(
        [PipelineRolePermission(pipeline=pipeline, role=role, **flags) for role, flags in DEFAULT_ROLE_FLAGS.items()]
    )
    sync(pipeline)


def role_flags(pipeline: Pipeline) -> dict[str, dict]:
    stored = {p.role: p.flags() for p in pipeline.role_permissions.all()}
    return {str(role): stored.get(role, DEFAULT_ROLE_FLAGS[role]) for role in Role}


def person_flags(pipeline: Pipeline) -> dict[int, dict]:
    return {p.user_id: p.flags() for p in pipeline.person_permissions.all()}


def effective(pipeline: Pipeline, user_id: int, role: str, roles=None, persons=None) -> dict:
    if user_id in locked_user_ids(pipeline):
        return dict(ALL)
    persons = person_flags(pipeline) if persons is None else persons
    if user_id in persons:
        return persons[user_id]
    roles = role_flags(pipeline) if roles is None else roles
    return roles[role]


@transaction.atomic
def sync(pipeline: Pipeline, user_ids=None) -> None:
    """Materialize effective rights into guardian for every member (or the given ones)."""
    roles, persons = role_flags(pipeline), person_flags(pipeline)
    memberships = Membership.objects.filter(project_id=pipeline.project_id).select_related("user")
    if user_ids is not None:
        memberships = memberships.filter(user_id__in=list(user_ids))
    for membership in memberships:
        flags = effective(pipeline, membership.user_id, membership.role, roles, persons)
        for flag, codename in CODENAMES.items():
            (assign_perm if flags[flag] else remove_perm)(codename, membership.user, pipeline)


def grants_delete(pipeline: Pipeline, roles: dict, users: dict) -> bool:
    """Whether the changes turn delete on where it is off (for a role, or a person's effective rights)."""
    stored_roles, persons = role_flags(pipeline), person_flags(pipeline)
    if any(flags.get("delete") and not stored_roles[role]["delete"] for role, flags in roles.items()):
        return True
    wanted = [uid for uid, flags in users.items() if flags.get("delete")]
    member_roles = Membership.objects.filter(project_id=pipeline.project_id, user_id__in=wanted)
    return any(
        not effective(pipeline, uid, role, stored_roles, persons)["delete"]
        for uid, role in member_roles.values_list("user_id", "role")
    )


@transaction.atomic
def set_permissions(pipeline: Pipeline, roles: dict | None = None, users: dict | None = None, *, actor) -> None:
    """Apply requested changes (already validated) to role and person settings, then re-sync (A2).

    The caller may modify the pipeline; granting delete additionally needs delete — otherwise anyone with
    modify could give themselves delete. Raises ``PermissionDenied``.
    """
    from django.core.exceptions import PermissionDenied

    from devops_console.core.permissions import DELETE, can

    if grants_delete(pipeline, roles or {}, users or {}) and not can(actor, pipeline, DELETE):
        raise PermissionDenied(_("Only users who may delete the pipeline can grant delete."))
    for role, requested in (roles or {}).items():
        if role == Role.CREATOR:
            continue  # the project creator's rights are locked (A5)
        row, _created = PipelineRolePermission.objects.get_or_create(
            pipeline=pipeline, role=role, defaults=DEFAULT_ROLE_FLAGS[Role(role)]
        )
        new = apply_changes(row.flags(), requested)
        PipelineRolePermission.objects.filter(pk=row.pk).update(**new)
    locked = locked_user_ids(pipeline)
    memberships = {m.user_id: m for m in Membership.objects.filter(project_id=pipeline.project_id)}
    for user_id, requested in (users or {}).items():
        if user_id in locked:
            continue  # A5: ignored
        existing = PipelinePersonPermission.objects.filter(pipeline=pipeline, user_id=user_id).first()
        base = existing.flags() if existing else effective(pipeline, user_id, memberships[user_id].role)
        new = apply_changes(base, requested)
        PipelinePersonPermission.objects.update_or_create(pipeline=pipeline, user_id=user_id, defaults=new)
    sync(pipeline)


@transaction.atomic
def reset_person(pipeline: Pipeline, user_id: int) -> None:
    """Drop a person's own setting: they get their role's rights again (A2)."""
    PipelinePersonPermission.objects.filter(pipeline=pipeline, user_id=user_id).delete()
    sync(pipeline, [user_id])


def sync_member(project_id: int, user_id: int) -> None:
    """A member joined, changed role or left: recompute their rights on every pipeline of the project."""
    from guardian.shortcuts import get_user_model

    user = get_user_model().objects.get(pk=user_id)
    pipelines = Pipeline.objects.filter(project_id=project_id).select_related("project")
    if not Membership.objects.filter(project_id=project_id, user_id=user_id).exists():
        for pipeline in pipelines:
            for codename in CODENAMES.values():
                remove_perm(codename, user, pipeline)
        PipelinePersonPermission.objects.filter(pipeline__project_id=project_id, user_id=user_id).delete()
        return
    for pipeline in pipelines:
        sync(pipeline, [user_id])


def load_pipeline(user, project_id, pipeline_id, action: str, pipelines=None) -> tuple[Project, Pipeline]:
    """How every page and API view loads ``(project, pipeline)``: the project must be visible to ``user`` and the
    pipeline, one of that project's, allowed ``action`` (404 when not visible, 403 when visible but not allowed).
    ``pipelines``: a queryset of pipelines to take it from (select_related, annotations)."""
    project = get_object_for_action(Project, user, VIEW, pk=project_id)
    queryset = (Pipeline.objects.all() if pipelines is None else pipelines).filter(project=project)
    return project, get_object_for_action(queryset, user, action, pk=pipeline_id)
