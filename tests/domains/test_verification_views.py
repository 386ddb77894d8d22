"""The domain page's verification parts: Check now, polling while a check is due, the records' history."""

from __future__ import annotations

import pytest
from django.utils import timezone

from domains.models import Domain, DomainStatus
from domains.services import domain_create, records_for
from domains.verification import domain_check

pytestmark = pytest.mark.django_db


@pytest.fixture
def domain(team, owner) -> Domain:  # noqa: ANN001
    return domain_create(team=team, name="page.example", actor=owner)


def url(domain: Domain, suffix: str = "") -> str:
    return f"/t/{domain.team.slug}/domains/{domain.pk}/{suffix}"


def test_check_now_queues_one_check_and_says_so(domain, teammate, login, django_capture_on_commit_callbacks) -> None:
    client = login(teammate)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url(domain, "check/"))

    assert response.status_code == 302
    assert response["Location"] == url(domain) + "#records-panel"
    assert len(callbacks) == 1
    domain.refresh_from_db()
    assert domain.check_now_requested_at is not None
    page = client.get(url(domain))
    assert "Checking page.example now." in page.content.decode()


def test_check_now_twice_within_seconds_is_refused_with_a_clear_message(domain, teammate, login) -> None:
    client = login(teammate)
    client.post(url(domain, "check/"))

    response = client.post(url(domain, "check/"), headers={"HX-Request": "true"})

    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert 'id="records-panel"' in body
    assert "A check of page.example started less than 10 seconds ago; wait a moment and try again." in body


def test_the_panel_polls_while_a_check_is_due_and_stops_once_done(dns_server, fresh_domain, team, owner, viewer, login) -> None:
    domain = domain_create(team=team, name=fresh_domain("poll"), actor=owner)
    client = login(viewer)
    polling = 'hx-trigger="every 2s" hx-swap="outerHTML" data-poll-when-visible'

    due = client.get(url(domain, "records/"), headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in due
    assert polling in due
    assert f'hx-get="{url(domain, "records/")}"' in due
    assert f'href="{url(domain, "records/")}"' in due  # the same without JavaScript

    for record in records_for(domain):
        dns_server.publish(record.fqdn, record.rtype, record.value + ("." if record.rtype == "CNAME" else ""))
    domain_check(domain_id=domain.pk)

    done = client.get(url(domain, "records/"), headers={"HX-Request": "true"}).content.decode()
    assert "hx-get" not in done
    assert "hx-trigger" not in done
    assert "data-poll-when-visible" not in done
    assert 'data-testid="panel-domain-status">Verified<' in done
    # The badge at the top of the page follows, out of band.
    assert 'id="domain-status" hx-swap-oob="true" class="badge verified"' in done
    assert "Checked just now · next check in 23\xa0hours" in done  # timeuntil joins with no-break spaces
    assert done.count('class="badge pass"') >= len(records_for(domain))
    assert 'data-testid="record-history"' in done
    assert "History: each change of a record" in done


def test_a_viewer_sees_no_check_now_button(domain, viewer, login) -> None:
    body = login(viewer).get(url(domain)).content.decode()
    assert 'data-testid="check-now"' not in body
    assert body.count('data-testid="domain-status"') == 1  # the out-of-band copy is for htmx responses only


def test_a_failed_domain_offers_restart_and_restarting_makes_it_pending(domain, owner, login) -> None:
    Domain.objects.filter(pk=domain.pk).update(status=DomainStatus.FAILED, next_check_at=None, last_checked_at=timezone.now())
    client = login(owner)
    assert "Restart verification" in client.get(url(domain)).content.decode()

    client.post(url(domain, "check/"))

    domain.refresh_from_db()
    assert domain.status == DomainStatus.PENDING


def test_check_now_refused_without_htmx_redirects_with_the_message(domain, teammate, login) -> None:
    client = login(teammate)
    client.post(url(domain, "check/"))

    response = client.post(url(domain, "check/"), follow=True)

    assert response.redirect_chain == [(url(domain) + "#records-panel", 302)]
    assert "A check of page.example started less than 10 seconds ago" in response.content.decode()
