"""Background DNS verification: check one domain, record what changed, move it through its states, schedule the
next check, and tell the team's owners and admins when a verified domain breaks or comes back.

States (DESIGN.md): pending -> verified when every required record passes; verified -> degraded when a later
check finds a required record missing or wrong; degraded -> verified when it passes again; pending or degraded
-> failed after MAILSETUP_CHECK_GIVE_UP_AFTER (72 h) without success; a failed domain is restarted by hand.
An `error` result (timeout, SERVFAIL) is temporary: it never turns a domain degraded or failed on its own.

The schedule lives in Domain.next_check_at. `domains_claim_due` claims due domains with a conditional UPDATE
(next_check_at moves a lease ahead, only if it still holds the value read), so two beats never enqueue the same
domain twice; a worker killed mid-check leaves the domain due again once the lease runs out.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from mailsetup import page_cache
from mailsetup.audit import audit
from mailsetup.models import Membership, Role, User

from .checks import CheckResult, check_all
from .crypto import KeyDecryptionError, decrypt_private_key
from .dns import Resolver, run_sync
from .models import CheckStatus, DkimKey, DkimKeyState, Domain, DomainStatus, RecordCheck, RecordHistory
from .names import organizational_domain
from .records import ExpectedRecord

logger = logging.getLogger(__name__)

BROKEN = (CheckStatus.MISSING, CheckStatus.MISMATCH)
# Transitions people are told about by email: once per change, never per check.
NOTIFY = {
    (DomainStatus.VERIFIED, DomainStatus.DEGRADED): "degraded",
    (DomainStatus.DEGRADED, DomainStatus.VERIFIED): "restored",
    (DomainStatus.DEGRADED, DomainStatus.FAILED): "failed",
}


def backoff_delay(elapsed: timedelta) -> timedelta:
    """The wait before the next check, `elapsed` into an unsuccessful stretch: 1, 2, 5, 10, 30 min, then hourly.

    Derived from the elapsed time alone (step i once the first i steps have passed), so it needs no counter and
    a "Check now" in between does not reset it.
    """
    boundary = 0
    for step in settings.MAILSETUP_CHECK_BACKOFF:
        boundary += step
        if elapsed.total_seconds() < boundary:
            return timedelta(seconds=step)
    return timedelta(seconds=settings.MAILSETUP_CHECK_BACKOFF[-1])


# ---- running the checks (DNS only; no database writes)


def _private_keys(domain: Domain) -> dict[str, bytes]:
    """The signing (active) keys only: the DKIM proof signs as our mail is signed."""
    keys = {}
    for key in domain.dkim_keys.signing():
        try:
            keys[key.selector] = decrypt_private_key(bytes(key.private_key_encrypted))
        except KeyDecryptionError:
            # The record is still compared with the public key; only the signing proof is skipped.
            logger.warning("DKIM key %s of domain %s cannot be decrypted with the configured keys", key.selector, domain.pk)
    return keys


def domain_run_checks(domain: Domain, *, resolver: Resolver | None = None) -> tuple[list[ExpectedRecord], list[CheckResult]]:
    """Every expected record of `domain` checked against DNS, concurrently."""
    from .services import records_for

    records = records_for(domain)
    results = run_sync(
        check_all(
            records,
            resolver or Resolver.from_settings(),
            domain=domain.name,
            org_domain=organizational_domain(domain.name),
            private_keys=_private_keys(domain),
            spf_include=settings.MAILSETUP_SPF_INCLUDE,
        )
    )
    return records, results


# ---- recording the outcome


def next_state(*, old: str, required: list[str]) -> str:
    """The domain's state after a check whose required records have these statuses."""
    if required and all(status == CheckStatus.PASS for status in required):
        return DomainStatus.VERIFIED
    broken = any(status in BROKEN for status in required)
    if old == DomainStatus.VERIFIED:
        return DomainStatus.DEGRADED if broken else DomainStatus.VERIFIED
    return old


