"""End to end: the real Celery worker (with beat) verifies a new domain against the test BIND9, no user action."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from domains.models import Domain, DomainStatus, RecordCheck
from domains.services import domain_create, records_for

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


def wait_for(condition: Callable[[], bool], what: str, worker, timeout: float = 45) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert worker.poll() is None, "the worker process died"
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.25)


def test_a_new_domain_is_verified_in_the_background_once_its_records_are_published(
    bind_server, celery_worker_process, dns_server, fresh_domain, team, owner
) -> None:
    domain = domain_create(team=team, name=fresh_domain("e2e"), actor=owner)

    # The first check, queued when the domain was added, finds nothing yet.
    wait_for(
        lambda: RecordCheck.objects.filter(domain=domain, status="missing").exists(),
        "the first check records missing records",
        celery_worker_process,
    )
    assert Domain.objects.get(pk=domain.pk).status == DomainStatus.PENDING

    # The DNS admin publishes the records (RFC 2136); beat finds the domain due and the worker verifies it.
    for record in records_for(domain):
        bind_server.publish(record.fqdn, record.rtype, record.value + ("." if record.rtype == "CNAME" else ""))
    wait_for(
        lambda: Domain.objects.get(pk=domain.pk).status == DomainStatus.VERIFIED,
        "the domain becomes verified",
        celery_worker_process,
    )

    checks = dict(RecordCheck.objects.filter(domain=domain).values_list("key", "status"))
    assert set(checks.values()) == {"pass"}
    assert set(checks) == {record.key for record in records_for(domain)}
    assert RecordCheck.objects.get(domain=domain, key="spf").server == bind_server.address


def test_the_domain_page_updates_itself_while_the_worker_checks(
    bind_server, celery_worker_process, dns_server, fresh_domain, live_server, page, team, owner
) -> None:
    from django.conf import settings as django_settings
    from django.test import Client

    domain = domain_create(team=team, name=fresh_domain("page"), actor=owner)
    wait_for(
        lambda: RecordCheck.objects.filter(domain=domain, status="missing").exists(),
        "the first check records missing records",
        celery_worker_process,
    )
    client = Client()
    client.force_login(owner)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(f"{live_server.url}/t/{team.slug}/domains/{domain.pk}/")
    page.evaluate("window.__marker = 'same page'")
    assert page.get_by_test_id("panel-domain-status").inner_text() == "Pending"

    for record in records_for(domain):
        bind_server.publish(record.fqdn, record.rtype, record.value + ("." if record.rtype == "CNAME" else ""))
    page.get_by_test_id("check-now").click()

    # The panel polls while the check is due, updates each record in place, then stops polling by itself.
    page.locator("[data-testid=panel-domain-status]", has_text="Verified").wait_for(timeout=30_000)
    assert page.locator("#records-panel[hx-get]").count() == 0
    assert page.get_by_test_id("domain-status").inner_text() == "Verified"  # the page head too, out of band
    assert page.locator("[data-testid=record-status] .badge.pass").count() == len(records_for(domain))
    assert page.evaluate("window.__marker") == "same page"  # no reload
    assert problems == []
