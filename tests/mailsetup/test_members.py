"""Members: roles, removal, leaving; a team never loses its last owner; ownership can be handed over."""

from __future__ import annotations

import pytest

from mailsetup.models import AuditEvent, Membership, Role

pytestmark = pytest.mark.django_db


def role_of(user) -> str:  # noqa: ANN001
    return Membership.objects.get(team__slug="acme", user=user).role


def membership(user) -> Membership:  # noqa: ANN001
    return Membership.objects.get(team__slug="acme", user=user)


def test_members_page_lists_everyone_with_their_role(owner, teammate, viewer, login) -> None:  # noqa: ANN001
    page = login(viewer).get("/t/acme/members/")
    assert page.status_code == 200
    for email in (owner.email, teammate.email, viewer.email):
        assert email.encode() in page.content
    assert b"member_change_role" not in page.content
    assert b"/role/" not in page.content  # a viewer gets no role controls


def test_an_admin_changes_a_members_role_and_it_is_audited(team_admin, teammate, login) -> None:  # noqa: ANN001
    response = login(team_admin).post(f"/t/acme/members/{membership(teammate).pk}/role/", {"role": "viewer"})
    assert response.status_code == 302
    assert role_of(teammate) == Role.VIEWER
    event = AuditEvent.objects.get(action="member.role_changed")
    assert (event.actor_email, event.target, event.details) == (
        team_admin.email,
        teammate.email,
        {"old_role": "member", "new_role": "viewer"},
    )


def test_an_admin_cannot_touch_an_owner_or_make_one(owner, team_admin, teammate, login) -> None:  # noqa: ANN001
    client = login(team_admin)
    assert client.post(f"/t/acme/members/{membership(owner).pk}/role/", {"role": "member"}).status_code == 403
    assert client.post(f"/t/acme/members/{membership(owner).pk}/remove/").status_code == 403
    assert client.post(f"/t/acme/members/{membership(teammate).pk}/role/", {"role": "owner"}).status_code == 403
    assert role_of(owner) == Role.OWNER
    assert role_of(teammate) == Role.MEMBER


def test_the_last_owner_cannot_be_demoted(owner, login) -> None:  # noqa: ANN001
    response = login(owner).post(f"/t/acme/members/{membership(owner).pk}/role/", {"role": "admin"}, follow=True)
    assert b"is the team&#x27;s only owner" in response.content
    assert role_of(owner) == Role.OWNER


def test_the_last_owner_cannot_leave(owner, login) -> None:  # noqa: ANN001
    response = login(owner).post("/t/acme/leave/", follow=True)
    assert b"You are the team&#x27;s only owner" in response.content
    assert role_of(owner) == Role.OWNER


def test_an_owner_removes_a_co_owner_but_then_cannot_leave(owner, teammate, login) -> None:  # noqa: ANN001
    # Two owners: one removes the other; then the remaining one is the last and stays.
    Membership.objects.filter(pk=membership(teammate).pk).update(role=Role.OWNER)
    client = login(teammate)
    assert client.post(f"/t/acme/members/{membership(owner).pk}/remove/").status_code == 302
    assert not Membership.objects.filter(team__slug="acme", user=owner).exists()
    response = client.post("/t/acme/leave/", follow=True)
    assert b"only owner" in response.content
    assert role_of(teammate) == Role.OWNER


def test_ownership_can_be_handed_over(owner, teammate, login) -> None:  # noqa: ANN001
    client = login(owner)
    assert client.post(f"/t/acme/members/{membership(teammate).pk}/role/", {"role": "owner"}).status_code == 302
    assert role_of(teammate) == Role.OWNER
    # Now the former owner can step down, and even leave.
    assert client.post(f"/t/acme/members/{membership(owner).pk}/role/", {"role": "admin"}).status_code == 302
    assert role_of(owner) == Role.ADMIN
    assert client.post("/t/acme/leave/").status_code == 302
    assert not Membership.objects.filter(team__slug="acme", user=owner).exists()
    assert list(AuditEvent.objects.filter(action="member.left").values_list("target", flat=True)) == [owner.email]


def test_an_admin_removes_a_member(team_admin, teammate, login) -> None:  # noqa: ANN001
    response = login(team_admin).post(f"/t/acme/members/{membership(teammate).pk}/remove/")
    assert response.status_code == 302
    assert not Membership.objects.filter(team__slug="acme", user=teammate).exists()
    assert AuditEvent.objects.get(action="member.removed").target == teammate.email
    assert login(teammate).get("/t/acme/").status_code == 404


def test_a_member_leaves(teammate, owner, login) -> None:  # noqa: ANN001
    client = login(teammate)
    assert client.get("/t/acme/leave/").status_code == 200
    response = client.post("/t/acme/leave/")
    assert response.status_code == 302
    assert not Membership.objects.filter(team__slug="acme", user=teammate).exists()


def test_a_bad_role_value_is_a_message_not_a_500(team_admin, teammate, login) -> None:  # noqa: ANN001
    response = login(team_admin).post(f"/t/acme/members/{membership(teammate).pk}/role/", {"role": "emperor"}, follow=True)
    assert response.status_code == 200
    assert b"Choose one of the roles offered." in response.content
    assert role_of(teammate) == Role.MEMBER


def test_a_non_numeric_member_id_is_404(team_admin, login) -> None:  # noqa: ANN001
    assert login(team_admin).post("/t/acme/members/abc/remove/").status_code == 404
