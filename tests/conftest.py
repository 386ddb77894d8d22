"""Shared fixtures: the personas (after healthchecks' alice/bob/charlie) and their team."""

from __future__ import annotations

import os

import pytest
from django.test import Client

from mailsetup.models import Membership, Role, Team, User
from tests.dns.fixtures import bind_server, dns_server, fresh_domain  # noqa: F401 - the test BIND9, for every dir

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, reason: str) -> None:
    """Skip outside CI when a real peer (named, Chromium, postfix...) is missing; fail loudly in CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI needs this and it is missing: {reason}")
    print(f"\nSKIP: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fresh_page_cache() -> None:
    """Each test starts with no cached page: a test's rolled-back database can reuse an earlier test's ids and
    versions (SQLite does), and a page cached then is not this test's."""
    from django.core.cache import caches

    caches["pages"].clear()


PASSWORD = "correct horse battery staple 42"


def make_user(email: str, name: str = "") -> User:
    return User.objects.create_user(email=email, password=PASSWORD, name=name)


@pytest.fixture
def team(db: None) -> Team:
    return Team.objects.create(name="Acme Mail", slug="acme")


@pytest.fixture
def owner(team: Team) -> User:
    user = make_user("owner@acme.test", "Olivia Owner")
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    return user


@pytest.fixture
def team_admin(team: Team) -> User:
    user = make_user("admin@acme.test", "Adam Admin")
    Membership.objects.create(team=team, user=user, role=Role.ADMIN)
    return user


@pytest.fixture
def teammate(team: Team) -> User:
    user = make_user("member@acme.test", "Mia Member")
    Membership.objects.create(team=team, user=user, role=Role.MEMBER)
    return user


@pytest.fixture
def viewer(team: Team) -> User:
    user = make_user("viewer@acme.test", "Vic Viewer")
    Membership.objects.create(team=team, user=user, role=Role.VIEWER)
    return user


@pytest.fixture
def stranger(db: None) -> User:
    """A user with a team of their own, who is not in `team`."""
    other = Team.objects.create(name="Other Co", slug="other")
    user = make_user("stranger@other.test", "Sam Stranger")
    Membership.objects.create(team=other, user=user, role=Role.OWNER)
    return user


@pytest.fixture
def login():  # noqa: ANN201
    """login(user) -> a Django test Client logged in as that user."""

    def _login(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _login


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, request):  # noqa: ANN001, ANN201
    """One real Celery worker (with embedded beat) for the whole session, on the test database.

    Tests using it must use `transactional_db` so the worker sees their rows. DNS goes to the test BIND9 when a
    test module sets MAILSETUP_DNS_RESOLVERS through `worker_extra_env`.
    """
    from tests.dns.bind import named_available
    from tests.processes import purge_filesystem_queue, start_worker, stop_process

    if named_available():
        # Whichever test starts the worker first, it resolves through the test BIND9 (tests/dns/fixtures.py).
        request.getfixturevalue("bind_server")

    purge_filesystem_queue()
    proc = start_worker(extra_env=_worker_extra_env)
    yield proc
    stop_process(proc)


# Environment for the session worker; a session fixture that must configure it (the BIND9 fixture, say)
# updates this dict before the worker starts.
_worker_extra_env: dict[str, str] = {}
