"""On PostgreSQL, what a domain check (or a DKIM rotation's start) locks: the domain's row, FOR NO KEY UPDATE, and not
its team's. The team's row is updated only at the end (its page versions, mailsetup/page_cache.py), so an SMTP login
that raises the team's credentials version does not wait for the whole check; and a share link made meanwhile, whose
transaction raised the team's version before its commit checks the link's foreign key to the domain (a key-share
lock on the domain's row), does not deadlock with it. SQLite locks the whole database for each write transaction: there
the same scenes must end as well, one writer after the other, with no error ("database is locked") and no lost write."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections

from credentials.services import authenticate, credential_issue
from domains import services, verification
from domains.checks import CheckResult
from domains.models import DkimKeyType, Domain, DomainStatus
from mailsetup.models import Team, User

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 5  # seconds: far more than any of these transactions takes when nothing blocks it


def serialized() -> bool:
    """Whether the database lets one writer at a time (SQLite): the second waits for the first to commit."""
    return connection.vendor == "sqlite"


def patience() -> float:
    """How long to give a transaction that must not wait; on SQLite, long enough to see that it does wait."""
    return 0.5 if serialized() else WAIT


class Worker(threading.Thread):
    """Runs `work` on a connection of its own, as another process would; keeps what it raised."""

    def __init__(self, work: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            connections.close_all()


def passing_check(domain: Domain) -> Callable[[], object]:
    records = services.records_for(domain)
    results = [CheckResult(r.key, "pass", [r.value], "", "127.0.0.1") for r in records]
    return lambda: verification.domain_record_check(domain_id=domain.pk, records=records, results=results)


def test_an_smtp_login_does_not_wait_for_a_check_of_a_domain_of_its_team(team: Team, owner: User, monkeypatch) -> None:
    domain = services.domain_create(team=team, name="example.com", actor=owner, dkim_key_type=DkimKeyType.RSA1024)
    credential, secret = credential_issue(team=team, actor=owner, label="App", all_domains=True, domains=[])
    inside, release = threading.Event(), threading.Event()
    record_results = verification._record_results

    def held(*args: object, **kwargs: object) -> None:  # the check, paused inside its transaction
        inside.set()
        release.wait(WAIT * 2)
        record_results(*args, **kwargs)

    monkeypatch.setattr(verification, "_record_results", held)
    check = Worker(passing_check(domain))
    login = Worker(lambda: authenticate(credential.username, secret, "192.0.2.1"))
    try:
        check.start()
        assert inside.wait(WAIT)
        login.start()  # its first use: it writes last_used_at, and raises the team's credentials version
        login.join(patience())
        waited = login.is_alive()
    finally:
        release.set()
        check.join(WAIT * 2)
        login.join(WAIT * 2)

    assert waited == serialized(), "the SMTP login waited for the check's transaction to end"
    assert check.error is None and login.error is None
    team.refresh_from_db()
    assert (team.domains_version, team.credentials_version) == (2, 2)  # created, checked; issued, used


def start_rotation(domain: Domain, owner: User) -> Callable[[], object]:
    return lambda: services.dkim_rotation_start(domain=domain, actor=owner)


@pytest.mark.parametrize("locker", [passing_check, start_rotation], ids=["check", "rotation"])
def test_deleting_a_domain_while_it_is_checked_or_rotated_is_no_deadlock(team: Team, owner: User, monkeypatch, locker) -> None:  # noqa: ANN001
    domain = services.domain_create(team=team, name="example.com", actor=owner, dkim_key_type=DkimKeyType.RSA1024)
    Domain.objects.filter(pk=domain.pk).update(status=DomainStatus.VERIFIED)  # a rotation needs it
    domain = Domain.objects.select_related("team").get(pk=domain.pk)
    logged, go_on = threading.Event(), threading.Event()
    audit = services.audit

    def logged_then_held(**kwargs: object) -> object:  # domain_delete logs first: an insert that refers to the team
        event = audit(**kwargs)
        if kwargs["action"] == "domain.deleted":
            logged.set()
            go_on.wait(WAIT * 2)
        return event

    monkeypatch.setattr(services, "audit", logged_then_held)
    deletion = Worker(lambda: services.domain_delete(domain=domain, actor=owner))
    other = Worker(locker(domain) if locker is passing_check else locker(domain, owner))
    try:
        deletion.start()
        assert logged.wait(WAIT)
        other.start()
        other.join(patience())  # it must not wait for the team's row: the deletion has only logged yet
        waited = other.is_alive()
    finally:
        go_on.set()  # the deletion goes on to delete the domain: locked by the other until it ends
        deletion.join(WAIT * 2)
        other.join(WAIT * 2)

    assert waited == serialized(), "it waited for a transaction that had only logged an audit event of the team"
    assert deletion.error is None, deletion.error
    if serialized() and locker is start_rotation:  # it ran after the deletion: no domain to rotate (the view: 404)
        assert isinstance(other.error, Domain.DoesNotExist), other.error
    else:
        assert other.error is None, other.error
    assert not Domain.objects.filter(pk=domain.pk).exists()


@pytest.mark.parametrize("locker", [passing_check, start_rotation], ids=["check", "rotation"])
def test_a_share_link_made_while_its_domain_is_checked_or_rotated_is_no_deadlock(
    team: Team,
    owner: User,
    monkeypatch,
    locker,  # noqa: ANN001
) -> None:
    # The link's transaction raises the team's version (a lock on the team's row) before it commits; only at the
    # commit does PostgreSQL check the link's foreign key, which locks the domain's row for key share: a check or
    # a rotation that locked the domain's row FOR UPDATE meanwhile, and waits for the team's row, deadlocks with it.
    domain = services.domain_create(team=team, name="example.com", actor=owner, dkim_key_type=DkimKeyType.RSA1024)
    Domain.objects.filter(pk=domain.pk).update(status=DomainStatus.VERIFIED)  # a rotation needs it
    domain = Domain.objects.select_related("team").get(pk=domain.pk)
    raised, go_on = threading.Event(), threading.Event()
    audit = services.audit

    def raised_then_held(**kwargs: object) -> object:  # share_link_create logs after raising the team's version
        event = audit(**kwargs)
        if kwargs["action"] == "share_link.created":
            raised.set()
            go_on.wait(WAIT * 2)
        return event

    monkeypatch.setattr(services, "audit", raised_then_held)
    link = Worker(lambda: services.share_link_create(domain=domain, actor=owner))
    other = Worker(locker(domain) if locker is passing_check else locker(domain, owner))
    try:
        link.start()
        assert raised.wait(WAIT)
        other.start()
        other.join(min(1, patience()))  # it locks the domain's row, then waits for the team's
    finally:
        go_on.set()  # the link's transaction commits: its foreign key check locks the domain's row
        link.join(WAIT * 2)
        other.join(WAIT * 2)

    assert link.error is None, link.error
    assert other.error is None, other.error
    assert domain.share_links.count() == 1
