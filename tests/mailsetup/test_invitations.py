"""Invitations: a single-use, 7-day link bound to the invited address; sign up or log in through it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from mailsetup import services
from mailsetup.models import AuditEvent, Invitation, Membership, Role, User
from mailsetup.permissions import team_access
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def invite(inviter: User, email: str = "new@example.test", role: str = Role.MEMBER) -> tuple[Invitation, str]:
    return services.invitation_create(access=team_access(inviter, "acme"), email=email, role=role)


def link_in(body: str) -> str:
    match = re.search(r"https?://\S+/invite/(\S+)/", body)
    assert match, body
    return f"/invite/{match.group(1)}/"


def open_link(client, token: str):  # noqa: ANN001, ANN201
    """Follow the emailed link: it parks the token in the session and redirects to /invite/."""
    response = client.get(f"/invite/{token}/")
    assert response.status_code == 302
    assert response["Location"] == "/invite/"
    return client.get("/invite/")


def test_inviting_emails_a_link_and_stores_only_the_token_hash(
    team_admin,
    login,
    mailoutbox,
    django_capture_on_commit_callbacks,  # noqa: ANN001
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = login(team_admin).post("/t/acme/invitations/", {"email": "New@Example.test", "role": "viewer"})
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.email == "new@example.test"
    assert invitation.role == "viewer"
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["new@example.test"]
    token = link_in(mailoutbox[0].body).split("/")[2]
    assert invitation.token_hash == services.token_hash(token)
    assert token not in invitation.token_hash
    assert abs((invitation.expires_at - timezone.now()) - timedelta(days=7)) < timedelta(minutes=1)
    event = AuditEvent.objects.get(action="invitation.sent")
    assert event.target == "new@example.test"
    assert token not in str(event.details)


def test_a_new_person_signs_up_through_the_link_and_joins_the_team(team_admin, client) -> None:  # noqa: ANN001
    _, token = invite(team_admin, role=Role.VIEWER)
    page = open_link(client, token)
    assert page.status_code == 200
    assert b"new@example.test" in page.content
    assert token.encode() not in page.content
    response = client.post(
        "/invite/",
        # A posted email is ignored: the account gets the invited address.
        {"email": "someone-else@example.test", "name": "Nina New", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == "/t/acme/"
    user = User.objects.get(email="new@example.test")
    assert not User.objects.filter(email="someone-else@example.test").exists()
    assert Membership.objects.get(user=user).role == Role.VIEWER
    assert Membership.objects.filter(user=user).count() == 1  # no team of their own
    assert client.get("/t/acme/").status_code == 200
    assert Invitation.objects.get().accepted_at is not None


def test_an_existing_user_logs_in_and_accepts(team_admin, stranger, client) -> None:  # noqa: ANN001
    _, token = invite(team_admin, email="STRANGER@other.test")
    page = open_link(client, token)
    assert b"Log in to accept" in page.content
    login_response = client.post(
        "/login/?next=/invite/", {"username": "stranger@other.test", "password": PASSWORD, "next": "/invite/"}
    )
    assert login_response.status_code == 302
    assert login_response["Location"] == "/invite/"
    response = client.post("/invite/")
    assert response.status_code == 302
    assert Membership.objects.get(team__slug="acme", user=stranger).role == Role.MEMBER


def test_the_link_works_once(team_admin, stranger, login) -> None:  # noqa: ANN001
    _, token = invite(team_admin, email="stranger@other.test")
    client = login(stranger)
    open_link(client, token)
    assert client.post("/invite/").status_code == 302
    Membership.objects.filter(team__slug="acme", user=stranger).delete()
    again = open_link(client, token)
    assert again.status_code == 200
    assert b"already been used" in again.content
    assert not Membership.objects.filter(team__slug="acme", user=stranger).exists()


def test_an_expired_invitation_is_refused(team_admin, client) -> None:  # noqa: ANN001
    invitation, token = invite(team_admin)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    open_link(client, token)
    response = client.post("/invite/", {"password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 200
    assert b"This invitation expired on" in response.content
    assert not User.objects.filter(email="new@example.test").exists()


def test_a_revoked_invitation_is_refused(team_admin, login, client) -> None:  # noqa: ANN001
    invitation, token = invite(team_admin)
    assert login(team_admin).post(f"/t/acme/invitations/{invitation.pk}/revoke/").status_code == 302
    open_link(client, token)
    response = client.post("/invite/", {"password1": PASSWORD, "password2": PASSWORD})
    assert b"This invitation was revoked" in response.content
    assert not User.objects.filter(email="new@example.test").exists()


def test_an_invitation_for_another_address_is_refused_clearly(team_admin, stranger, login) -> None:  # noqa: ANN001
    _, token = invite(team_admin, email="someone@example.test")
    client = login(stranger)
    assert b"but you are logged in as" in open_link(client, token).content
    response = client.post("/invite/")
    assert response.status_code == 200
    assert b"This invitation was sent to someone@example.test, but you are logged in as stranger@other.test" in response.content
    assert not Membership.objects.filter(team__slug="acme", user=stranger).exists()
    assert Invitation.objects.get().accepted_at is None


def test_a_member_is_told_they_already_belong(team_admin, teammate, login) -> None:  # noqa: ANN001
    invitation = Invitation.objects.create(
        team=teammate.memberships.get().team, email=teammate.email, token_hash=services.token_hash("tok")
    )
    client = login(teammate)
    open_link(client, "tok")
    response = client.post("/invite/")
    assert b"You are already a member of Acme Mail." in response.content
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_inviting_a_member_or_a_pending_address_is_a_form_error(team_admin, teammate, login) -> None:  # noqa: ANN001
    client = login(team_admin)
    response = client.post("/t/acme/invitations/", {"email": teammate.email, "role": "member"})
    assert response.status_code == 200
    assert b"already a member of the team" in response.content
    invite(team_admin, email="pending@example.test")
    response = client.post("/t/acme/invitations/", {"email": "pending@example.test", "role": "member"})
    assert b"already has a pending invitation" in response.content
    assert Invitation.objects.count() == 1


def test_an_unknown_token_gives_a_clear_404(client) -> None:  # noqa: ANN001
    response = open_link(client, "not-a-real-token")
    assert response.status_code == 404
    assert b"This invitation link is not valid" in response.content


def test_resend_makes_a_new_link_and_expiry_and_kills_the_old_link(
    team_admin,
    login,
    client,
    mailoutbox,
    django_capture_on_commit_callbacks,  # noqa: ANN001
) -> None:
    invitation, old_token = invite(team_admin)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert login(team_admin).post(f"/t/acme/invitations/{invitation.pk}/resend/").status_code == 302
    invitation.refresh_from_db()
    assert invitation.expires_at > timezone.now() + timedelta(days=6)
    assert len(mailoutbox) == 1
    new_link = link_in(mailoutbox[0].body)
    assert old_token not in new_link
    assert open_link(client, old_token).status_code == 404
    assert open_link(client, new_link.split("/")[2]).status_code == 200
    assert AuditEvent.objects.filter(action="invitation.resent", target="new@example.test").count() == 1


def test_admins_see_pending_invitations_only(team_admin, login) -> None:  # noqa: ANN001
    invite(team_admin, email="pending@example.test")
    revoked, _ = invite(team_admin, email="revoked@example.test")
    services.invitation_revoke(access=team_access(team_admin, "acme"), invitation=revoked)
    page = login(team_admin).get("/t/acme/invitations/")
    assert b"pending@example.test" in page.content
    assert b"revoked@example.test" not in page.content


def test_an_admin_cannot_invite_an_owner(team_admin, login) -> None:  # noqa: ANN001
    response = login(team_admin).post("/t/acme/invitations/", {"email": "boss@example.test", "role": "owner"})
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert not Invitation.objects.exists()


def test_an_invalid_invite_under_htmx_returns_the_form_fragment(team_admin, login) -> None:  # noqa: ANN001
    response = login(team_admin).post("/t/acme/invitations/", {"email": "nope", "role": "member"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b'id="invite-form"' in response.content
    assert b"Enter a valid email address." in response.content


def test_prune_deletes_only_invitations_long_expired(team_admin) -> None:  # noqa: ANN001
    old, _ = invite(team_admin, email="old@example.test")
    recent, _ = invite(team_admin, email="recent@example.test")
    accepted, _ = invite(team_admin, email="accepted@example.test")
    long_ago = timezone.now() - timedelta(days=31)
    Invitation.objects.filter(pk__in=[old.pk, accepted.pk]).update(expires_at=long_ago)
    Invitation.objects.filter(pk=recent.pk).update(expires_at=timezone.now() - timedelta(days=2))
    Invitation.objects.filter(pk=accepted.pk).update(accepted_at=long_ago)
    assert services.invitations_prune() == 1
    assert set(Invitation.objects.values_list("email", flat=True)) == {"recent@example.test", "accepted@example.test"}
