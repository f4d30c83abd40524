"""``guardian_object_ids`` (the subquery behind every restricted pipeline and endpoint query) answers exactly
what django-guardian's ``get_objects_for_user`` answers, for a user's own and their groups' object permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from devops_console.core.permissions import guardian_object_ids
from pipelines import services
from pipelines.models import Pipeline
from tests.engine_support import build, make_pipeline, stage

pytestmark = pytest.mark.django_db


def guardian_says(user, codename):
    perm = f"pipelines.{codename}"
    found = get_objects_for_user(user, perm, klass=Pipeline, accept_global_perms=False, with_superuser=False)
    return set(found.values_list("pk", flat=True))


def ours(user, codename):
    subquery = guardian_object_ids(user, Pipeline, codename)
    return set(Pipeline.objects.filter(pk__in=subquery).values_list("pk", flat=True))


def test_same_answer_as_guardian_for_users_and_groups(world):
    first, second, third = (make_pipeline(world, [stage("S", build())], name=f"p{i}") for i in range(3))
    outsider = world.users["outsider"]
    codename = "execute_pipeline"
    assert ours(outsider, codename) == guardian_says(outsider, codename) == set()

    assign_perm(codename, outsider, first)  # the user's own permission
    group = Group.objects.create(name="release-team")
    group.user_set.add(outsider)
    assign_perm(codename, group, second)  # a group's permission
    assign_perm("delete_pipeline", outsider, third)  # another permission: not counted
    assert ours(outsider, codename) == guardian_says(outsider, codename) == {first.pk, second.pk}

    remove_perm(codename, outsider, first)
    assert ours(outsider, codename) == guardian_says(outsider, codename) == {second.pk}
    developer = world.users["developer"]  # materialized defaults (A1) come out the same as well
    assert ours(developer, codename) == guardian_says(developer, codename) == {first.pk, second.pk, third.pk}


def test_may_answers_what_the_restricted_queryset_answers(world, django_assert_num_queries):
    """``may`` (the prepared check webhook tasks make for every delivery, A6) is ``restrict()``'s own query:
    for every user kind, action and pipeline it agrees with ``Pipeline.objects.restrict``, in one query."""
    from django.contrib.auth import get_user_model

    from devops_console.core.permissions import DELETE, EXECUTE, VIEW, may

    mine = make_pipeline(world, [stage("S", build())], name="mine")
    data = {"name": "theirs", "stages": [stage("S", build())]}
    theirs = services.create_pipeline(world.users["other_creator"], world.other_project, data)
    admin = get_user_model().objects.create_superuser("root", password="x" * 20)
    inactive = world.users["developer"].__class__.objects.create_user("gone", is_active=False)
    assign_perm("execute_pipeline", world.users["outsider"], theirs)  # guardian alone, without membership
    users = [*world.users.values(), admin, inactive]
    for user in users:
        for action in (VIEW, EXECUTE, DELETE):
            for pipeline in (mine, theirs):
                expected = Pipeline.objects.restrict(user, action).filter(pk=pipeline.pk).exists()
                assert may(user, Pipeline, action, pipeline.pk) is expected, (user.username, action, pipeline.name)
    assert may(world.users["developer"], Pipeline, EXECUTE, mine.pk) is True
    assert may(world.users["outsider"], Pipeline, EXECUTE, theirs.pk) is False  # not a member (A3)
    with django_assert_num_queries(1):
        may(world.users["tester"], Pipeline, EXECUTE, mine.pk)


def test_can_is_the_restricted_queryset_for_every_kind_of_object_and_action(world):
    """``can`` (asked by every page and API view for the actions it shows) goes through ``may``'s compiled
    query: for projects, memberships and pipelines, and actions a model grants nobody (``nothing()``), it
    answers what ``Model.objects.restrict`` answers."""
    from devops_console.core.models import ADD_GATE_TEMPLATE, ADD_HOST_GROUP, ADD_PIPELINE, Membership, Project
    from devops_console.core.permissions import ADMINISTER, CHANGE, DELETE, EXECUTE, USE, VIEW, can

    pipeline = make_pipeline(world, [stage("S", build())], name="p")
    objects = [world.project, world.other_project, pipeline, *Membership.objects.filter(project=world.project)[:2]]
    actions = (VIEW, CHANGE, DELETE, ADMINISTER, EXECUTE, USE, ADD_PIPELINE, ADD_HOST_GROUP, ADD_GATE_TEMPLATE)
    for user in world.users.values():
        for obj in objects:
            for action in actions:
                expected = type(obj).objects.restrict(user, action).filter(pk=obj.pk).exists()
                assert can(user, obj, action) is expected, (user.username, obj, action)
    assert can(world.users["creator"], Project(name="unsaved"), VIEW) is False


def test_a_compiled_check_holds_no_database_id_but_its_arguments(world):
    """``may`` compiles the restricted query once per process; content types made anew (a flushed test
    database, a restored dump) get new ids, so the query names its content type by app and model, never by
    an id it read once."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.models import ContentType

    from devops_console.core.permissions import EXECUTE, may
    from pipelines import permissions

    pipeline = make_pipeline(world, [stage("S", build())], name="p")
    developer = world.users["developer"]
    assert may(developer, Pipeline, EXECUTE, pipeline.pk) is True  # compiled (or already) now
    try:
        ContentType.objects.filter(app_label="pipelines", model="pipeline").delete()  # its permissions go with it
        ContentType.objects.clear_cache()
        create_permissions(apps.get_app_config("pipelines"), verbosity=0)  # a new content type, a new id
        permissions.sync(pipeline)  # the members' rights materialized again
        assert Pipeline.objects.restrict(developer, EXECUTE).filter(pk=pipeline.pk).exists()
        assert may(developer, Pipeline, EXECUTE, pipeline.pk) is True
    finally:
        ContentType.objects.clear_cache()  # the test's rollback brings the old one back
