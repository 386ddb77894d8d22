"""The permission matrix, table-driven: every team-scoped view is a Route row; each app's test module lists
its rows and parametrizes `check_route` over (row, persona). A new view joins by adding a row.

- a stranger (member of another team) gets 404 on every row;
- a role not in `allowed` gets 403;
- a role in `allowed` gets one of `ok` (200 or a redirect by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from mailsetup.models import Membership, Role, Team, User

ROLES = ("owner", "admin", "member", "viewer")
EVERYONE = frozenset(ROLES)
EDITORS = frozenset({"owner", "admin", "member"})
MANAGERS = frozenset({"owner", "admin"})
OWNERS = frozenset({"owner"})


class Ctx:
    """What a row's url/data callables see: the team, its users by role, and lazily made objects."""

    def __init__(self, team: Team, users: dict[str, User]) -> None:
        self.team = team
        self.users = users
        self._objects: dict[str, Any] = {}

    def obj(self, name: str, factory: Callable[[Ctx], Any]) -> Any:
        if name not in self._objects:
            self._objects[name] = factory(self)
        return self._objects[name]


@dataclass(frozen=True)
class Route:
    id: str
    method: str
    url: Callable[[Ctx], str]
    allowed: frozenset[str]
    data: Callable[[Ctx], dict[str, Any]] = field(default=lambda ctx: {})
    ok: tuple[int, ...] = (200, 302, 303)
    htmx: bool = False


def cases(routes: list[Route]) -> list[Any]:
    return [
        pytest.param(route, persona, id=f"{route.id}-{persona}")
        for route in routes
        for persona in (*ROLES, "stranger")
    ]


def make_ctx() -> Ctx:
    team = Team.objects.create(name="Matrix Team", slug="matrix")
    users = {}
    for role in ROLES:
        user = User.objects.create_user(email=f"{role}@matrix.test", password="x-pass-123456")
        Membership.objects.create(team=team, user=user, role=Role(role))
        users[role] = user
    other = Team.objects.create(name="Elsewhere", slug="elsewhere")
    users["stranger"] = User.objects.create_user(email="stranger@matrix.test", password="x-pass-123456")
    Membership.objects.create(team=other, user=users["stranger"], role=Role.OWNER)
    return Ctx(team, users)


def check_route(route: Route, persona: str) -> None:
    ctx = make_ctx()
    url = route.url(ctx)
    client = Client()
    client.force_login(ctx.users[persona])
    headers = {"HX-Request": "true"} if route.htmx else {}
    if route.method == "GET":
        response = client.get(url, headers=headers)
    else:
        response = client.post(url, route.data(ctx), headers=headers)
    if persona == "stranger":
        expected: tuple[int, ...] = (404,)
    elif persona in route.allowed:
        expected = route.ok
    else:
        expected = (403,)
    assert response.status_code in expected, (
        f"{route.method} {url} as {persona}: {response.status_code}, expected {expected}"
    )