def _record_results(domain: Domain, records: list[ExpectedRecord], results: list[CheckResult], now: datetime) -> None:
    checks = {check.key: check for check in RecordCheck.objects.filter(domain=domain)}
    for result in results:
        fields = {
            "status": result.status,
            "found": result.found,
            "message": result.message,
            "server": result.server,
            "checked_at": now,
        }
        check = checks.get(result.key)
        if check is None:
            RecordCheck.objects.create(domain=domain, key=result.key, changed_at=now, **fields)
            changed = True
        else:
            changed = check.status != result.status
            if changed:
                fields["changed_at"] = now
            # Conditional on the status read: of two concurrent checks, one writes the history row.
            changed = RecordCheck.objects.filter(pk=check.pk, status=check.status).update(**fields) == 1 and changed
        if changed:
            RecordHistory.objects.create(
                domain=domain, key=result.key, status=result.status, found=result.found, message=result.message, at=now
            )
    # Records no longer expected (a rotated-out key) leave no stale row behind.
    RecordCheck.objects.filter(domain=domain).exclude(key__in=[record.key for record in records]).delete()


def _dkim_rotation_advance(domain: Domain, records: list[ExpectedRecord], statuses: dict[str, str], now: datetime) -> None:
    """Move a rotation on after a check (the domain's row is locked by the caller).

    Every next key's record was checked and passes: the next keys sign from now on, the previous signing keys
    retire (kept published until MAILSETUP_DKIM_RETIRE_AFTER). Retiring keys past that time are retired.
    """
    keys = list(DkimKey.objects.filter(domain=domain).exclude(state=DkimKeyState.RETIRED))
    checked = {record.key for record in records}
    upcoming = [key for key in keys if key.state == DkimKeyState.NEXT]
    # A rotation started after this check read the records is not judged by it: its keys were not looked up.
    if upcoming and all(
        f"dkim:{key.selector}" in checked and statuses.get(f"dkim:{key.selector}") == CheckStatus.PASS for key in upcoming
    ):
        retire_after = now + timedelta(seconds=settings.MAILSETUP_DKIM_RETIRE_AFTER)
        previous = [key for key in keys if key.state == DkimKeyState.ACTIVE]
        DkimKey.objects.filter(pk__in=[key.pk for key in previous]).update(state=DkimKeyState.RETIRING, retire_after=retire_after)
        DkimKey.objects.filter(pk__in=[key.pk for key in upcoming]).update(state=DkimKeyState.ACTIVE)
        audit(
            team=domain.team,
            actor=None,
            action="domain.dkim_rotated",
            target=domain.name,
            signing=[key.selector for key in upcoming],
            retiring=[key.selector for key in previous],
            retire_after=retire_after.isoformat(),
        )
        extra = {
            "signing": [key.selector for key in upcoming],
            "retiring": [key.selector for key in previous],
            "retire_after": retire_after,
        }
        transaction.on_commit(lambda: domain_notify(domain=domain, kind="dkim_rotated", results=[], extra=extra))
    done = [key for key in keys if key.state == DkimKeyState.RETIRING and key.retire_after and key.retire_after <= now]
    if done:
        DkimKey.objects.filter(pk__in=[key.pk for key in done]).update(state=DkimKeyState.RETIRED)
        # Not expected any more: its check goes now, so that no count of passing records includes it.
        RecordCheck.objects.filter(domain=domain, key__in=[f"dkim:{key.selector}" for key in done]).delete()
        audit(
            team=domain.team,
            actor=None,
            action="domain.dkim_retired",
            target=domain.name,
            selectors=[key.selector for key in done],
        )


def _dkim_rotation_next_check(domain: Domain, now: datetime) -> datetime | None:
    """When a rotation wants the domain checked again: soon while new keys wait to be found (with the back-off
    since the rotation started), and when the first retiring key is due to retire."""
    keys = list(DkimKey.objects.filter(domain=domain, state__in=[DkimKeyState.NEXT, DkimKeyState.RETIRING]))
    times = []
    upcoming = [key.created_at for key in keys if key.state == DkimKeyState.NEXT]
    if upcoming:
        times.append(now + backoff_delay(now - min(upcoming)))
    times += [key.retire_after for key in keys if key.state == DkimKeyState.RETIRING and key.retire_after]
    return max(min(times), now + timedelta(seconds=1)) if times else None


