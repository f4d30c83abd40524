"""Base fixtures: one project with a member in every role, an outsider, and another project (Healthchecks style)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model

from devops_console.core import services
from devops_console.core.models import ApiToken, Membership, Role

pytest_plugins = ["tests.servers.fixtures", "tests.celery_support", "tests.browser", "tests.engine_support"]

ROLE_ACTORS = [str(role) for role in Role]
ACTORS = ["anonymous", "outsider", *ROLE_ACTORS]


@dataclass
class World:
    """``users[role]`` are members of ``project`` in that role; ``outsider`` belongs to no project;
    ``other_creator`` created ``other_project``, which none of the others belong to."""

    project: object
    other_project: object
    users: dict = field(default_factory=dict)
    _tokens: dict = field(default_factory=dict)

    def user(self, actor):
        return None if actor == "anonymous" else self.users[actor]

    def token(self, actor) -> str:
        if actor not in self._tokens:
            _token, raw = ApiToken.issue(self.users[actor], f"test {actor}")
            self._tokens[actor] = raw
        return self._tokens[actor]


def make_user(username, **extra):
    return get_user_model().objects.create_user(username=username, password="pw-" + username, **extra)


@pytest.fixture
def world(db) -> World:
    creator = make_user("creator")
    project = services.create_project(creator, "Alpha", "The project under test")
    users = {"creator": creator}
    for role in ROLE_ACTORS:
        if role != Role.CREATOR:
            users[role] = make_user(role)
            Membership.objects.create(project=project, user=users[role], role=role)
    users["outsider"] = make_user("outsider")
    users["other_creator"] = make_user("other_creator")
    other_project = services.create_project(users["other_creator"], "Beta")
    return World(project=project, other_project=other_project, users=users)
