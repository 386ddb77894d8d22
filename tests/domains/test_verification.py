"""The verification service and schedule against a real BIND9: states, history, notifications, claiming, Check now."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from domains.dns import Resolver
from domains.models import Domain, DomainStatus, RecordCheck, RecordHistory
from domains.services import domain_create, records_for
from domains.verification import (
    CheckNowRefused,
    backoff_delay,
    domain_check,
    domain_check_in_progress,
    domain_check_now,
    domains_claim_due,
    domains_enqueue_due,
)
from mailsetup.models import AuditEvent
from tests.dns.bind import BindServer, free_port

pytestmark = pytest.mark.django_db


def publish_all(server: BindServer, domain: Domain) -> None:
    for record in records_for(domain):
        server.publish(record.fqdn, record.rtype, record.value + ("." if record.rtype == "CNAME" else ""))


def statuses(domain: Domain) -> dict[str, str]:
    return dict(RecordCheck.objects.filter(domain=domain).values_list("key", "status"))


@pytest.fixture
def new_domain(dns_server, fresh_domain, team, owner, team_admin, teammate):  # noqa: ANN001, ANN201
    def _new(prefix: str = "v") -> Domain:
        return domain_create(team=team, name=fresh_domain(prefix), actor=owner)

    return _new


def test_a_domain_goes_pending_verified_degraded_and_back_with_one_email_per_change(
    dns_server, new_domain, django_capture_on_commit_callbacks
) -> None:
    domain = new_domain("life")
    keys = [r.key for r in records_for(domain)]

    # Nothing published: still pending, every record missing, checked again after the first back-off step.
    with django_capture_on_commit_callbacks(execute=True):
        domain = domain_check(domain_id=domain.pk)
    assert domain.status == DomainStatus.PENDING
    assert set(statuses(domain).values()) == {"missing"}
    assert timedelta(seconds=55) < domain.next_check_at - timezone.now() <= timedelta(seconds=60)

    publish_all(dns_server, domain)
    with django_capture_on_commit_callbacks(execute=True):
        domain = domain_check(domain_id=domain.pk)
    assert domain.status == DomainStatus.VERIFIED
    assert domain.verified_at is not None
    assert domain.trouble_since is None
    assert set(statuses(domain).values()) == {"pass"}
    assert timedelta(hours=23, minutes=59) < domain.next_check_at - timezone.now() <= timedelta(days=1)
    assert mail.outbox == []  # the first verification is shown on the page, not emailed

    # A re-check with nothing changed writes no history.
    history_before = RecordHistory.objects.filter(domain=domain).count()
    assert history_before == 2 * len(keys)  # missing, then pass, for each record
    domain_check(domain_id=domain.pk)
    assert RecordHistory.objects.filter(domain=domain).count() == history_before

    dkim = records_for(domain)[0]
    dns_server.remove(dkim.fqdn, "TXT")
    with django_capture_on_commit_callbacks(execute=True):
        domain = domain_check(domain_id=domain.pk)
        domain = domain_check(domain_id=domain.pk)  # a second check while still broken: no second email
    assert domain.status == DomainStatus.DEGRADED
    assert statuses(domain)[dkim.key] == "missing"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == f"{domain.name}: DNS records broken (domain degraded)"
    assert sorted(mail.outbox[0].to) == ["admin@acme.test", "owner@acme.test"]  # not the member
    assert f"{dkim.key}: missing. No TXT record at {dkim.fqdn}." in mail.outbox[0].body
    assert RecordHistory.objects.filter(domain=domain, key=dkim.key).count() == 3

    publish_all(dns_server, domain)
    with django_capture_on_commit_callbacks(execute=True):
        domain = domain_check(domain_id=domain.pk)
    assert domain.status == DomainStatus.VERIFIED
    assert len(mail.outbox) == 2
    assert mail.outbox[1].subject == f"{domain.name}: DNS records pass again (domain verified)"
    assert [h.status for h in RecordHistory.objects.filter(domain=domain, key=dkim.key)] == [
        "pass",
        "missing",
        "pass",
        "missing",  # newest first
    ]
    assert list(AuditEvent.objects.filter(target=domain.name, action__startswith="domain.").values_list("action", flat=True)) == [
        "domain.verified",
        "domain.degraded",
        "domain.verified",
        "domain.created",
    ]


def test_errors_never_turn_a_verified_domain_degraded(dns_server, new_domain, settings) -> None:
    domain = new_domain("steady")
    publish_all(dns_server, domain)
    domain = domain_check(domain_id=domain.pk)
    assert domain.status == DomainStatus.VERIFIED

    silent = Resolver(servers=[("127.0.0.1", free_port())], timeout=0.3)
    domain = domain_check(domain_id=domain.pk, resolver=silent)

    assert domain.status == DomainStatus.VERIFIED
    assert set(statuses(domain).values()) == {"error"}
    # Not a day away: a check that could not read the records is retried soon.
    assert domain.next_check_at - timezone.now() <= timedelta(seconds=settings.MAILSETUP_CHECK_BACKOFF[0])
    assert mail.outbox == []


def test_a_pending_domain_stays_pending_when_its_resolver_does_not_answer(new_domain) -> None:
    domain = new_domain("quiet")
    silent = Resolver(servers=[("127.0.0.1", free_port())], timeout=0.3)

    domain = domain_check(domain_id=domain.pk, resolver=silent)

    assert domain.status == DomainStatus.PENDING
    assert set(statuses(domain).values()) == {"error"}
    check = RecordCheck.objects.get(domain=domain, key="spf")
    assert check.message.startswith(f"Could not check {domain.name}: 127.0.0.1:")
    assert "This is temporary and says nothing about the record" in check.message


def test_the_back_off_grows_then_stays_hourly(settings) -> None:
    settings.MAILSETUP_CHECK_BACKOFF = [60, 120, 300, 600, 1800, 3600]
    waits = [backoff_delay(timedelta(seconds=s)).total_seconds() for s in (0, 59, 61, 185, 500, 1100, 2900, 99999)]
    assert waits == [60, 60, 120, 300, 600, 1800, 3600, 3600]


def test_a_domain_pending_for_72_hours_fails_and_is_no_longer_scheduled(new_domain) -> None:
    domain = new_domain("late")
    Domain.objects.filter(pk=domain.pk).update(trouble_since=timezone.now() - timedelta(hours=72, minutes=1))

    domain = domain_check(domain_id=domain.pk)

    assert domain.status == DomainStatus.FAILED
    assert domain.next_check_at is None
    assert domains_claim_due(now=timezone.now() + timedelta(days=30)) == []


def test_a_degraded_domain_fails_after_72_hours_and_the_team_is_told(
    dns_server, new_domain, django_capture_on_commit_callbacks
) -> None:
    domain = new_domain("gone")
    Domain.objects.filter(pk=domain.pk).update(status=DomainStatus.DEGRADED, trouble_since=timezone.now() - timedelta(hours=73))
    with django_capture_on_commit_callbacks(execute=True):
        domain = domain_check(domain_id=domain.pk)

    assert domain.status == DomainStatus.FAILED
    assert [m.subject for m in mail.outbox] == [f"{domain.name}: verification failed"]


def test_beat_claims_each_due_domain_once_and_a_killed_check_is_due_again(new_domain, settings) -> None:
    settings.MAILSETUP_CHECK_LEASE = 300
    due, later = new_domain("due"), new_domain("later")
    now = timezone.now()
    Domain.objects.filter(pk=later.pk).update(next_check_at=now + timedelta(minutes=5))

    assert domains_claim_due(now=now) == [due.pk]
    assert domains_claim_due(now=now) == []  # claimed: a second beat (or a second scheduler) gets nothing
    due.refresh_from_db()
    assert due.next_check_at == now + timedelta(seconds=300)
    # The worker died mid-check: once the lease runs out the domain is claimed again.
    assert domains_claim_due(now=now + timedelta(seconds=301)) == [due.pk, later.pk]


def test_enqueue_queues_one_check_task_per_claimed_domain(new_domain, django_capture_on_commit_callbacks) -> None:
    new_domain("q1"), new_domain("q2")
    with django_capture_on_commit_callbacks() as callbacks:
        assert domains_enqueue_due() == 2
    assert len(callbacks) == 2
    with django_capture_on_commit_callbacks() as callbacks:
        assert domains_enqueue_due() == 0
    assert callbacks == []


def test_check_now_is_rate_limited_per_domain(new_domain, owner, django_capture_on_commit_callbacks, settings) -> None:
    settings.MAILSETUP_CHECK_NOW_INTERVAL = 10
    domain = new_domain("now")
    now = timezone.now()
    with django_capture_on_commit_callbacks() as callbacks:
        domain_check_now(domain=domain, actor=owner, now=now)
    assert len(callbacks) == 1
    assert domain_check_in_progress(domain, now)

    with pytest.raises(CheckNowRefused, match="less than 10 seconds ago"):
        domain_check_now(domain=domain, actor=owner, now=now + timedelta(seconds=5))
    domain_check_now(domain=domain, actor=owner, now=now + timedelta(seconds=11))


def test_check_now_restarts_a_failed_domain(new_domain, owner) -> None:
    domain = new_domain("restart")
    Domain.objects.filter(pk=domain.pk).update(status=DomainStatus.FAILED, next_check_at=None)
    domain.refresh_from_db()

    domain_check_now(domain=domain, actor=owner)

    domain.refresh_from_db()
    assert domain.status == DomainStatus.PENDING
    assert domain.trouble_since is not None
    assert AuditEvent.objects.filter(action="domain.restarted", target=domain.name).count() == 1


def test_polling_goes_on_while_a_check_is_due_or_claimed_whatever_the_state(dns_server, new_domain, settings) -> None:
    settings.MAILSETUP_CHECK_LEASE = 300
    domain = new_domain("poll")
    assert domain_check_in_progress(domain)  # never checked
    domain = domain_check(domain_id=domain.pk)
    assert domain.status == DomainStatus.PENDING
    assert not domain_check_in_progress(domain)  # pending, but its next check is a minute away
    assert domain_check_in_progress(domain, domain.next_check_at - timedelta(seconds=10))  # due in a moment
    # The minute passes: the domain falls due and beat claims it.
    Domain.objects.filter(pk=domain.pk).update(next_check_at=timezone.now() - timedelta(seconds=1))
    claimed_at = timezone.now()
    assert domains_claim_due(now=claimed_at) == [domain.pk]
    domain.refresh_from_db()
    assert domain.next_check_at > claimed_at + timedelta(seconds=200)  # leased: not due, yet...
    assert domain_check_in_progress(domain, claimed_at + timedelta(seconds=20))  # a worker holds it: keep polling

    publish_all(dns_server, domain)
    domain = domain_check(domain_id=domain.pk)
    assert domain.status == DomainStatus.VERIFIED
    assert not domain_check_in_progress(domain)
    assert not domain_check_in_progress(domain, domain.next_check_at - timedelta(seconds=200))  # within a lease of it

    dns_server.remove(records_for(domain)[0].fqdn, "TXT")
    domain = domain_check(domain_id=domain.pk)
    assert domain.status == DomainStatus.DEGRADED
    assert not domain_check_in_progress(domain)
    assert domain_check_in_progress(domain, domain.next_check_at)


def test_the_command_prints_the_table(dns_server, new_domain, capsys) -> None:
    domain = new_domain("cmd")
    publish_all(dns_server, domain)

    call_command("verify_domain", domain.name.upper())

    out = capsys.readouterr().out
    assert out.startswith(f"{domain.name} (team acme, pending)")
    assert f"  PASS      CNAME  bounces.{domain.name}" in out
    assert f"answered by {dns_server.address}" in out
    domain.refresh_from_db()
    assert domain.status == DomainStatus.PENDING  # without --record nothing is stored

    call_command("verify_domain", domain.name, "--record")
    domain.refresh_from_db()
    assert domain.status == DomainStatus.VERIFIED


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_checks_of_one_domain_record_each_change_once(dns_server, new_domain) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    domain = new_domain("twice")
    publish_all(dns_server, domain)

    def run() -> str:
        try:
            return domain_check(domain_id=domain.pk).status
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda _: run(), range(2)))

    assert outcomes == ["verified", "verified"]
    keys = [record.key for record in records_for(domain)]
    assert sorted(RecordHistory.objects.filter(domain=domain).values_list("key", flat=True)) == sorted(keys)
    assert AuditEvent.objects.filter(action="domain.verified", target=domain.name).count() == 1


def test_without_an_spf_include_setting_spf_is_not_checked_and_the_domain_still_verifies(
    dns_server, new_domain, settings
) -> None:
    settings.MAILSETUP_SPF_INCLUDE = ""
    domain = new_domain("nospf")
    publish_all(dns_server, domain)

    domain = domain_check(domain_id=domain.pk)

    assert domain.status == DomainStatus.VERIFIED
    assert "spf" not in statuses(domain)


def test_dmarc_never_blocks_verification(dns_server, new_domain) -> None:
    domain = new_domain("nodmarc")
    publish_all(dns_server, domain)
    dns_server.remove(f"_dmarc.{domain.name}", "TXT")

    domain = domain_check(domain_id=domain.pk)

    assert domain.status == DomainStatus.VERIFIED
    assert statuses(domain)["dmarc"] == "missing"


def test_a_check_that_started_before_the_stored_one_is_dropped(dns_server, new_domain) -> None:
    from domains.verification import domain_record_check, domain_run_checks

    domain = new_domain("order")
    early = timezone.now()
    old_records, old_results = domain_run_checks(domain)  # nothing published yet: all missing
    publish_all(dns_server, domain)
    domain = domain_check(domain_id=domain.pk)  # started later, finished first
    assert domain.status == DomainStatus.VERIFIED

    domain = domain_record_check(domain_id=domain.pk, records=old_records, results=old_results, now=early)

    assert domain.status == DomainStatus.VERIFIED
    assert set(statuses(domain).values()) == {"pass"}