@transaction.atomic
def domain_record_check(
    *, domain_id: int, records: list[ExpectedRecord], results: list[CheckResult], now: datetime | None = None
) -> Domain | None:
    """Store one check's results, move the domain to its next state and schedule its next check.

    `now` is when the check started: a check that started before the one already stored is older news and is
    dropped (two checks of one domain may run at once and finish in either order).
    """
    now = now or timezone.now()
    # The domain's row only (of self; with select_related, PostgreSQL would lock the team's row too, for the whole
    # check), and not for key share (no_key): a transaction that raised the team's version and then, at its commit,
    # checks a foreign key to this domain (a share link, a credential's domains) must not wait for this check while
    # it waits for the team's row: a deadlock.
    domain = Domain.objects.select_for_update(of=("self",), no_key=True).select_related("team").filter(pk=domain_id).first()
    if domain is None:
        return None  # deleted while its check ran
    if domain.last_checked_at is not None and domain.last_checked_at > now:
        return domain
    _record_results(domain, records, results, now)
    statuses = {result.key: result.status for result in results}
    _dkim_rotation_advance(domain, records, statuses, now)
    required = [statuses.get(record.key, CheckStatus.ERROR) for record in records if record.required]
    old = domain.status
    new = next_state(old=old, required=required)
    trouble_since = domain.trouble_since
    if new == DomainStatus.VERIFIED:
        trouble_since = None
        if all(status == CheckStatus.PASS for status in required):
            next_at = now + timedelta(seconds=settings.MAILSETUP_CHECK_VERIFIED_INTERVAL)
        else:
            next_at = now + backoff_delay(timedelta(0))  # verified, but a record could not be read: look again soon
    else:
        if trouble_since is None or old == DomainStatus.VERIFIED:
            trouble_since = now
        next_at = now + backoff_delay(now - trouble_since)
        if new in (DomainStatus.PENDING, DomainStatus.DEGRADED) and now - trouble_since >= timedelta(
            seconds=settings.MAILSETUP_CHECK_GIVE_UP_AFTER
        ):
            new = DomainStatus.FAILED
        if new == DomainStatus.FAILED:
            next_at = None
    rotation_at = _dkim_rotation_next_check(domain, now) if next_at is not None else None
    if rotation_at is not None and rotation_at < next_at:
        next_at = rotation_at
    updates: dict[str, object] = {"last_checked_at": now, "next_check_at": next_at, "trouble_since": trouble_since}
    if domain.claimed_at is not None and domain.claimed_at <= now:
        updates["claimed_at"] = None  # this check answers that claim (a later claim stays open)
    if new != old:
        updates["status"] = new
        updates["status_changed_at"] = now
        if new == DomainStatus.VERIFIED and old == DomainStatus.PENDING:
            updates["verified_at"] = now
    Domain.objects.filter(pk=domain.pk).update(**updates)
    for name, value in updates.items():
        setattr(domain, name, value)
    if new != old:
        audit(
            team=domain.team,
            actor=None,
            action=f"domain.{new}",
            target=domain.name,
            previous=old,
            records={key: status for key, status in statuses.items()},
        )
        kind = NOTIFY.get((old, new))
        if kind:
            transaction.on_commit(lambda: domain_notify(domain=domain, kind=kind, results=results))
    # The team's pages show this domain (mailsetup/page_cache.py). Last, so that the team's row is locked for the
    # least time.
    page_cache.team_changed(domain.team_id, domains=True)
    return domain


def domain_check(*, domain_id: int, resolver: Resolver | None = None) -> Domain | None:
    """Check one domain now and record the outcome. Safe to run twice or concurrently for the same domain."""
    started = timezone.now()
    domain = Domain.objects.select_related("team").filter(pk=domain_id).first()
    if domain is None:
        return None
    records, results = domain_run_checks(domain, resolver=resolver)  # DNS outside any transaction
    return domain_record_check(domain_id=domain.pk, records=records, results=results, now=started)


# ---- notifications


def _domain_url(domain: Domain) -> str:
    try:
        return settings.SITE_URL + reverse("domains:detail", args=[domain.team.slug, domain.pk])
    except NoReverseMatch:
        return settings.SITE_URL


