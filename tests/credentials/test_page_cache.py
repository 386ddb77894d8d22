"""The cached credential list (mailsetup/page_cache.py) shows each change made through the services at once, and is
never kept past the moment a credential it shows as active expires."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.test import Client
from django.utils import timezone

from credentials import services, tokens
from credentials.models import Credential
from domains.checks import CheckResult
from domains.services import domain_delete, records_for
from domains.verification import domain_record_check
from mailsetup.models import Team, User
from tests.credentials.conftest import make_domain

pytestmark = pytest.mark.django_db

# A page served from the cache costs the session and the user loaded with their memberships and teams
# (mailsetup/backends.py): no query of the page's own.
CACHED_HIT_QUERIES = 2
LIST = "/t/acme/credentials/"


def get(client: Client, url: str = LIST) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def without_tokens(html: str) -> str:
    return re.sub(r"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])", "TOKEN", html)


def warm(client: Client, django_assert_num_queries) -> str:  # noqa: ANN001 - the pytest-django fixture
    """GET the list twice: the second answer must come from the cache (no query of the page's own)."""
    first = get(client)
    with django_assert_num_queries(CACHED_HIT_QUERIES):
        second = get(client)
    assert without_tokens(second) == without_tokens(first)  # the same page, but for its CSRF tokens (masked afresh)
    return second


def issue(team: Team, actor: User, label: str = "Payroll system", **fields: object) -> tuple[Credential, str]:
    fields = {"all_domains": True, "domains": [], **fields}
    return services.credential_issue(team=team, actor=actor, label=label, **fields)


def row(html: str, credential: Credential) -> str:
    """The credential's row in the list."""
    start = html.index(f'<tr data-credential="{credential.username}">')
    return html[start : html.index("</tr>", start)]


def test_the_list_shows_a_credential_issued_after_it_was_cached(team, owner, verified_domain, login, django_assert_num_queries):
    client = login(owner)
    assert "No credentials yet." in warm(client, django_assert_num_queries)

    credential, _ = issue(team, owner, "Newsletter")

    html = get(client)
    assert "Newsletter" in row(html, credential)
    assert "1 credential<" in html


def test_the_list_shows_a_new_label(team, owner, verified_domain, login, django_assert_num_queries):
    credential, _ = issue(team, owner, "Old label")
    client = login(owner)
    assert "Old label" in warm(client, django_assert_num_queries)

    services.credential_update(
        credential=credential, actor=owner, label="New label", all_domains=True, domains=[], expires_at=None, allowed_ips=[]
    )

    html = get(client)
    assert "New label" in row(html, credential)
    assert "Old label" not in html


def test_the_list_shows_the_prefix_of_a_rotated_secret(team, owner, verified_domain, login, django_assert_num_queries):
    credential, secret = issue(team, owner)
    old_prefix = tokens.display_prefix(secret)
    client = login(owner)
    assert f"{old_prefix}…" in row(warm(client, django_assert_num_queries), credential)

    new_prefix = tokens.display_prefix(services.credential_rotate(credential=credential, actor=owner))

    assert new_prefix != old_prefix
    shown = row(get(client), credential)
    assert f"{new_prefix}…" in shown
    assert f"{old_prefix}…" not in shown


def test_the_list_shows_a_revoked_credential_as_revoked(team, owner, verified_domain, login, django_assert_num_queries):
    credential, _ = issue(team, owner)
    client = login(owner)
    before = row(warm(client, django_assert_num_queries), credential)
    assert 'data-testid="credential-status">Active<' in before
    assert ">Revoke</button>" in before

    services.credential_revoke(credential=credential, actor=owner)

    after = row(get(client), credential)
    assert 'data-testid="credential-status">Revoked<' in after
    assert ">Revoke</button>" not in after
    assert ">Rotate</button>" not in after


def test_the_list_shows_the_last_use_written_by_authenticate(team, owner, verified_domain, login, django_assert_num_queries):
    credential, secret = issue(team, owner)
    client = login(owner)
    assert '<span class="muted">Never</span>' in row(warm(client, django_assert_num_queries), credential)

    assert services.authenticate(credential.username, secret, "192.0.2.7") is not None

    shown = row(get(client), credential)
    assert '<span class="muted">Never</span>' not in shown
    used = Credential.objects.get(pk=credential.pk).last_used_at
    assert used is not None
    assert timezone.localtime(used).strftime("%Y, %H:%M") in shown
    assert "192.0.2.7" in shown


def test_a_login_within_the_minute_writes_nothing_and_the_list_stays_cached(
    team, owner, verified_domain, login, django_assert_num_queries
):
    credential, secret = issue(team, owner)
    services.authenticate(credential.username, secret, "192.0.2.7")
    client = login(owner)
    warm(client, django_assert_num_queries)

    assert services.authenticate(credential.username, secret, "192.0.2.8") is not None  # within LAST_USED_RESOLUTION

    with django_assert_num_queries(CACHED_HIT_QUERIES):
        assert "192.0.2.7" in row(get(client), credential)


def test_the_list_follows_the_teams_domains(team, owner, login, django_assert_num_queries):
    # The list says whether the team has a verified domain, and names the domains a credential sends from.
    pending = make_domain(team, "pending.test", status="pending")
    client = login(owner)
    html = warm(client, django_assert_num_queries)
    assert 'data-testid="needs-domain"' in html
    assert ">Issue a credential</a>" not in html

    records = records_for(pending)
    domain_record_check(domain_id=pending.pk, records=records, results=[CheckResult(r.key, "pass") for r in records])

    html = get(client)
    assert 'data-testid="needs-domain"' not in html
    assert ">Issue a credential</a>" in html


def test_the_list_drops_a_deleted_domain_from_what_a_credential_sends_from(team, owner, login, django_assert_num_queries):
    kept, gone = make_domain(team, "kept.test"), make_domain(team, "gone.test")
    credential, _ = issue(team, owner, all_domains=False, domains=[kept, gone])
    client = login(owner)
    assert "gone.test, kept.test" in row(warm(client, django_assert_num_queries), credential)

    domain_delete(domain=gone, actor=owner)

    shown = row(get(client), credential)
    assert "gone.test" not in shown
    assert "kept.test" in shown


def test_the_list_is_not_kept_past_the_expiry_of_a_credential_it_shows_active(team, owner, verified_domain, login):
    expires_at = timezone.now() + timedelta(seconds=2)
    credential, _ = issue(team, owner, expires_at=expires_at)
    issue(team, owner, "Forever")
    client = login(owner)

    assert 'data-testid="credential-status">Active<' in row(get(client), credential)

    pages = caches["pages"]
    assert len(pages._cache) == 1  # stored...
    (kept_until,) = pages._expire_info.values()
    assert kept_until <= expires_at.timestamp()  # ...but not past the moment the row would say Expired


def test_an_expired_credential_shows_expired_once_its_time_has_come(team, owner, verified_domain, login):
    expires_at = timezone.now() + timedelta(seconds=1.15)
    credential, _ = issue(team, owner, expires_at=expires_at)
    client = login(owner)
    assert 'data-testid="credential-status">Active<' in row(get(client), credential)

    time.sleep(max(0, (expires_at - timezone.now()).total_seconds()) + 0.05)

    assert 'data-testid="credential-status">Expired<' in row(get(client), credential)


def test_a_label_that_reads_like_the_token_slot_is_shown_as_typed(team, owner, verified_domain, login, django_assert_num_queries):
    # The cached page holds a slot where each response puts its own CSRF token: text that a member typed must
    # never be taken for it (this was the slot, a fixed text, which put the token in place of such a label).
    credential, _ = issue(team, owner, "__mailsetup_csrf_token__")
    client = login(owner)

    cached = warm(client, django_assert_num_queries)

    assert ">__mailsetup_csrf_token__</a>" in row(cached, credential)
