"""Every team-scoped accounts view against every persona: the matrix of DESIGN.md, stranger 404."""

from __future__ import annotations

import pytest

from mailsetup.models import Invitation, Membership, Role, User
from tests.matrix import EVERYONE, MANAGERS, OWNERS, Ctx, Route, cases, check_route

pytestmark = pytest.mark.django_db


def target_member(ctx: Ctx) -> Membership:
    user = User.objects.create_user(email="target@matrix.test", password="x-pass-123456")
    return Membership.objects.create(team=ctx.team, user=user, role=Role.MEMBER)


def invitation(ctx: Ctx) -> Invitation:
    return Invitation.objects.create(team=ctx.team, email="invitee@matrix.test", role=Role.MEMBER, token_hash="a" * 64)


def member_url(suffix: str):  # noqa: ANN201
    return lambda ctx: f"/t/{ctx.team.slug}/members/{ctx.obj('target', target_member).pk}/{suffix}/"


def invitation_url(suffix: str):  # noqa: ANN201
    return lambda ctx: f"/t/{ctx.team.slug}/invitations/{ctx.obj('invitation', invitation).pk}/{suffix}/"


ROUTES = [
    Route("team-home", "GET", lambda ctx: f"/t/{ctx.team.slug}/", EVERYONE, ok=(200,)),
    Route("members", "GET", lambda ctx: f"/t/{ctx.team.slug}/members/", EVERYONE, ok=(200,)),
    Route("change-role", "POST", member_url("role"), MANAGERS, data=lambda ctx: {"role": "viewer"}, ok=(302,)),
    Route("remove-member", "POST", member_url("remove"), MANAGERS, ok=(302,)),
    Route("leave-page", "GET", lambda ctx: f"/t/{ctx.team.slug}/leave/", EVERYONE, ok=(200,)),
    Route("leave", "POST", lambda ctx: f"/t/{ctx.team.slug}/leave/", EVERYONE, ok=(302,)),
    Route("invitations", "GET", lambda ctx: f"/t/{ctx.team.slug}/invitations/", MANAGERS, ok=(200,)),
    Route(
        "invite",
        "POST",
        lambda ctx: f"/t/{ctx.team.slug}/invitations/",
        MANAGERS,
        data=lambda ctx: {"email": "new@matrix.test", "role": "member"},
        ok=(302,),
    ),
    Route(
        "invite-htmx",
        "POST",
        lambda ctx: f"/t/{ctx.team.slug}/invitations/",
        MANAGERS,
        data=lambda ctx: {"email": "not an email", "role": "member"},
        ok=(200,),
        htmx=True,
    ),
    Route("revoke-invitation", "POST", invitation_url("revoke"), MANAGERS, ok=(302,)),
    Route("resend-invitation", "POST", invitation_url("resend"), MANAGERS, ok=(302,)),
    Route("audit-log", "GET", lambda ctx: f"/t/{ctx.team.slug}/audit/", MANAGERS, ok=(200,)),
    Route("settings", "GET", lambda ctx: f"/t/{ctx.team.slug}/settings/", MANAGERS, ok=(200,)),
    Route(
        "rename", "POST", lambda ctx: f"/t/{ctx.team.slug}/settings/", MANAGERS, data=lambda ctx: {"name": "Renamed"}, ok=(302,)
    ),
    Route("delete-page", "GET", lambda ctx: f"/t/{ctx.team.slug}/delete/", OWNERS, ok=(200,)),
    Route(
        "delete",
        "POST",
        lambda ctx: f"/t/{ctx.team.slug}/delete/",
        OWNERS,
        data=lambda ctx: {"confirm": ctx.team.name},
        ok=(302,),
    ),
]


@pytest.mark.parametrize(("route", "persona"), cases(ROUTES))
def test_each_persona_gets_what_the_matrix_allows(route: Route, persona: str) -> None:
    check_route(route, persona)


def test_another_teams_member_id_gives_404(owner, stranger, login) -> None:  # noqa: ANN001
    theirs = Membership.objects.get(user=stranger)
    response = login(owner).post(f"/t/acme/members/{theirs.pk}/remove/")
    assert response.status_code == 404
    assert Membership.objects.filter(pk=theirs.pk).exists()


def test_another_teams_invitation_id_gives_404(owner, stranger, login) -> None:  # noqa: ANN001
    theirs = Invitation.objects.create(team=stranger.memberships.get().team, email="x@y.test", token_hash="b" * 64)
    response = login(owner).post(f"/t/acme/invitations/{theirs.pk}/revoke/")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