def domain_notify(*, domain: Domain, kind: str, results: list[CheckResult], extra: dict[str, object] | None = None) -> int:
    """Email the team's owners and admins that `domain` became degraded, was restored or failed, or that its
    DKIM signing moved to new keys (kind "dkim_rotated", with the selectors in `extra`)."""
    recipients = list(
        Membership.objects.filter(team=domain.team, role__in=[Role.OWNER, Role.ADMIN], user__is_active=True).values_list(
            "user__email", flat=True
        )
    )
    if not recipients:
        return 0
    context = {
        "domain": domain,
        "team": domain.team,
        "url": _domain_url(domain),
        "broken": [r for r in results if r.status in BROKEN],
        "results": results,
        **(extra or {}),
    }
    subject = " ".join(render_to_string(f"domains/email/{kind}_subject.txt", context).split())
    body = render_to_string(f"domains/email/{kind}_body.txt", context)
    try:
        return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except OSError as exc:
        # The state change is stored either way; a mail server that is down must not fail the check.
        logger.warning("could not email the %s notice for domain %s: %s", kind, domain.pk, exc.__class__.__name__)
        return 0


# ---- the schedule


def domains_claim_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Claim up to `limit` due domains for checking: each is leased (next_check_at moves ahead) by one caller only."""
    now = now or timezone.now()
    lease_until = now + timedelta(seconds=settings.MAILSETUP_CHECK_LEASE)
    due = (
        Domain.objects.due(now)
        .exclude(status=DomainStatus.FAILED)
        .order_by("next_check_at", "pk")  # oldest due first; pk breaks ties the same on every database
        .values_list("pk", "next_check_at", "team_id")[:limit]
    )
    claimed = []
    teams = set()
    for pk, due_at, team_id in due:
        if Domain.objects.filter(pk=pk, next_check_at=due_at).update(next_check_at=lease_until, claimed_at=now) == 1:
            claimed.append(pk)
            teams.add(team_id)
    page_cache.team_changed(*teams, domains=True)  # their pages now say a check runs
    return claimed


def domains_enqueue_due(*, now: datetime | None = None) -> int:
    """Claim due domains and queue one check task for each."""
    from .tasks import check_domain

    claimed = domains_claim_due(now=now)
    for pk in claimed:
        check_domain.delay_on_commit(pk)
    return len(claimed)


class CheckNowRefused(Exception):
    """ "Check now" was asked again too soon; str() is the message for the page."""


@transaction.atomic
def domain_check_now(*, domain: Domain, actor: User | None, now: datetime | None = None) -> Domain:
    """Run a check of `domain` at once (restarting a failed domain); at most once per MAILSETUP_CHECK_NOW_INTERVAL."""
    from .tasks import check_domain

    now = now or timezone.now()
    interval = settings.MAILSETUP_CHECK_NOW_INTERVAL
    updates: dict[str, object] = {
        "check_now_requested_at": now,
        "next_check_at": now + timedelta(seconds=settings.MAILSETUP_CHECK_LEASE),
    }
    restart = domain.status == DomainStatus.FAILED
    if restart:
        updates |= {"status": DomainStatus.PENDING, "status_changed_at": now, "trouble_since": now}
    recent = Q(check_now_requested_at__gt=now - timedelta(seconds=interval))
    if Domain.objects.filter(pk=domain.pk).exclude(recent).update(**updates) != 1:
        raise CheckNowRefused(f"A check of {domain.name} started less than {interval} seconds ago; wait a moment and try again.")
    for name, value in updates.items():
        setattr(domain, name, value)
    page_cache.team_changed(domain.team_id, domains=True)
    if restart:
        audit(team=domain.team, actor=actor, action="domain.restarted", target=domain.name)
    check_domain.delay_on_commit(domain.pk)
    return domain


# A check this close counts as due: the page polls a little before, so the result shows without delay.
POLL_AHEAD = timedelta(seconds=15)


def _leased(domain: Domain, now: datetime) -> bool:
    """Whether a worker's claim holds the domain: its check has not reported yet, nor outlived its lease."""
    if domain.claimed_at is None:
        return False
    return now < domain.claimed_at + timedelta(seconds=settings.MAILSETUP_CHECK_LEASE)


