"""In Chromium: a domain page that stopped polling wakes up by itself when the next check is due (app.js)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from domains.models import Domain, DomainStatus
from domains.services import _dkim_keys_create
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


def test_a_page_left_open_starts_polling_when_the_next_check_is_due(live_server, page, team, owner) -> None:
    now = timezone.now()
    # Checked a while ago; the next check in 22 s, so polling starts in about 7 s (15 s ahead of it).
    domain = Domain.objects.create(
        team=team,
        name="wake.example",
        status=DomainStatus.PENDING,
        last_checked_at=now - timedelta(minutes=5),
        trouble_since=now - timedelta(minutes=30),
        next_check_at=now + timedelta(seconds=22),
    )
    _dkim_keys_create(domain=domain, key_type=domain.dkim_key_type)
    problems = sign_in(page, live_server.url, owner)

    page.goto(f"{live_server.url}/t/{team.slug}/domains/{domain.pk}/")
    page.evaluate("window.__marker = 'same page'")
    assert page.locator("#records-panel[hx-trigger]").count() == 0  # not polling now
    assert page.locator("#records-panel[data-wake-at]").count() == 1

    # No click, no reload: the panel fetches itself when the check is due, and polls from then on.
    page.locator('#records-panel[hx-trigger="every 2s"]').wait_for(timeout=20_000)
    assert (timezone.now() - now) >= timedelta(seconds=6)  # not before it was due
    assert page.get_by_test_id("check-status").inner_text().startswith("Pending")
    assert "Checking" in page.get_by_test_id("check-status").inner_text()
    assert page.evaluate("window.__marker") == "same page"
    assert problems == []
