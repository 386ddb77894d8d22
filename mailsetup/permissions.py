"""The permission matrix of DESIGN.md, in one place, and the helpers every team-scoped view goes through.

A non-member gets 404 for anything of a team (no existence leak); a member without the right gets 403.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import connections
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest

from .models import Membership, Role, Team
from .rows import Columns

if TYPE_CHECKING:
    from .models import User


class Perm(enum.Enum):
    VIEW = "see domains, records, status, history, credentials and snippets"
    EDIT = "add or delete domains, check now, rotate DKIM keys, share links, and issue, rotate or revoke credentials"
    MANAGE = "invite and remove members, change roles, read the audit log and rename the team"
    OWN = "make or remove owners and delete the team"


ALLOWED: dict[Perm, frozenset[str]] = {
    Perm.VIEW: frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER}),
    Perm.EDIT: frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER}),
    Perm.MANAGE: frozenset({Role.OWNER, Role.ADMIN}),
    Perm.OWN: frozenset({Role.OWNER}),
}


def role_can(role: str, perm: Perm) -> bool:
    return role in ALLOWED[perm]


@dataclass(frozen=True)
class TeamAccess:
    """The current user's standing in a team: what a view needs to decide and to render."""

    team: Team
    membership: Membership

    @property
    def role(self) -> str:
        return self.membership.role

    def can(self, perm: Perm) -> bool:
        return role_can(self.role, perm)

    def require(self, perm: Perm) -> None:
        if not self.can(perm):
            raise PermissionDenied(f"Your role ({self.role}) does not allow you to {perm.value}.")

    # Handy in templates: {% if access.can_edit %}
    @property
    def can_edit(self) -> bool:
        return self.can(Perm.EDIT)

    @property
    def can_manage(self) -> bool:
        return self.can(Perm.MANAGE)

    @property
    def can_own(self) -> bool:
        return self.can(Perm.OWN)


def user_memberships(request: HttpRequest) -> list[Membership]:
    """The signed-in user's memberships with their teams, by team name, as loaded with the user (see backends.py):
    shared by the permission check and the team switcher of every page."""
    user = request.user
    if not user.is_authenticated:
        return []
    if not hasattr(user, "loaded_memberships"):  # loaded by the authentication backend, with the user
        user.loaded_memberships = list(
            Membership.objects.filter(user=user).select_related("team").order_by("team__name", "team_id")
        )
    return user.loaded_memberships


def team_access(user: User, slug: str, perm: Perm = Perm.VIEW, memberships: list[Membership] | None = None) -> TeamAccess:
    """The user's access to the team with this slug: 404 for a non-member, 403 for a role without `perm`.
    `memberships`, when given, are the user's (user_memberships) and save the query."""
    if not user.is_authenticated:
        raise Http404("No such team")
    if memberships is not None:
        membership = next((m for m in memberships if m.team.slug == slug), None)
    else:
        membership = Membership.objects.select_related("team").filter(team__slug=slug, user=user).first()
    if membership is None:
        raise Http404("No such team")
    access = TeamAccess(team=membership.team, membership=membership)
    access.require(perm)
    return access


M = TypeVar("M", bound=Model)


def get_team_object(queryset: QuerySet[M], team: Team, **lookup: object) -> M:
    """One object of this team, or 404: every object lookup in a view goes through here."""
    try:
        return queryset.get(team=team, **lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404("Not found") from None


_columns: dict[type[Model], Columns] = {}


def get_team_row(model: type[M], team: Team, pk: int) -> M:
    """get_team_object(model.objects.all(), team, pk=pk), the same check in a hand-written query (mailsetup/rows.py),
    for the busiest pages: the ORM's compiling of the query costs more than the database's answer."""
    columns = _columns.get(model)
    if columns is None:
        columns = _columns[model] = Columns(model, "o")
    obj = columns.get(connections[model.objects.db], pk=pk, team=team.pk)
    if obj is None:
        raise Http404("Not found")
    obj.team = team  # the same row, already loaded
    return obj


def team_view(perm: Perm = Perm.VIEW):  # noqa: ANN201 - a decorator factory
    """Decorate a view taking (request, team_slug, ...): it receives `access` instead of the slug."""
    from functools import wraps

    from django.contrib.auth.decorators import login_required

    def decorator(view):  # noqa: ANN001, ANN202
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, team_slug: str, *args: object, **kwargs: object):  # noqa: ANN202
            access = team_access(request.user, team_slug, perm, user_memberships(request))
            # Only on a change: writing it every time would save the session (an UPDATE) on every page view.
            if request.session.get("current_team") != access.team.slug:
                request.session["current_team"] = access.team.slug
            return view(request, access, *args, **kwargs)

        return wrapper

    return decorator
