"""What changes accounts and teams: sign up, teams, members, invitations. Views call these; each writes the
audit log. Rules that need the database (the last owner, who may touch an owner) are enforced here, once.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from .audit import audit
from .models import Invitation, Membership, Role, Team, User, invitation_expiry
from .permissions import Perm, TeamAccess

log = logging.getLogger(__name__)

SLUG_MAX = 50


class TeamRuleError(Exception):
    """A change the team's rules refuse (the last owner leaving, a used invitation...). The message is for the user."""


# Teams


def team_slug(name: str) -> str:
    """A unique slug derived from the name: "Acme Mail" -> "acme-mail", then "acme-mail-2" if taken."""
    base = slugify(name)[:SLUG_MAX].strip("-") or "team"
    slug, n = base, 1
    while Team.objects.filter(slug=slug).exists():
        n += 1
        suffix = f"-{n}"
        slug = base[: SLUG_MAX - len(suffix)].rstrip("-") + suffix
    return slug


@transaction.atomic
def team_create(*, name: str, owner: User) -> Team:
    team = Team.objects.create(name=name, slug=team_slug(name))
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    audit(team=team, actor=owner, action="team.created", target=name)
    return team


@transaction.atomic
def team_rename(*, access: TeamAccess, name: str) -> Team:
    access.require(Perm.MANAGE)
    team = access.team
    old = team.name
    if name == old:
        return team
    team.name = name
    team.save(update_fields=["name"])
    audit(team=team, actor=access.membership.user, action="team.renamed", target=name, old_name=old, new_name=name)
    return team


@transaction.atomic
def team_delete(*, access: TeamAccess) -> None:
    access.require(Perm.OWN)
    team = access.team
    # The audit log goes with the team, so the deletion itself is logged by the application.
    log.info("team %s (id %s) deleted by user id %s", team.slug, team.pk, access.membership.user_id)
    team.delete()


def default_team_name(*, name: str, email: str) -> str:
    who = name.strip() or email.split("@", 1)[0]
    return f"{who}'s team"[:100]


@transaction.atomic
def user_signup(*, email: str, password: str, name: str = "", team_name: str = "") -> tuple[User, Team]:
    """A new account and its first team, with the new user as owner."""
    user = User.objects.create_user(email=email, password=password, name=name)
    team = team_create(name=team_name or default_team_name(name=name, email=email), owner=user)
    return user, team


# Members


def _other_owners(membership: Membership) -> int:
    # Locks the owners' rows where the database can (PostgreSQL); SQLite serialises writers anyway.
    owners = Membership.objects.select_for_update().filter(team_id=membership.team_id, role=Role.OWNER)
    return owners.exclude(pk=membership.pk).count()


@transaction.atomic
def member_change_role(*, access: TeamAccess, membership: Membership, role: str) -> Membership:
    access.require(Perm.MANAGE)
    if role not in Role.values:
        raise TeamRuleError("Choose one of the roles offered.")
    if membership.role == Role.OWNER or role == Role.OWNER:
        access.require(Perm.OWN)
    old = membership.role
    if old == role:
        return membership
    if old == Role.OWNER and _other_owners(membership) == 0:
        raise TeamRuleError(f"{membership.user.email} is the team's only owner. Make another member an owner first.")
    membership.role = role
    membership.save(update_fields=["role"])
    audit(
        team=access.team,
        actor=access.membership.user,
        action="member.role_changed",
        target=membership.user.email,
        old_role=old,
        new_role=role,
    )
    return membership


@transaction.atomic
def member_remove(*, access: TeamAccess, membership: Membership) -> None:
    access.require(Perm.MANAGE)
    if membership.role == Role.OWNER:
        access.require(Perm.OWN)
        if _other_owners(membership) == 0:
            raise TeamRuleError(
                f"{membership.user.email} is the team's only owner and cannot be removed. "
                "Make another member an owner first, or delete the team."
            )
    membership.delete()
    audit(
        team=access.team,
        actor=access.membership.user,
        action="member.removed",
        target=membership.user.email,
        role=membership.role,
    )


@transaction.atomic
def member_leave(*, access: TeamAccess) -> None:
    membership = access.membership
    if membership.role == Role.OWNER and _other_owners(membership) == 0:
        raise TeamRuleError("You are the team's only owner. Make another member an owner before you leave, or delete the team.")
    membership.delete()
    audit(team=access.team, actor=membership.user, action="member.left", target=membership.user.email)


# Invitations


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_url(token: str) -> str:
    return settings.SITE_URL + reverse("invitation_accept", args=[token])


def _send_invitation_email(invitation_id: int, token: str) -> None:
    invitation = Invitation.objects.select_related("team", "invited_by").get(pk=invitation_id)
    context = {"invitation": invitation, "url": invitation_url(token), "site_url": settings.SITE_URL}
    subject = f"You are invited to join {invitation.team.name} on mailsetup"
    body = render_to_string("mailsetup/email/invitation.txt", context)
    try:
        send_mail(subject, body, None, [invitation.email])
    except Exception:
        # Never the token or link in the log; an admin can resend from the invitations page.
        log.exception("could not send invitation %s", invitation_id)


