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
    wait_for(lambda: RecordCheck.objects.filter(domain=domain, status="missing").exists(),
             "the first check records missing records", celery_worker_process)
    assert Domain.objects.get(pk=domain.pk).status == DomainStatus.PENDING

    # The DNS admin publishes the records (RFC 2136); beat finds the domain due and the worker verifies it.
    for record in records_for(domain):
        bind_server.publish(record.fqdn, record.rtype, record.value + ("." if record.rtype == "CNAME" else ""))
    wait_for(lambda: Domain.objects.get(pk=domain.pk).status == DomainStatus.VERIFIED,
             "the domain becomes verified", celery_worker_process)

    checks = dict(RecordCheck.objects.filter(domain=domain).values_list("key", "status"))
    assert set(checks.values()) == {"pass"}
    assert set(checks) == {record.key for record in records_for(domain)}
    assert RecordCheck.objects.get(domain=domain, key="spf").server == bind_server.address