def domain_check_in_progress(domain: Domain, now: datetime | None = None) -> bool:
    """Whether the page should keep polling: while a check is due or running. Not while the next check is still
    a while away, even on a pending domain (its backoff reaches an hour): the panel says when it comes instead."""
    now = now or timezone.now()
    if domain.status == DomainStatus.FAILED:
        return False
    if domain.last_checked_at is None:
        return True  # the first check is queued or running
    if domain.check_now_requested_at and domain.check_now_requested_at > domain.last_checked_at:
        return True  # a Check now has not reported yet
    if domain.next_check_at is None:
        return False
    # Due (or about to be), or claimed by a worker: a poll landing during a claim's lease must not stop polling.
    return domain.next_check_at <= now + POLL_AHEAD or _leased(domain, now)


# ---- what the domain page shows about checking

HISTORY_SHOWN = 30


def _record_label(key: str) -> str:
    if key.startswith("dkim:"):
        return f"DKIM ({key.split(':', 1)[1]})"
    return {"return_path": "Return path", "spf": "SPF", "dmarc": "DMARC"}.get(key, key)


def domain_clock(domain: Domain, now: datetime | None = None) -> dict[str, object]:
    """What the records panel says that depends on the time: whether to keep polling, and when the domain was last
    checked and will be next, in words."""
    from django.utils.timesince import timesince, timeuntil

    now = now or timezone.now()
    minute = timedelta(minutes=1)
    return {
        "checking": domain_check_in_progress(domain, now),
        # "0 minutes" reads oddly: the page says "just now" and "in under a minute" instead.
        "checked_just_now": bool(domain.last_checked_at and now - domain.last_checked_at < minute),
        "next_check_soon": bool(domain.next_check_at and domain.next_check_at - now < minute),
        "last_checked_ago": timesince(domain.last_checked_at, now) if domain.last_checked_at else "",
        "next_check_in": timeuntil(domain.next_check_at, now) if domain.next_check_at else "",
    }


def domain_clock_until(domain: Domain, now: datetime) -> datetime:
    """Until when domain_clock(domain) says what it says at `now`, the domain unchanged: the next whole minute
    since the last check or before the next one (the words count minutes), or the moment a flag turns (polling
    starts ahead of the next check, or stops when a claim's lease ends), whichever comes first; a minute at most."""
    minute = timedelta(minutes=1)
    times = [now + minute]
    if domain.last_checked_at is not None:
        times.append(domain.last_checked_at + minute * ((now - domain.last_checked_at) // minute + 1))
    if domain.next_check_at is not None:
        ahead = domain.next_check_at - now
        times += [domain.next_check_at - minute * (ahead // minute), domain.next_check_at - POLL_AHEAD]
    if domain.claimed_at is not None:
        times.append(domain.claimed_at + timedelta(seconds=settings.MAILSETUP_CHECK_LEASE))
    # `now` itself when the next check is a whole number of minutes away: "in 5 minutes" reads "4" a moment later.
    return min(t for t in times if t >= now)


def domain_panel_context(domain: Domain, now: datetime | None = None) -> dict[str, object]:
    """For the records panel: the clock (domain_clock) and the latest status changes of each record."""
    history = [
        {
            "at": entry.at,
            "key": entry.key,
            "label": _record_label(entry.key),
            "status": entry.status,
            "status_display": entry.get_status_display(),
            "message": entry.message,
        }
        for entry in RecordHistory.objects.filter(domain=domain)[:HISTORY_SHOWN]
    ]
    wake_at = ""
    if domain.status != DomainStatus.FAILED and domain.next_check_at is not None:
        # When a page that stopped polling should look again: as polling would start (domain_check_in_progress),
        # to the whole second after.
        wake = domain.next_check_at - POLL_AHEAD
        wake_at = (wake.replace(microsecond=0) + timedelta(seconds=1 if wake.microsecond else 0)).isoformat()
    return {
        "record_history": history,
        "wake_at": wake_at,
        **domain_clock(domain, now),
    }