def _issue_token(invitation: Invitation) -> str:
    token = secrets.token_urlsafe(32)
    invitation.token_hash = token_hash(token)
    return token


@transaction.atomic
def invitation_create(*, access: TeamAccess, email: str, role: str) -> tuple[Invitation, str]:
    """A new invitation and the token of its link (emailed once the transaction commits; only its hash is stored)."""
    access.require(Perm.MANAGE)
    if role == Role.OWNER:
        access.require(Perm.OWN)
    invitation = Invitation(team=access.team, email=email, role=role, invited_by=access.membership.user)
    token = _issue_token(invitation)
    invitation.save()
    audit(team=access.team, actor=access.membership.user, action="invitation.sent", target=email, role=role)
    transaction.on_commit(partial(_send_invitation_email, invitation.pk, token))
    return invitation, token


def _require_open(access: TeamAccess, invitation: Invitation) -> None:
    access.require(Perm.MANAGE)
    if invitation.role == Role.OWNER:
        access.require(Perm.OWN)
    if invitation.accepted_at is not None:
        raise TeamRuleError(f"The invitation to {invitation.email} has already been accepted.")
    if invitation.revoked_at is not None:
        raise TeamRuleError(f"The invitation to {invitation.email} was revoked. Invite them again.")


@transaction.atomic
def invitation_revoke(*, access: TeamAccess, invitation: Invitation) -> None:
    _require_open(access, invitation)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit(team=access.team, actor=access.membership.user, action="invitation.revoked", target=invitation.email)


@transaction.atomic
def invitation_resend(*, access: TeamAccess, invitation: Invitation) -> str:
    """A new link (the old one stops working) with a new 7-day expiry, emailed again."""
    _require_open(access, invitation)
    token = _issue_token(invitation)
    invitation.expires_at = invitation_expiry()
    invitation.save(update_fields=["token_hash", "expires_at"])
    audit(team=access.team, actor=access.membership.user, action="invitation.resent", target=invitation.email)
    transaction.on_commit(partial(_send_invitation_email, invitation.pk, token))
    return token


def invitation_for_token(token: str) -> Invitation | None:
    return Invitation.objects.select_related("team", "invited_by").filter(token_hash=token_hash(token)).first()


def invitation_problem(invitation: Invitation, user: User | None = None) -> str | None:
    """Why this invitation cannot be accepted (by this user), in words for the person holding the link."""
    if invitation.revoked_at is not None:
        return "This invitation was revoked by the team. Ask the team's admins for a new one."
    if invitation.accepted_at is not None:
        return "This invitation has already been used: each link works once. If it was you, log in to see the team."
    if invitation.expires_at <= timezone.now():
        when = timezone.localtime(invitation.expires_at).strftime("%d %b %Y")
        return f"This invitation expired on {when}. Ask the team's admins to resend it."
    if user is not None and user.is_authenticated:
        if user.email.lower() != invitation.email.lower():
            return (
                f"This invitation was sent to {invitation.email}, but you are logged in as {user.email}. "
                f"Log out, then open the link again and log in or sign up as {invitation.email}."
            )
        if Membership.objects.filter(team=invitation.team, user=user).exists():
            return f"You are already a member of {invitation.team.name}."
    return None


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    problem = invitation_problem(invitation, user)
    if problem:
        raise TeamRuleError(problem)
    now = timezone.now()
    # Claim the invitation: only one request can turn it from pending to accepted.
    claimed = Invitation.objects.filter(pk=invitation.pk, accepted_at=None, revoked_at=None, expires_at__gt=now).update(
        accepted_at=now
    )
    if claimed != 1:
        raise TeamRuleError("This invitation has already been used: each link works once.")
    membership = Membership.objects.create(team=invitation.team, user=user, role=invitation.role)
    audit(team=invitation.team, actor=user, action="invitation.accepted", target=user.email, role=invitation.role)
    return membership


@transaction.atomic
def invitation_signup(*, invitation: Invitation, password: str, name: str = "") -> User:
    """An account for the invited address, straight into the team (no team of its own)."""
    problem = invitation_problem(invitation)
    if problem:
        raise TeamRuleError(problem)
    user = User.objects.create_user(email=invitation.email.lower(), password=password, name=name)
    invitation_accept(invitation=invitation, user=user)
    return user


def invitations_prune(*, older_than: timedelta = timedelta(days=30)) -> int:
    """Delete invitations that were never accepted and expired (or were revoked) long ago."""
    cutoff = timezone.now() - older_than
    expired = Invitation.objects.filter(accepted_at=None, expires_at__lt=cutoff)
    revoked = Invitation.objects.filter(accepted_at=None, revoked_at__lt=cutoff)
    deleted, _ = (expired | revoked).delete()
    return deleted
