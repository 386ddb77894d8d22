"""The authentication backend: Django's ModelBackend, except that loading the signed-in user on each request also
loads their memberships and teams, in the same query. Every team page needs both (the permission check and the
team switcher), so a page costs one query for them instead of two; the query is written once (mailsetup/rows.py),
not compiled by the ORM on every request."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.db import connections

from .models import Membership, Team, User
from .rows import Columns, fits

_MEMBERSHIP = Columns(Membership, "m")
_USER = Columns(User, "u")
_TEAM = Columns(Team, "t")
_sql: dict[str, str] = {}


def _memberships_sql(connection) -> str:  # noqa: ANN001 - a database connection
    sql = _sql.get(connection.alias)
    if sql is None:
        # Only our models' quoted names go into the text; the user's id is a parameter. Ordered as the switcher
        # lists the teams: by name.
        sql = _sql[connection.alias] = (
            f"SELECT {_MEMBERSHIP.select(connection)}, {_USER.select(connection)}, {_TEAM.select(connection)} "  # noqa: S608
            f"FROM {_MEMBERSHIP.table(connection)} "
            f"JOIN {_USER.table(connection)} ON {_USER.column(connection, 'id')} = {_MEMBERSHIP.column(connection, 'user')} "
            f"JOIN {_TEAM.table(connection)} ON {_TEAM.column(connection, 'id')} = {_MEMBERSHIP.column(connection, 'team')} "
            f"WHERE {_MEMBERSHIP.column(connection, 'user')} = %s "
            f"ORDER BY {_TEAM.column(connection, 'name')}, {_TEAM.column(connection, 'id')}"
        )
    return sql


def user_with_memberships(user_id: object) -> tuple[User | None, list[Membership]]:
    """The user with this id and their memberships (each with its team, and .user the same object), or (None, [])
    when the user is in no team or does not exist."""
    try:
        user_pk = User._meta.pk.to_python(user_id)
    except Exception:  # noqa: BLE001 - a malformed id in a session is no user, whatever the field raises
        return None, []
    connection = connections[Membership.objects.db]
    if not fits(connection, User._meta.pk, user_pk):
        return None, []
    with connection.cursor() as cursor:
        cursor.execute(_memberships_sql(connection), [user_pk])
        rows = cursor.fetchall()
    user = None
    memberships = []
    user_start = len(_MEMBERSHIP)
    team_start = user_start + len(_USER)
    for row in rows:
        membership = _MEMBERSHIP.load(connection, row)
        user = user or _USER.load(connection, row, user_start)
        membership.user = user
        membership.team = _TEAM.load(connection, row, team_start)
        memberships.append(membership)
    return user, memberships


class ModelBackendWithMemberships(ModelBackend):
    def get_user(self, user_id: object) -> User | None:
        user, memberships = user_with_memberships(user_id)
        if user is None:  # in no team (or no such user): the plain lookup
            user = super().get_user(user_id)
        if user is None or not self.user_can_authenticate(user):
            return None
        user.loaded_memberships = memberships
        return user
