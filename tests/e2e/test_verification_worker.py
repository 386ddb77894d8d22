"""End to end with real worker processes and the test BIND9: background verification, the live page, a killed worker."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.utils import timezone
from kombu import Connection

from domains.models import Domain, DomainStatus, RecordCheck
from domains.services import _dkim_keys_create, domain_create, records_for
from tests.e2e.conftest import sign_in
from tests.processes import start_worker, stop_process

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
    domain = domain_create(team=team, name=fresh_domain("page"), actor=owner)
    wait_for(
        lambda: RecordCheck.objects.filter(domain=domain, status="missing").exists(),
        "the first check records missing records",
        celery_worker_process,
    )
    problems = sign_in(page, live_server.url, owner)

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


def test_a_worker_killed_mid_check_leaves_the_domain_due_again(
    bind_server, celery_worker_process, fresh_domain, team, owner, tmp_path
) -> None:
    # A domain with its keys but off every schedule (no first check queued): only this test claims it.
    domain = Domain.objects.create(team=team, name=fresh_domain("killed"), next_check_at=None)
    _dkim_keys_create(domain=domain, key_type=domain.dkim_key_type)
    for record in records_for(domain):
        bind_server.publish(record.fqdn, record.rtype, record.value + ("." if record.rtype == "CNAME" else ""))

    # A second worker, on a queue of its own, whose DNS server never answers: its check hangs until killed.
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    var_dir = tmp_path / "doomed"
    doomed = start_worker(
        name="doomed",
        beat=False,
        concurrency=1,
        extra_env={
            "MAILSETUP_VAR_DIR": str(var_dir),
            # Its own queue on every broker: under make test-prod the session broker is Redis, shared with the
            # session worker; the filesystem queue in its var dir is where the sender below puts the check.
            "CELERY_BROKER_URL": "filesystem://",
            "MAILSETUP_DNS_RESOLVERS": f"127.0.0.1:{silent.getsockname()[1]}",
            "MAILSETUP_DNS_TIMEOUT": "60",
        },
    )
    try:
        # Claimed as beat claims (a conditional UPDATE moving next_check_at a short lease ahead), then sent to it.
        lease_until = timezone.now() + timedelta(seconds=4)
        assert Domain.objects.filter(pk=domain.pk, next_check_at=None).update(next_check_at=lease_until) == 1
        queue = var_dir / "celery-queue"
        # Not the current app: shared tasks queued later in this process must still go to the session broker.
        sender = Celery("doomed-sender", broker="filesystem://", set_as_current=False)
        sender.conf.broker_transport_options = {
            "data_folder_in": str(queue / "out"),
            "data_folder_out": str(queue / "out"),
            "processed_folder": str(queue / "processed"),
            "store_processed": False,
            "control_folder": str(queue / "control"),
        }
        # An explicit connection: Celery lets a CELERY_BROKER_URL in the environment (Redis under make test-prod)
        # override the app's broker.
        with Connection("filesystem://", transport_options=sender.conf.broker_transport_options) as connection:
            sender.send_task("domains.tasks.check_domain", args=[domain.pk], connection=connection)
        log = Path(settings.VAR_DIR) / "worker-doomed.log"
        wait_for(
            lambda: b"check_domain" in log.read_bytes() and b"received" in log.read_bytes(),
            "the doomed worker takes the check",
            doomed,
        )
        time.sleep(0.5)
        os.killpg(doomed.pid, signal.SIGKILL)  # mid-check: its DNS query is still waiting
        doomed.wait(timeout=10)

        assert Domain.objects.get(pk=domain.pk).status == DomainStatus.PENDING
        assert Domain.objects.get(pk=domain.pk).next_check_at == lease_until
        assert not RecordCheck.objects.filter(domain=domain).exists()  # the killed check recorded nothing
        # Once the lease runs out the domain is due again, and the session worker's beat picks it up.
        wait_for(
            lambda: Domain.objects.get(pk=domain.pk).status == DomainStatus.VERIFIED,
            "the domain is verified by the surviving worker",
            celery_worker_process,
        )
    finally:
        stop_process(doomed)
        silent.close()
