"""Domain onboarding: adding and deleting domains, their DKIM keys, the records to publish, share links.

Every function that writes is keyword-only, typed and atomic, and queues background work on commit.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from mailsetup import page_cache
from mailsetup.audit import audit
from mailsetup.models import Team, User

from . import dkim
from .crypto import encrypt_private_key
from .models import CheckStatus, DkimKey, DkimKeyState, DkimKeyType, Domain, RecordCheck, ShareLink
from .names import normalize_domain
from .records import DkimPublic, ExpectedRecord, expected_records

# What each DKIM option generates: (algorithm, bits).
KEY_PLAN: dict[str, list[tuple[str, int | None]]] = {
    DkimKeyType.RSA2048: [(dkim.RSA, 2048)],
    DkimKeyType.RSA1024: [(dkim.RSA, 1024)],
    DkimKeyType.RSA2048_ED25519: [(dkim.RSA, 2048), (dkim.ED25519, None)],
}
SHARE_LINK_DAYS = 7


def _dkim_keys_create(*, domain: Domain, key_type: str, state: str = DkimKeyState.ACTIVE) -> list[DkimKey]:
    now = timezone.now()
    taken = set(DkimKey.objects.filter(domain=domain).values_list("selector", flat=True))
    keys = []
    for algorithm, bits in KEY_PLAN[key_type]:
        generated = dkim.generate_key(algorithm, bits)
        selector = dkim.new_selector(algorithm, now=now, taken=taken)
        taken.add(selector)
        keys.append(
            DkimKey.objects.create(
                domain=domain,
                selector=selector,
                algorithm=algorithm,
                bits=generated.bits,
                public_key=generated.public_key,
                private_key_encrypted=encrypt_private_key(generated.private_pem),
                state=state,
            )
        )
    return keys


@transaction.atomic
def domain_create(
    *, team: Team, name: str, actor: User | None, dkim_key_type: str = DkimKeyType.RSA2048, return_path_label: str = "bounces"
) -> Domain:
    """A new domain with its DKIM key(s); its first check runs once this commits."""
    from .tasks import check_domain  # tasks import services: import here to avoid a cycle

    a_label, u_label = normalize_domain(name)
    now = timezone.now()
    domain = Domain.objects.create(
        team=team,
        name=a_label,
        unicode_name=u_label,
        dkim_key_type=dkim_key_type,
        return_path_label=return_path_label,
        created_by=actor,
        next_check_at=now,
        trouble_since=now,
        status_changed_at=now,
    )
    keys = _dkim_keys_create(domain=domain, key_type=dkim_key_type)
    page_cache.team_changed(team.pk, domains=True)
    audit(
        team=team,
        actor=actor,
        action="domain.created",
        target=domain.name,
        unicode_name=u_label,
        dkim_key_type=dkim_key_type,
        selectors=[key.selector for key in keys],
        return_path_label=return_path_label,
    )
    check_domain.delay_on_commit(domain.pk)
    return domain


@transaction.atomic
def domain_delete(*, domain: Domain, actor: User | None) -> None:
    """Delete the domain with its keys, checks, history and share links."""
    audit(team=domain.team, actor=actor, action="domain.deleted", target=domain.name, unicode_name=domain.unicode_name)
    domain.delete()
    # The credential list names the domains a credential sends from.
    page_cache.team_changed(domain.team_id, domains=True, credentials=True)


# ---- DKIM key rotation: next (published, not signing) -> active -> retiring -> retired


class DkimRotationRefused(Exception):
    """A rotation cannot start now; str() is the message for the page."""


@transaction.atomic
def dkim_rotation_start(*, domain: Domain, actor: User | None) -> list[DkimKey]:
    """New key(s) for `domain`, one per algorithm it signs with, published beside the current ones ("next").

    Signing moves to them in domains.verification once a check finds every new record in DNS, so there is no
    moment when mail is signed with a key that receivers cannot find.
    """
    from .verification import backoff_delay

    # Locked: two rotations started at once must not both pass the "in progress" test. The domain's row only, and
    # not for key share, as domain_record_check locks it (a deadlock with a share link's commit otherwise).
    domain = Domain.objects.select_for_update(of=("self",), no_key=True).select_related("team").get(pk=domain.pk)
    if not domain.is_verified:
        raise DkimRotationRefused(
            f"{domain.name} is not verified yet: its first DKIM keys are not in use until their records are found "
            "in DNS. Publish the records below; rotate once the domain is verified."
        )
    if domain.dkim_keys.filter(state=DkimKeyState.NEXT).exists():
        raise DkimRotationRefused(
            f"A DKIM key rotation of {domain.name} is already in progress: publish the new key's record shown below; "
            "signing switches to it once we find it."
        )
    old = list(domain.dkim_keys.signing().values_list("selector", flat=True))
    keys = _dkim_keys_create(domain=domain, key_type=domain.dkim_key_type, state=DkimKeyState.NEXT)
    page_cache.team_changed(domain.team_id, domains=True)
    # Look for the new records soon rather than at the next daily check (the back-off then takes over).
    now = timezone.now()
    soon = now + backoff_delay(timedelta(0))
    if domain.next_check_at is None or domain.next_check_at > soon:
        Domain.objects.filter(pk=domain.pk).update(next_check_at=soon)
        domain.next_check_at = soon
    audit(
        team=domain.team,
        actor=actor,
        action="domain.dkim_rotation_started",
        target=domain.name,
        selectors=[key.selector for key in keys],
        replacing=old,
    )
    return keys


# ---- the records to publish


def _existing_spf(check: RecordCheck | None) -> str | None:
    """The one v=spf1 string the last check found, if exactly one: the base for the merged record."""
    if check is None or not isinstance(check.found, list):
        return None
    spf = [item for item in check.found if isinstance(item, str) and item.strip().lower().split()[:1] == ["v=spf1"]]
    return spf[0] if len(spf) == 1 else None


def records_for(domain: Domain, *, checks: dict[str, RecordCheck] | None = None) -> list[ExpectedRecord]:
    """The records `domain` must publish now, from the operator's settings and the domain's published keys
    (signing keys, a rotation's next keys and retiring keys; never retired ones)."""
    if checks is None:
        spf_check = RecordCheck.objects.filter(domain=domain, key="spf").first()
    else:
        spf_check = checks.get("spf")
    keys = [key for key in domain.dkim_keys.all() if key.state != DkimKeyState.RETIRED]
    return expected_records(
        domain=domain.name,
        dkim=[
            DkimPublic(
                selector=k.selector,
                algorithm=k.algorithm,
                public_key=k.public_key,
                state=k.state,
                retire_after=k.retire_after,
            )
            for k in keys
        ],
        return_path_label=domain.return_path_label,
        return_path_host=settings.MAILSETUP_RETURN_PATH_HOST,
        spf_include=settings.MAILSETUP_SPF_INCLUDE,
        dmarc_rua=settings.MAILSETUP_DMARC_RUA,
        existing_spf=_existing_spf(spf_check),
    )


def domain_record_rows(domain: Domain) -> list[tuple[ExpectedRecord, RecordCheck | None]]:
    """Each expected record with its latest check (None until the first check of that record)."""
    checks = {check.key: check for check in RecordCheck.objects.filter(domain=domain)}
    return [(record, checks.get(record.key)) for record in records_for(domain, checks=checks)]


def records_expected_count(published_keys: int) -> int:
    """How many records a domain with this many published DKIM keys (next, active, retiring) has: keys, return
    path, SPF if set, DMARC."""
    return published_keys + 1 + (1 if settings.MAILSETUP_SPF_INCLUDE else 0) + 1


def _count(queryset: QuerySet) -> Coalesce:
    counted = queryset.order_by().values("domain").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def domains_with_summary(team: Team) -> QuerySet[Domain]:
    """The team's domains, each with `passing` and `published_keys` counted in the same query (no N+1)."""
    return Domain.objects.for_team(team).annotate(
        passing=_count(RecordCheck.objects.filter(domain=OuterRef("pk"), status=CheckStatus.PASS)),
        published_keys=_count(DkimKey.objects.published().filter(domain=OuterRef("pk"))),
    )


def domains_for_list(team: Team) -> QuerySet[Domain]:
    """domains_with_summary with only the columns the list shows."""
    return domains_with_summary(team).only("id", "name", "unicode_name", "status", "created_at")


@transaction.atomic
def dkim_rotation_cancel(*, domain: Domain, actor: User | None) -> list[str]:
    """Withdraw a rotation whose new keys are not signing yet: they never signed anything, so they and their checks
    go, and the current keys go on signing. Returns the withdrawn selectors; refused when no new key waits (the
    rotation may have completed meanwhile)."""
    # The domain's row, as a check locks it: a check that promotes the new keys at this moment goes first or after.
    domain = Domain.objects.select_for_update(of=("self",), no_key=True).select_related("team").get(pk=domain.pk)
    upcoming = list(domain.dkim_keys.filter(state=DkimKeyState.NEXT))
    if not upcoming:
        raise DkimRotationRefused(
            f"No rotation of {domain.name}'s DKIM keys is waiting: the new keys may have been found and be signing now."
        )
    selectors = [key.selector for key in upcoming]
    RecordCheck.objects.filter(domain=domain, key__in=[f"dkim:{selector}" for selector in selectors]).delete()
    DkimKey.objects.filter(pk__in=[key.pk for key in upcoming]).delete()
    page_cache.team_changed(domain.team_id, domains=True)
    audit(team=domain.team, actor=actor, action="domain.dkim_rotation_cancelled", target=domain.name, selectors=selectors)
    return selectors


# ---- share links


@dataclass(frozen=True)
class NewShareLink:
    link: ShareLink
    token: str = ""  # shown once, in the URL given to the creator; only its hash is stored

    def __repr__(self) -> str:
        return f"NewShareLink(link={self.link.pk})"


def share_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@transaction.atomic
def share_link_create(*, domain: Domain, actor: User | None, days: int = SHARE_LINK_DAYS) -> NewShareLink:
    """A read-only link to this domain's records, valid for `days` days."""
    token = secrets.token_urlsafe(32)
    link = ShareLink.objects.create(
        domain=domain,
        token_hash=share_token_hash(token),
        created_by=actor,
        expires_at=timezone.now() + timedelta(days=days),
    )
    page_cache.team_changed(domain.team_id, domains=True)
    audit(
        team=domain.team,
        actor=actor,
        action="share_link.created",
        target=domain.name,
        link_id=link.pk,
        expires_at=link.expires_at.isoformat(),
    )
    return NewShareLink(link=link, token=token)


@transaction.atomic
def share_link_revoke(*, link: ShareLink, actor: User | None) -> ShareLink:
    """Revoke the link now; a link already revoked stays as it was."""
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        page_cache.team_changed(link.domain.team_id, domains=True)
        audit(team=link.domain.team, actor=actor, action="share_link.revoked", target=link.domain.name, link_id=link.pk)
    return link


def share_link_lookup(token: str) -> ShareLink | None:
    """The link for this token, active or not, or None when no link has it."""
    if not token or len(token) > 200:
        return None
    return ShareLink.objects.select_related("domain").filter(token_hash=share_token_hash(token)).first()
