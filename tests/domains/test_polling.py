"""The records panel polls only while a check is due or running, not for as long as a domain is pending."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from domains.models import Domain, DomainStatus
from domains.verification import domain_check_in_progress, domains_claim_due
from mailsetup.models import Team

pytestmark = pytest.mark.django_db

POLLING = 'hx-trigger="every 2s"'


def panel(client, domain: Domain) -> str:  # noqa: ANN001
    response = client.get(f"/t/{domain.team.slug}/domains/{domain.pk}/records/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def pending(team: Team) -> Domain:
    """Pending for 40 minutes, just checked: the back-off (60, 120, 300, 600, 1800 s...) puts the next check 30
    minutes away, as domain_record_check would."""
    now = timezone.now()
    return Domain.objects.create(
        team=team,
        name="slow.example",
        status=DomainStatus.PENDING,
        last_checked_at=now,
        trouble_since=now - timedelta(minutes=40),
        next_check_at=now + timedelta(minutes=30),
    )


def test_a_pending_domain_whose_next_check_is_half_an_hour_away_does_not_poll(pending, viewer, login, settings) -> None:
    settings.MAILSETUP_CHECK_BACKOFF = [60, 120, 300, 600, 1800, 3600]
    html = panel(login(viewer), pending)
    assert POLLING not in html
    assert "hx-get" not in html
    assert "next check in 29\xa0minutes" in html or "next check in 30\xa0minutes" in html


def test_a_pending_domain_due_now_polls(pending, viewer, login) -> None:
    Domain.objects.filter(pk=pending.pk).update(next_check_at=timezone.now())
    html = panel(login(viewer), pending)
    assert POLLING in html
    assert f'hx-get="/t/acme/domains/{pending.pk}/records/"' in html


def test_polling_starts_shortly_before_the_check_and_goes_on_through_its_claim(pending, settings) -> None:
    settings.MAILSETUP_CHECK_BACKOFF = [60, 120, 300, 600, 1800, 3600]
    settings.MAILSETUP_CHECK_LEASE = 300
    due_at = pending.next_check_at
    assert not domain_check_in_progress(pending, due_at - timedelta(minutes=4))  # within a lease, yet only scheduled
    assert domain_check_in_progress(pending, due_at - timedelta(seconds=10))
    claimed_at = due_at + timedelta(seconds=1)
    assert domains_claim_due(now=claimed_at) == [pending.pk]
    pending.refresh_from_db()
    assert pending.next_check_at == claimed_at + timedelta(seconds=300)
    assert domain_check_in_progress(pending, claimed_at + timedelta(seconds=30))  # the worker is checking
    assert domain_check_in_progress(pending, claimed_at + timedelta(seconds=299))


def test_a_check_now_polls_until_it_reports(pending, owner) -> None:
    from domains.verification import domain_check_now

    now = timezone.now()
    domain_check_now(domain=pending, actor=owner, now=now)
    assert domain_check_in_progress(pending, now + timedelta(seconds=3))


def test_a_failed_domain_never_polls(pending) -> None:
    Domain.objects.filter(pk=pending.pk).update(status=DomainStatus.FAILED, next_check_at=None)
    pending.refresh_from_db()
    assert not domain_check_in_progress(pending)


def test_a_panel_that_does_not_poll_says_when_to_wake_as_polling_would_start(pending, viewer, login) -> None:
    html = panel(login(viewer), pending)
    at = datetime.fromisoformat(re.search(r'data-wake-at="([^"]+)"', html).group(1))
    due = pending.next_check_at - timedelta(seconds=15)  # POLL_AHEAD
    assert timedelta(0) <= at - due < timedelta(seconds=1)  # the whole second after
    assert not domain_check_in_progress(pending, at - timedelta(seconds=1))
    assert domain_check_in_progress(pending, at)
    assert f'data-wake-url="/t/acme/domains/{pending.pk}/records/"' in html


def test_a_polling_panel_and_a_failed_one_have_no_wake_up(pending, viewer, login) -> None:
    client = login(viewer)
    Domain.objects.filter(pk=pending.pk).update(next_check_at=timezone.now())
    assert "data-wake-at" not in panel(client, pending)
    Domain.objects.filter(pk=pending.pk).update(status=DomainStatus.FAILED, next_check_at=None)
    html = panel(client, pending)
    assert "data-wake-at" not in html and POLLING not in html
