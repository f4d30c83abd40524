"""Pipeline permissions (A1–A5): the cascade over every combination, role vs person settings, locks,
and the guardian-backed restricted queryset."""

import itertools

import pytest

from devops_console.core.models import Membership, Role
from devops_console.core.permissions import CHANGE, DELETE, EXECUTE, VIEW
from pipelines import permissions as perms
from pipelines.models import Pipeline

FLAGS = perms.FLAGS
ALL_STATES = [dict(zip(FLAGS, bits, strict=True)) for bits in itertools.product([False, True], repeat=4)]


@pytest.mark.parametrize("start", ALL_STATES, ids=lambda s: "".join(f[0] if v else "-" for f, v in s.items()))
@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("value", [True, False])
def test_every_toggle_keeps_the_invariant_and_follows_a4(start, flag, value):
    """A4: for every starting combination and every single toggle, delete ⇒ modify ⇒ execute ⇒ view holds."""
    result = perms.toggle(start, flag, value)
    assert perms.is_consistent(result)
    assert result["view"] is True  # A3
    if flag != "view":
        assert result[flag] is value  # the click itself always takes effect
    if perms.is_consistent(start):
        untouched = {f: start[f] for f in FLAGS}
        if flag == "execute" and not value:
            assert not result["modify"] and not result["delete"]
        elif flag == "modify" and value:
            assert result["execute"]
        elif flag == "modify" and not value:
            assert not result["delete"] and result["execute"] == untouched["execute"]
        elif flag == "delete" and value:
            assert result["modify"] and result["execute"]
        elif flag == "delete" and not value:
            assert result["modify"] == untouched["modify"] and result["execute"] == untouched["execute"]
        elif flag == "execute" and value:
            assert result["modify"] == untouched["modify"] and result["delete"] == untouched["delete"]


def test_put_is_read_as_changes_against_the_stored_state():
    """API.md: {execute: false, modify: true} over execute+modify turns both off; over view only turns both on."""
    over_both = perms.apply_changes(
        {"view": True, "execute": True, "modify": True, "delete": False}, {"execute": False, "modify": True}
    )
    assert over_both == {"view": True, "execute": False, "modify": False, "delete": False}
    over_view = perms.apply_changes(
        {"view": True, "execute": False, "modify": False, "delete": False}, {"execute": False, "modify": True}
    )
    assert over_view == {"view": True, "execute": True, "modify": True, "delete": False}
    assert perms.apply_changes(over_view, {"view": False})["view"] is True


@pytest.fixture
def pipeline(world):
    p = Pipeline.objects.create(project=world.project, name="web", creator=world.users["developer"])
    perms.create_defaults(p)
    return p


def rights(world, actor, pipeline):
    user = world.users[actor]
    return {
        a for a in (VIEW, EXECUTE, CHANGE, DELETE) if Pipeline.objects.restrict(user, a).filter(pk=pipeline.pk).exists()
    }


@pytest.mark.django_db
def test_default_rights_per_role(world, pipeline):
    """Defaults: creators and managers all; developer view/execute/modify; tester, operator view/execute;
    participant, viewer view. The pipeline creator (a developer here) has all (A5)."""
    everything = {VIEW, EXECUTE, CHANGE, DELETE}
    assert rights(world, "creator", pipeline) == everything
    assert rights(world, "manager", pipeline) == everything
    assert rights(world, "developer", pipeline) == everything  # pipeline creator
    assert rights(world, "tester", pipeline) == {VIEW, EXECUTE}
    assert rights(world, "operator", pipeline) == {VIEW, EXECUTE}
    assert rights(world, "participant", pipeline) == {VIEW}
    assert rights(world, "viewer", pipeline) == {VIEW}
    assert rights(world, "outsider", pipeline) == set()


@pytest.mark.django_db
def test_role_setting_syncs_persons_unless_they_have_their_own(world, pipeline):
    """A2: person settings override role settings; role changes reach persons without one."""
    Membership.objects.create(project=world.project, user=world.users["outsider"], role=Role.TESTER)
    perms.set_permissions(pipeline, actor=world.users["creator"], users={world.users["tester"].pk: {"execute": False}})
    perms.set_permissions(pipeline, actor=world.users["creator"], roles={"tester": {"modify": True}})
    assert rights(world, "outsider", pipeline) == {VIEW, EXECUTE, CHANGE}  # follows the role
    assert rights(world, "tester", pipeline) == {VIEW}  # own setting wins


@pytest.mark.django_db
def test_creators_are_locked(world, pipeline):
    """A5: the project creator's and the pipeline creator's rights cannot be changed."""
    perms.set_permissions(
        pipeline,
        actor=world.users["creator"],
        roles={"creator": {"execute": False}},
        users={world.users["developer"].pk: {"execute": False}, world.users["creator"].pk: {"delete": False}},
    )
    assert rights(world, "developer", pipeline) == {VIEW, EXECUTE, CHANGE, DELETE}
    assert rights(world, "creator", pipeline) == {VIEW, EXECUTE, CHANGE, DELETE}


@pytest.mark.django_db
def test_membership_changes_resync_rights(world, pipeline):
    Membership.objects.filter(project=world.project, user=world.users["viewer"]).update(role=Role.MANAGER)
    membership = Membership.objects.get(project=world.project, user=world.users["viewer"])
    membership.save()  # role change through the model: signal resyncs
    assert rights(world, "viewer", pipeline) == {VIEW, EXECUTE, CHANGE, DELETE}
    membership.delete()
    assert rights(world, "viewer", pipeline) == set()


@pytest.mark.django_db
def test_project_actions_for_host_groups_and_gate_templates_follow_the_roles(world):
    """R7, P7: who may create host groups (creator, manager, operator) and gate templates (creator, manager,
    developer, tester) is one rule in ``Project.restrict_q``; the pages' and API's checks ask it, and the
    models' ADD rules use the same role lists. A deactivated member may do neither."""
    from devops_console.core.models import ADD_GATE_TEMPLATE, ADD_HOST_GROUP, Project
    from pipelines import hostgroups, services

    hosts = {Role.CREATOR, Role.MANAGER, Role.OPERATOR}
    gates = {Role.CREATOR, Role.MANAGER, Role.DEVELOPER, Role.TESTER}
    for name, user in world.users.items():
        role = Membership.objects.filter(project=world.project, user=user).values_list("role", flat=True).first()
        may_hosts = Project.objects.restrict(user, ADD_HOST_GROUP).filter(pk=world.project.pk).exists()
        may_gates = Project.objects.restrict(user, ADD_GATE_TEMPLATE).filter(pk=world.project.pk).exists()
        assert (may_hosts, may_gates) == (role in hosts, role in gates), name
        assert hostgroups.may_manage(user, world.project) is may_hosts
        assert services.can_add_gate_template(user, world.project) is may_gates
    operator = world.users["operator"]
    operator.is_active = False
    operator.save()
    assert hostgroups.may_manage(operator, world.project) is False
