"""The permission matrix (DEVELOPERS.md, NetBox style): one request per actor — anonymous, outsider,
each project role — plus the same request against another project's object, which must answer 404.

Each actor's request runs inside a transaction that is rolled back, so a permitted mutation does
not change what the next actor sees.
"""

from __future__ import annotations

from django.db import transaction
from django.test import Client

from tests.conftest import ACTORS, ROLE_ACTORS


def expect(default: int, *, anonymous: int, outsider: int = 404, **by_role: int) -> dict[str, int]:
    """Expected status per actor: ``default`` for every role not named."""
    table = {"anonymous": anonymous, "outsider": outsider}
    for role in ROLE_ACTORS:
        table[role] = by_role.get(role, default)
    return table


def _request(world, actor, method, url, data, api):
    client = Client()
    headers = {}
    if actor != "anonymous":
        if api:
            headers["HTTP_X_AUTH_TOKEN"] = world.token(actor)
        else:
            client.force_login(world.user(actor))
    call = getattr(client, method.lower())
    if api and method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
        return call(url, data=data or {}, content_type="application/json", **headers)
    return call(url, data=data, **headers) if data is not None else call(url, **headers)


def check_matrix(world, method: str, url: str, expected: dict[str, int], *, data=None, api=False, other_url=None):
    """Assert every actor's status; with ``other_url`` (the same view on ``world.other_project``'s
    object) every role member must get 404 there, and anonymous the same as on ``url``."""
    failures = []
    if api:  # create tokens outside the rolled-back transactions
        for actor in ACTORS[1:]:
            world.token(actor)
    for actor in ACTORS:
        with transaction.atomic():
            response = _request(world, actor, method, url, data, api)
            transaction.set_rollback(True)
        if response.status_code != expected[actor]:
            failures.append(f"{actor}: {method} {url} → {response.status_code}, expected {expected[actor]}")
    if other_url:
        for actor in ["anonymous", "outsider", *ROLE_ACTORS]:
            want = expected["anonymous"] if actor == "anonymous" else 404
            with transaction.atomic():
                response = _request(world, actor, method, other_url, data, api)
                transaction.set_rollback(True)
            if response.status_code != want:
                failures.append(
                    f"{actor} on other project: {method} {other_url} → {response.status_code}, expected {want}"
                )
    assert not failures, "\n".join(failures)
