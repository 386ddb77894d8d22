"""Teams: create, switch, rename, delete; the audit log page; the team's home page checklist."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credentials.models import Credential
from domains.models import CheckStatus, Domain, DomainStatus, RecordCheck
from mailsetup.audit import audit
from mailsetup.models import AuditEvent, Membership, Role, Team

pytestmark = pytest.mark.django_db


def test_a_user_creates_another_team_and_owns_it(owner, login) -> None:  # noqa: ANN001
    client = login(owner)
    response = client.post("/teams/new/", {"name": "Side Project"})
    assert response.status_code == 302
    assert response["Location"] == "/t/side-project/"
    assert Membership.objects.get(team__slug="side-project").role == Role.OWNER
    assert AuditEvent.objects.get(team__slug="side-project").action == "team.created"


def test_an_empty_team_name_is_a_form_error(owner, login) -> None:  # noqa: ANN001
    response = login(owner).post("/teams/new/", {"name": "   "})
    assert response.status_code == 200
    assert b"This field is required." in response.content or b"Give the team a name." in response.content
    assert Team.objects.count() == 1


def test_the_current_team_shows_on_every_page_and_switching_follows_the_url(owner, login) -> None:  # noqa: ANN001
    client = login(owner)
    client.post("/teams/new/", {"name": "Side Project"})
    page = client.get("/t/acme/")
    assert b'data-testid="current-team">Acme Mail<' in page.content
    page = client.get("/t/side-project/members/")
    assert b'data-testid="current-team">Side Project<' in page.content
    # The last team visited is where "home" goes, and what the password page shows.
    assert client.get("/").headers["Location"] == "/t/side-project/"
    assert b'data-testid="current-team">Side Project<' in client.get("/password/change/").content


def test_an_admin_renames_the_team_and_it_is_audited(team_admin, login) -> None:  # noqa: ANN001
    response = login(team_admin).post("/t/acme/settings/", {"name": "Acme Corp"})
    assert response.status_code == 302
    team = Team.objects.get(slug="acme")
    assert team.name == "Acme Corp"
    event = AuditEvent.objects.get(action="team.renamed")
    assert event.details == {"old_name": "Acme Mail", "new_name": "Acme Corp"}
    assert event.actor_email == team_admin.email


def test_deleting_a_team_needs_its_exact_name(owner, login) -> None:  # noqa: ANN001
    client = login(owner)
    wrong = client.post("/t/acme/delete/", {"confirm": "acme mail"})
    assert wrong.status_code == 200
    assert b"That is not the team&#x27;s name" in wrong.content
    assert Team.objects.filter(slug="acme").exists()
    right = client.post("/t/acme/delete/", {"confirm": "Acme Mail"})
    assert right.status_code == 302
    assert not Team.objects.filter(slug="acme").exists()


def test_the_audit_log_is_paginated_by_fifty(owner, team, login) -> None:  # noqa: ANN001
    for n in range(55):
        audit(team=team, actor=owner, action="test.event", target=f"target-{n:02d}")
    client = login(owner)
    first = client.get("/t/acme/audit/")
    assert first.content.count(b"<code>test.event</code>") == 50
    assert b"target-54" in first.content
    assert b"Page 1 of 2" in first.content
    assert 'href="?page=2" rel="next">Older' in first.content.decode()
    second = client.get("/t/acme/audit/?page=2")
    assert second.content.count(b"<code>test.event</code>") == 5
    assert b"target-00" in second.content
    assert client.get("/t/acme/audit/?page=zzz").status_code == 200


def make_domain(team: Team, name: str, status: str, passing: bool = False) -> Domain:
    domain = Domain.objects.create(team=team, name=name, status=status)
    RecordCheck.objects.create(domain=domain, key="dmarc", status=CheckStatus.PASS)  # recommended only
    RecordCheck.objects.create(domain=domain, key="dkim:ms1", status=CheckStatus.PASS if passing else CheckStatus.MISSING)
    return domain


def steps_done(content: bytes) -> list[bool]:
    text = content.decode()
    start = text.index('data-testid="checklist"')
    items = text[start:].split("<li ")[1:5]
    return ['class="done"' in item for item in items]


def test_team_home_for_a_new_team_points_at_adding_a_domain(owner, login) -> None:  # noqa: ANN001
    page = login(owner).get("/t/acme/")
    assert steps_done(page.content) == [False, False, False, False]
    assert b'href="/t/acme/domains/">Add a domain</a>' in page.content


def test_team_home_checklist_follows_the_teams_progress(owner, team, login) -> None:  # noqa: ANN001
    client = login(owner)
    make_domain(team, "a.example", DomainStatus.PENDING)  # only a recommended record passes
    assert steps_done(client.get("/t/acme/").content) == [True, False, False, False]
    make_domain(team, "b.example", DomainStatus.PENDING, passing=True)
    assert steps_done(client.get("/t/acme/").content) == [True, True, False, False]
    make_domain(team, "c.example", DomainStatus.DEGRADED, passing=True)
    assert steps_done(client.get("/t/acme/").content) == [True, True, True, False]
    Credential.objects.create(
        team=team, label="old", username="u1", secret_prefix="p1", secret_hash="h", revoked_at=timezone.now()
    )
    Credential.objects.create(
        team=team, label="exp", username="u2", secret_prefix="p2", secret_hash="h", expires_at=timezone.now() - timedelta(days=1)
    )
    assert steps_done(client.get("/t/acme/").content) == [True, True, True, False]
    Credential.objects.create(team=team, label="live", username="u3", secret_prefix="p3", secret_hash="h")
    page = client.get("/t/acme/")
    assert steps_done(page.content) == [True, True, True, True]
    assert b"1 active credential" in page.content
    assert b"3 domains added" in page.content


def test_team_home_ignores_other_teams_progress(owner, stranger, login) -> None:  # noqa: ANN001
    theirs = Team.objects.get(slug="other")
    make_domain(theirs, "theirs.example", DomainStatus.VERIFIED, passing=True)
    assert steps_done(login(owner).get("/t/acme/").content) == [False, False, False, False]


def test_team_home_uses_a_constant_number_of_queries(owner, team, login) -> None:  # noqa: ANN001
    client = login(owner)
    make_domain(team, "a.example", DomainStatus.VERIFIED, passing=True)
    client.get("/t/acme/")  # warm the session
    with CaptureQueriesContext(connection) as one:
        client.get("/t/acme/")
    for n in range(10):
        make_domain(team, f"d{n}.example", DomainStatus.PENDING, passing=n % 2 == 0)
    with CaptureQueriesContext(connection) as many:
        client.get("/t/acme/")
    assert len(many) == len(one)
    assert len(one) <= 10


def test_a_team_page_saves_the_session_only_when_the_current_team_changes(owner, login) -> None:  # noqa: ANN001
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login(owner)
    client.get("/t/acme/")  # remembers the current team
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/t/acme/").status_code == 200
    assert not [q for q in queries if "django_session" in q["sql"] and q["sql"].startswith("UPDATE")]
