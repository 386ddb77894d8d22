"""Several workers, one beat: every due domain is checked exactly once per due time, never twice at once, never lost.

Two worker processes and one beat from deploy/Procfile (PostgreSQL + Redis under `make test-prod`). On top of what
beat enqueues, the test queues the beat task (domains.tasks.enqueue_due_checks) several times before the workers
start, so that both workers claim due domains at the same moment; the claim (a conditional UPDATE on
Domain.next_check_at) must hand each domain to exactly one of them. A database trigger counts the checks: each
check stamps Domain.last_checked_at once, and the trigger logs every change of it, whichever process made it.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings as conf
from django.db import connection
from django.utils import timezone

from domains import dkim
from domains.crypto import encrypt_private_key
from domains.models import DkimKey, Domain
from mailsetup.models import Team
from tests.prod.topology import Topology, purge_topology_broker, queue_length, send_task

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

# 200 on Redis (make test-prod). The filesystem broker of the embedded run delivers about one task per second
# per worker, so the plain `make test` run checks fewer: the same races, in a bounded time.
DOMAINS = 200 if conf.CELERY_BROKER_URL.startswith("redis://") else 30


TRIGGER_SQL = {
    "postgresql": [
        "CREATE TABLE prodtest_checks (domain_id bigint NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())",
        """CREATE FUNCTION prodtest_count() RETURNS trigger AS $$
           BEGIN INSERT INTO prodtest_checks (domain_id) VALUES (NEW.id); RETURN NEW; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER prodtest_count AFTER UPDATE ON domains_domain FOR EACH ROW
           WHEN (OLD.last_checked_at IS DISTINCT FROM NEW.last_checked_at) EXECUTE FUNCTION prodtest_count()""",
    ],
    "sqlite": [
        "CREATE TABLE prodtest_checks (domain_id integer NOT NULL, at text NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        """CREATE TRIGGER prodtest_count AFTER UPDATE OF last_checked_at ON domains_domain FOR EACH ROW
           WHEN OLD.last_checked_at IS NOT NEW.last_checked_at
           BEGIN INSERT INTO prodtest_checks (domain_id) VALUES (NEW.id); END""",
    ],
}
DROP_SQL = {
    "postgresql": ["DROP TRIGGER IF EXISTS prodtest_count ON domains_domain", "DROP FUNCTION IF EXISTS prodtest_count()",
                   "DROP TABLE IF EXISTS prodtest_checks"],
    "sqlite": ["DROP TRIGGER IF EXISTS prodtest_count", "DROP TABLE IF EXISTS prodtest_checks"],
}


@pytest.fixture
def check_log():  # noqa: ANN201
    """checks() -> Counter of domain id -> how many times its last_checked_at changed (= checks done)."""
    with connection.cursor() as cursor:
        for sql in DROP_SQL[connection.vendor] + TRIGGER_SQL[connection.vendor]:
            cursor.execute(sql)

    def checks() -> Counter[int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT domain_id FROM prodtest_checks")
            return Counter(row[0] for row in cursor.fetchall())

    yield checks
    with connection.cursor() as cursor:
        for sql in DROP_SQL[connection.vendor]:
            cursor.execute(sql)


def make_due_domains(count: int) -> list[int]:
    """`count` pending domains, all due now, under the test BIND9's `test` zone (nothing published: missing)."""
    team = Team.objects.create(name="Load", slug="load")
    key = dkim.generate_key(dkim.RSA, 1024)  # one key for all: generating 200 would take longer than the checks
    now = timezone.now()
    domains = Domain.objects.bulk_create(
        Domain(team=team, name=f"load-{i}.workers.test", next_check_at=now - timedelta(seconds=1), trouble_since=now)
        for i in range(count)
    )
    DkimKey.objects.bulk_create(
        DkimKey(domain=d, selector="ms1", algorithm=dkim.RSA, bits=1024, public_key=key.public_key,
                private_key_encrypted=encrypt_private_key(key.private_pem))
        for d in domains
    )
    return [d.pk for d in domains]


def wait_until(condition, timeout: float, what: str, topology: Topology) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        for proc in topology.procs:
            assert proc.poll() is None, f"a process of the topology died:\n{topology.log('worker1')[-2000:]}"
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        time.sleep(0.5)


def test_two_workers_check_each_due_domain_exactly_once(bind_server, check_log, settings) -> None:  # noqa: ANN001
    # A long back-off: no domain comes due a second time while the first round runs.
    topology = Topology(web=False, workers=2, beat=True, extra_env={"MAILSETUP_DNS_RESOLVERS": bind_server.address,
                                                                    "MAILSETUP_CHECK_BACKOFF": "3600"})
    # The workers must open the DKIM keys (they prove the key signs): encrypt under the topology's key.
    settings.MAILSETUP_ENCRYPTION_KEYS = [topology.env["MAILSETUP_ENCRYPTION_KEYS"]]
    ids = make_due_domains(DOMAINS)
    purge_topology_broker()
    # The beat task, several times over, queued before any worker runs: both workers claim at the same moment.
    for _ in range(6):
        send_task("domains.tasks.enqueue_due_checks")
    started = timezone.now()
    topology.start(purge=False)
    try:
        wait_until(lambda: len(check_log()) == DOMAINS, 150, "every domain checked", topology)
        wait_until(lambda: queue_length() == 0, 60, "the queue drained", topology)
        time.sleep(2)  # what a worker still holds would show up now
        first = check_log()
        assert set(first) == set(ids), "a due domain was never checked"
        assert [pk for pk, n in first.items() if n != 1] == [], "a domain was checked more than once"
        assert not Domain.objects.filter(pk__in=ids, next_check_at__lte=started).exists(), "a domain is still due"
        # Both workers took part.
        for name in ("worker1", "worker2"):
            assert "domains.tasks.check_domain" in topology.log(name), f"{name} checked nothing"

        # The next due time: made due again, beat alone brings each of them back exactly once more.
        Domain.objects.filter(pk__in=ids).update(next_check_at=timezone.now() - timedelta(seconds=1))
        for _ in range(6):
            send_task("domains.tasks.enqueue_due_checks")
        wait_until(lambda: sum(check_log().values()) >= 2 * DOMAINS, 150, "every domain checked again", topology)
        wait_until(lambda: queue_length() == 0, 60, "the queue drained", topology)
        time.sleep(2)
        second = check_log()
        assert [pk for pk in ids if second[pk] != 2] == [], "a domain was checked other than once per due time"
    finally:
        topology.stop()
