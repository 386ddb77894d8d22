"""The cached domain list and domain page (mailsetup/page_cache.py) show each change made through the services at
once, and domain_clock_until says exactly until when the records panel's words about the time hold."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import Client
from django.utils import timezone

from domains import services
from domains.checks import CheckResult
from domains.models import DkimKeyType, Domain, DomainStatus, ShareLink
from domains.verification import domain_check_now, domain_clock, domain_clock_until, domain_record_check, domains_claim_due
from mailsetup.models import Team, User

pytestmark = pytest.mark.django_db

# A page served from the cache costs the session and the user loaded with their memberships and teams
# (mailsetup/backends.py): no query of the page's own.
CACHED_HIT_QUERIES = 2
LIST = "/t/acme/domains/"
CHECKING = "Checking… this panel updates by itself."


def page_url(domain: Domain) -> str:
    return f"/t/{domain.team.slug}/domains/{domain.pk}/"


def get(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def warm(client: Client, url: str, django_assert_num_queries) -> str:  # noqa: ANN001 - the pytest-django fixture
    """GET the page twice: the second answer must come from the cache (no query of the page's own)."""
    first = get(client, url)
    with django_assert_num_queries(CACHED_HIT_QUERIES):
        second = get(client, url)
    assert without_tokens(second) == without_tokens(first)  # the same page, but for its CSRF tokens (masked afresh)
    return second


def without_tokens(html: str) -> str:
    return re.sub(r"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])", "TOKEN", html)


def new_domain(team: Team, actor: User, name: str = "example.com") -> Domain:
    return services.domain_create(team=team, name=name, actor=actor, dkim_key_type=DkimKeyType.RSA1024)


def record_check(domain: Domain, status: str = "pass", now: datetime | None = None) -> Domain:
    """One check of every expected record with this outcome, recorded through domain_record_check, as a worker
    would after asking DNS."""
    records = services.records_for(domain)
    results = [
        CheckResult(r.key, status, [r.value] if status == "pass" else [], "" if status == "pass" else "Not there.", "127.0.0.1")
        for r in records
    ]
    return domain_record_check(domain_id=domain.pk, records=records, results=results, now=now)


def record_statuses(html: str) -> list[str]:
    """The status badge of each row of the records table (not of the history below it)."""
    return re.findall(r'data-testid="record-status">\s*<span class="badge (\w+)">', html)


def row(html: str, domain: Domain) -> str:
    """The domain's row in the list."""
    start = html.index(f'<tr data-domain="{domain.name}">')
    return html[start : html.index("</tr>", start)]


# ---- the domain list


def test_the_list_shows_a_domain_created_after_it_was_cached(team, teammate, login, django_assert_num_queries) -> None:
    client = login(teammate)
    assert "No domains yet." in warm(client, LIST, django_assert_num_queries)

    domain = new_domain(team, teammate, "fresh.example")

    html = get(client, LIST)
    assert f'<tr data-domain="{domain.name}">' in html
    assert "1 domain<" in html


def test_the_list_drops_a_deleted_domain(team, teammate, login, django_assert_num_queries) -> None:
    kept, gone = new_domain(team, teammate, "kept.example"), new_domain(team, teammate, "gone.example")
    client = login(teammate)
    assert 'data-domain="gone.example"' in warm(client, LIST, django_assert_num_queries)

    services.domain_delete(domain=gone, actor=teammate)

    html = get(client, LIST)
    assert 'data-domain="gone.example"' not in html
    assert f'data-domain="{kept.name}"' in html
    assert "1 domain<" in html


def test_the_list_shows_a_check_result(team, teammate, login, django_assert_num_queries) -> None:
    domain = new_domain(team, teammate)
    client = login(teammate)
    before = row(warm(client, LIST, django_assert_num_queries), domain)
    assert '<span class="badge pending">Pending</span>' in before
    assert "0/4 records pass" in before  # one DKIM key, return path, SPF, DMARC

    record_check(domain, "pass")

    after = row(get(client, LIST), domain)
    assert '<span class="badge verified">Verified</span>' in after
    assert "4/4 records pass" in after


def test_the_list_counts_the_new_key_of_a_rotation(team, teammate, login, django_assert_num_queries) -> None:
    domain = record_check(new_domain(team, teammate), "pass")
    client = login(teammate)
    assert "4/4 records pass" in row(warm(client, LIST, django_assert_num_queries), domain)

    services.dkim_rotation_start(domain=domain, actor=teammate)

    assert "4/5 records pass" in row(get(client, LIST), domain)  # the new key's record is not found yet


# ---- a domain's page


def test_the_page_shows_a_check_result(team, owner, login, django_assert_num_queries) -> None:
    domain = new_domain(team, owner)
    client = login(owner)
    before = warm(client, page_url(domain), django_assert_num_queries)
    assert 'data-testid="panel-domain-status">Pending<' in before
    assert "Not checked yet." in before
    assert CHECKING in before  # the first check is queued

    record_check(domain, "pass")

    after = get(client, page_url(domain))
    assert 'data-testid="panel-domain-status">Verified<' in after
    assert record_statuses(after) == ["pass"] * len(services.records_for(domain))
    assert "Not checked yet." not in after
    assert CHECKING not in after
    assert "Checked just now · next check in 23\xa0hours" in after


def test_the_page_shows_a_missing_record(team, owner, login, django_assert_num_queries) -> None:
    domain = record_check(new_domain(team, owner), "pass")
    client = login(owner)
    assert set(record_statuses(warm(client, page_url(domain), django_assert_num_queries))) == {"pass"}

    record_check(domain, "missing")

    after = get(client, page_url(domain))
    assert 'data-testid="panel-domain-status">Degraded<' in after
    assert record_statuses(after) == ["missing"] * len(services.records_for(domain))


def test_the_page_says_checking_after_check_now(team, owner, login, django_assert_num_queries) -> None:
    domain = record_check(new_domain(team, owner), "pass")
    client = login(owner)
    assert CHECKING not in warm(client, page_url(domain), django_assert_num_queries)

    domain_check_now(domain=domain, actor=owner)

    after = get(client, page_url(domain))
    assert CHECKING in after
    assert 'hx-trigger="every 2s"' in after


def test_the_page_shows_a_share_link_made_and_revoked(team, owner, login, django_assert_num_queries) -> None:
    domain = new_domain(team, owner)
    client = login(owner)
    assert 'data-testid="share-links"' not in warm(client, page_url(domain), django_assert_num_queries)

    link = services.share_link_create(domain=domain, actor=owner).link

    made = get(client, page_url(domain))
    assert f'<tr data-share-link="{link.pk}">' in made
    assert '<span class="badge active">Active</span>' in made
    warm(client, page_url(domain), django_assert_num_queries)

    services.share_link_revoke(link=link, actor=owner)

    revoked = get(client, page_url(domain))
    assert '<span class="badge revoked">Revoked</span>' in revoked
    assert '<span class="badge active">Active</span>' not in revoked


def test_the_page_shows_the_new_key_of_a_rotation(team, owner, login, django_assert_num_queries) -> None:
    domain = record_check(new_domain(team, owner), "pass")
    client = login(owner)
    assert 'data-testid="dkim-rotate"' in warm(client, page_url(domain), django_assert_num_queries)

    (key,) = services.dkim_rotation_start(domain=domain, actor=owner)

    after = get(client, page_url(domain))
    assert f'<tr data-dkim-selector="{key.selector}">' in after
    assert 'data-testid="record-rotation">New key<' in after
    assert 'data-testid="rotation-in-progress"' in after
    assert 'data-testid="dkim-rotate"' not in after


def test_the_page_polls_once_a_beat_claims_the_domain(team, owner, login, django_assert_num_queries) -> None:
    # Verified and checked just now: the page says when the next check comes and does not poll.
    domain = record_check(new_domain(team, owner), "pass")
    client = login(owner)
    assert CHECKING not in warm(client, page_url(domain), django_assert_num_queries)

    # A beat whose clock runs ahead of the web's finds the domain due and claims it. (With the clocks in step, a
    # domain is due only once its page already polls: POLL_AHEAD.)
    assert domains_claim_due(now=domain.next_check_at) == [domain.pk]

    claimed = get(client, page_url(domain))
    assert CHECKING in claimed
    assert 'hx-trigger="every 2s"' in claimed


def test_the_page_keeps_polling_when_a_due_domain_is_claimed(team, owner, login, django_assert_num_queries) -> None:
    # Checked two days ago, its daily check a day overdue: the page polls.
    domain = record_check(new_domain(team, owner), "pass", now=timezone.now() - timedelta(days=2))
    client = login(owner)
    assert CHECKING in warm(client, page_url(domain), django_assert_num_queries)

    assert domains_claim_due() == [domain.pk]

    assert CHECKING in get(client, page_url(domain))
    assert Domain.objects.get(pk=domain.pk).claimed_at is not None


def test_a_deleted_domains_page_is_gone_not_served_from_the_cache(team, owner, login, django_assert_num_queries) -> None:
    domain = new_domain(team, owner)
    url = page_url(domain)  # before the deletion clears domain.pk
    client = login(owner)
    warm(client, url, django_assert_num_queries)

    services.domain_delete(domain=domain, actor=owner)

    assert client.get(url).status_code == 404


def test_the_page_is_not_kept_past_the_moment_its_words_change(team, owner, login) -> None:
    domain = record_check(new_domain(team, owner), "pass")  # "Checked just now", for a minute

    get(login(owner), page_url(domain))

    (kept_until,) = caches["pages"]._expire_info.values()
    assert kept_until <= (domain.last_checked_at + timedelta(minutes=1)).timestamp()


def test_the_page_is_not_kept_past_the_expiry_of_a_share_link_it_shows_active(team, owner, login) -> None:
    domain = record_check(new_domain(team, owner), "pass")
    link = services.share_link_create(domain=domain, actor=owner).link
    # Expiring in 20 s (the service counts in days); set before any page is cached.
    expires_at = timezone.now() + timedelta(seconds=20)
    ShareLink.objects.filter(pk=link.pk).update(expires_at=expires_at)

    assert '<span class="badge active">Active</span>' in get(login(owner), page_url(domain))

    (kept_until,) = caches["pages"]._expire_info.values()
    assert kept_until <= expires_at.timestamp()


def test_a_domain_moved_to_another_team_in_the_admin_leaves_its_old_teams_pages(
    team, owner, login, admin_user, rf, django_assert_num_queries
) -> None:
    from django.contrib import admin

    other = Team.objects.create(name="Other Co", slug="other")
    domain = new_domain(team, owner, "moved.example")
    client = login(owner)
    warm(client, LIST, django_assert_num_queries)
    warm(client, page_url(domain), django_assert_num_queries)
    request = rf.post(f"/admin/domains/domain/{domain.pk}/change/")
    request.user = admin_user

    # What the admin's change form does once valid: the form sets the new team, then save_model saves.
    domain.team = other
    admin.site._registry[Domain].save_model(request, domain, None, True)

    assert 'data-domain="moved.example"' not in get(client, LIST)
    assert client.get(page_url(domain)).status_code == 404


# ---- domain_clock_until: until when the records panel's words about the time hold

NOW = datetime(2026, 12, 3, 12, 0, 0, 123456, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def clock_row(**fields: object) -> Domain:
    """An unsaved domain with these scheduling fields, verified unless said otherwise."""
    return Domain(name="clock.example", status=fields.pop("status", DomainStatus.VERIFIED), **fields)


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


# Rows whose panel words or flags change exactly at domain_clock_until, with that moment.
EXACT = {
    "checked a moment ago": (  # "Checked just now" ends
        dict(last_checked_at=NOW - seconds(2), next_check_at=NOW - seconds(2) + timedelta(days=1)),
        NOW + seconds(58),
    ),
    "checked 5m30s ago": (  # "Last checked 5 minutes ago" -> "6 minutes"
        dict(last_checked_at=NOW - seconds(330), next_check_at=NOW + timedelta(hours=3, seconds=40)),
        NOW + seconds(30),
    ),
    "next check in 3 hours and 7 s": (  # "next check in 3 hours" -> "2 hours, 59 minutes"
        dict(last_checked_at=NOW - seconds(330), next_check_at=NOW + timedelta(hours=3, seconds=7)),
        NOW + seconds(7),
    ),
    "next check in 90 s": (  # "next check in 1 minute" -> "in under a minute"
        dict(last_checked_at=NOW - seconds(10), next_check_at=NOW + seconds(90)),
        NOW + seconds(30),
    ),
    "next check in 20 s": (  # polling starts POLL_AHEAD (15 s) before the check
        dict(last_checked_at=NOW - seconds(5), next_check_at=NOW + seconds(20)),
        NOW + seconds(5),
    ),
    "next check in 10 s": (  # already polling; "Checked just now" ends with the check
        dict(last_checked_at=NOW - seconds(50), next_check_at=NOW + seconds(10)),
        NOW + seconds(10),
    ),
    "claimed 10 s ago": (  # polling through the lease; "1 hour ago" -> "1 hour, 1 minute ago" first
        dict(last_checked_at=NOW - seconds(3630), claimed_at=NOW - seconds(10), next_check_at=NOW + seconds(290)),
        NOW + seconds(30),
    ),
    "claim's lease ending in 5 s": (  # a check that started before the claim answered it: polling stops with the lease
        dict(
            last_checked_at=NOW - seconds(301),
            claimed_at=NOW - seconds(295),
            next_check_at=NOW - seconds(301) + timedelta(days=1),
        ),
        NOW + seconds(5),
    ),
    "failed": (  # no more checks; the minutes since the last one still count
        dict(status=DomainStatus.FAILED, last_checked_at=NOW - seconds(7212), next_check_at=None),
        NOW + seconds(48),
    ),
    "next check a whole number of minutes away": (  # "in 5 minutes" -> "in 4 minutes" at once
        dict(last_checked_at=NOW - seconds(20), next_check_at=NOW + timedelta(minutes=5)),
        NOW,
    ),
}


def assert_holds(domain: Domain, until: datetime) -> None:
    """domain_clock says the same from NOW until just before `until` (sampled every second, and at the end)."""
    shown = domain_clock(domain, NOW)
    t = NOW
    while t < until:
        assert domain_clock(domain, t) == shown, t
        t += seconds(1)
    if until > NOW:
        assert domain_clock(domain, until - TICK) == shown


@pytest.mark.parametrize("name", EXACT)
def test_domain_clock_until_is_the_moment_the_panels_words_first_change(name: str) -> None:
    assert settings.MAILSETUP_CHECK_LEASE == 300  # the rows' claims assume it
    fields, expected = EXACT[name]
    domain = clock_row(**fields)

    until = domain_clock_until(domain, NOW)

    assert until == expected
    assert NOW <= until <= NOW + seconds(60)
    assert_holds(domain, until)
    assert domain_clock(domain, until + TICK) != domain_clock(domain, NOW)


@pytest.mark.parametrize(
    "fields",
    [
        # A day since the last check: "1 day ago" changes only hourly, the page is still kept a minute at most.
        dict(last_checked_at=NOW - timedelta(days=1, minutes=3), next_check_at=NOW + timedelta(hours=5, seconds=17)),
        # Overdue (no worker): nothing changes until the next whole minute since the last check.
        dict(last_checked_at=NOW - timedelta(minutes=10, seconds=3), next_check_at=NOW - timedelta(minutes=3, seconds=50)),
        # Never checked: polling, no words.
        dict(status=DomainStatus.PENDING, last_checked_at=None, next_check_at=NOW - seconds(1)),
    ],
    ids=["checked a day ago", "overdue", "never checked"],
)
def test_domain_clock_until_never_outlives_the_words_nor_a_minute(fields: dict) -> None:
    domain = clock_row(**fields)

    until = domain_clock_until(domain, NOW)

    assert NOW < until <= NOW + seconds(60)
    assert_holds(domain, until)
