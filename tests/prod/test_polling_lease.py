"""The records panel keeps polling while a worker holds a pending domain's claim (found by the guided-flow test:
a poll landing between the claim and the result stopped the page's updates for good)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from domains.models import Domain
from domains.verification import domain_check_in_progress, domains_claim_due
from mailsetup.models import Team

pytestmark = pytest.mark.django_db


def test_a_claimed_pending_domain_still_counts_as_checking(settings) -> None:
    settings.MAILSETUP_CHECK_LEASE = 300
    team = Team.objects.create(name="Lease", slug="lease")
    now = timezone.now()
    domain = Domain.objects.create(team=team, name="lease.test", next_check_at=now, last_checked_at=now)

    assert domains_claim_due(now=now) == [domain.pk]
    domain.refresh_from_db()
    assert (domain.next_check_at - now).total_seconds() == 300
    assert domain_check_in_progress(domain, now)
