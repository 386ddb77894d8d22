"""Cancelling a DKIM rotation that has not switched signing: the new keys go, the current ones go on signing."""

from __future__ import annotations

import pytest

from domains import services
from domains.checks import CheckResult
from domains.models import DkimKey, DkimKeyState, DkimKeyType, Domain, DomainStatus, RecordCheck
from domains.verification import domain_record_check
from mailsetup.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def rotating(team, owner) -> Domain:  # noqa: ANN001
    domain = services.domain_create(team=team, name="rotate.example", actor=owner, dkim_key_type=DkimKeyType.RSA1024)
    Domain.objects.filter(pk=domain.pk).update(status=DomainStatus.VERIFIED)
    domain.refresh_from_db()
    services.dkim_rotation_start(domain=domain, actor=owner)
    return domain


def cancel_url(domain: Domain) -> str:
    return f"/t/{domain.team.slug}/domains/{domain.pk}/dkim/cancel/"


def test_cancelling_deletes_the_new_keys_and_their_checks_and_keeps_the_signing_key(rotating, owner) -> None:  # noqa: ANN001
    (new,) = DkimKey.objects.filter(domain=rotating, state=DkimKeyState.NEXT)
    (current,) = DkimKey.objects.filter(domain=rotating, state=DkimKeyState.ACTIVE)
    RecordCheck.objects.create(domain=rotating, key=f"dkim:{new.selector}", status="missing")

    assert services.dkim_rotation_cancel(domain=rotating, actor=owner) == [new.selector]

    assert list(DkimKey.objects.filter(domain=rotating).values_list("selector", "state")) == [(current.selector, "active")]
    assert not RecordCheck.objects.filter(domain=rotating, key=f"dkim:{new.selector}").exists()
    assert [r.key for r in services.records_for(rotating) if r.key.startswith("dkim:")] == [f"dkim:{current.selector}"]
    rotating.refresh_from_db()
    assert rotating.status == DomainStatus.VERIFIED
    event = AuditEvent.objects.get(action="domain.dkim_rotation_cancelled")
    assert event.target == "rotate.example"
    assert event.actor == owner


def test_with_no_rotation_waiting_it_is_refused_and_changes_nothing(rotating, owner) -> None:  # noqa: ANN001
    # The check that finds the new record moves signing to it: nothing is left to cancel.
    records = services.records_for(rotating)
    results = [CheckResult(r.key, "pass", [r.value], "", "127.0.0.1") for r in records]
    domain_record_check(domain_id=rotating.pk, records=records, results=results)
    before = list(DkimKey.objects.filter(domain=rotating).values_list("selector", "state"))
    with pytest.raises(services.DkimRotationRefused, match="No rotation"):
        services.dkim_rotation_cancel(domain=rotating, actor=owner)
    assert list(DkimKey.objects.filter(domain=rotating).values_list("selector", "state")) == before


def test_the_page_offers_it_during_a_rotation_and_says_what_happened(rotating, teammate, login) -> None:  # noqa: ANN001
    client = login(teammate)
    page = client.get(f"/t/acme/domains/{rotating.pk}/").content.decode()
    assert 'data-testid="dkim-rotation-cancel"' in page
    response = client.post(cancel_url(rotating), follow=True)
    body = response.content.decode()
    assert "Rotation cancelled" in body
    assert 'data-testid="dkim-rotation-cancel"' not in body  # the page (served afresh) no longer offers it
    assert 'data-testid="rotation-in-progress"' not in body
    assert not DkimKey.objects.filter(domain=rotating, state=DkimKeyState.NEXT).exists()


def test_a_second_cancel_is_a_message_not_an_error(rotating, teammate, login) -> None:  # noqa: ANN001
    client = login(teammate)
    client.post(cancel_url(rotating))
    response = client.post(cancel_url(rotating), follow=True)
    assert response.status_code == 200
    assert "No rotation" in response.content.decode()


def test_a_viewer_cannot_cancel_and_a_stranger_finds_nothing(rotating, viewer, stranger, login) -> None:  # noqa: ANN001
    assert login(viewer).post(cancel_url(rotating)).status_code == 403
    assert login(stranger).post(cancel_url(rotating)).status_code == 404
    assert DkimKey.objects.filter(domain=rotating, state=DkimKeyState.NEXT).count() == 1
