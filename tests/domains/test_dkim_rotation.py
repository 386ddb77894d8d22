"""DKIM key rotation through two selectors, against a real BIND9: a new key is published beside the current one,
signing moves to it once DNS shows it, the previous key stays published until MAILSETUP_DKIM_RETIRE_AFTER, then
retires. The domain stays verified throughout: no gap."""

from __future__ import annotations

from datetime import timedelta

import dkim
import dns.resolver
import pytest
from django.core import mail
from django.utils import timezone

from domains import services
from domains.crypto import decrypt_private_key
from domains.dkim import dkimpy_private_key
from domains.exports import records_csv, zone_fragment
from domains.models import DkimKey, DkimKeyState, DkimKeyType, Domain, DomainStatus, RecordCheck
from domains.verification import domain_check
from mailsetup.models import AuditEvent
from tests.dns.bind import BindServer
from tests.domains import test_verification
from tests.domains.test_verification import publish_all

pytestmark = pytest.mark.django_db

new_domain = test_verification.new_domain  # the fixture (a team with its owner, admin and member), reused

MESSAGE = b"From: payroll@example.com\r\nTo: b@example.org\r\nSubject: March payslips\r\n\r\nbody\r\n"


def states(domain: Domain) -> dict[str, str]:
    return dict(DkimKey.objects.filter(domain=domain).values_list("selector", "state"))


def rotate_url(domain: Domain) -> str:
    return f"/t/{domain.team.slug}/domains/{domain.pk}/dkim/rotate/"


def publish(server: BindServer, domain: Domain, selector: str) -> None:
    record = next(r for r in services.records_for(domain) if r.key == f"dkim:{selector}")
    server.publish(record.fqdn, record.rtype, record.value)


def verified_domain(server: BindServer, domain: Domain) -> Domain:
    publish_all(server, domain)
    domain = domain_check(domain_id=domain.pk)
    assert domain.status == DomainStatus.VERIFIED
    return domain


def bind_dnsfunc(server: BindServer):  # noqa: ANN201
    """dkimpy's key lookup, answered by the test BIND9 (the record as published there, strings joined)."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = server.port
    resolver.lifetime = 3

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        try:
            answer = resolver.resolve(name.decode().rstrip("."), "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(answer[0].strings)

    return dnsfunc


def test_a_rotation_publishes_a_new_key_switches_signing_once_found_and_retires_the_old_one_without_a_gap(
    dns_server, new_domain, login, teammate, django_capture_on_commit_callbacks, settings
) -> None:
    settings.MAILSETUP_DKIM_RETIRE_AFTER = 3 * 24 * 3600
    domain = verified_domain(dns_server, new_domain("rot"))
    old = domain.dkim_keys.get().selector
    client = login(teammate)

    response = client.post(rotate_url(domain))

    assert response.status_code == 302
    assert response["Location"] == f"/t/acme/domains/{domain.pk}/#dkim-keys"
    new = DkimKey.objects.get(domain=domain, state=DkimKeyState.NEXT).selector
    assert states(domain) == {old: "active", new: "next"}
    assert (DkimKey.objects.get(selector=new).algorithm, DkimKey.objects.get(selector=new).bits) == ("rsa", 2048)
    event = AuditEvent.objects.get(action="domain.dkim_rotation_started", target=domain.name)
    assert (event.actor, event.details) == (teammate, {"selectors": [new], "replacing": [old]})
    domain.refresh_from_db()
    assert domain.next_check_at - timezone.now() <= timedelta(seconds=settings.MAILSETUP_CHECK_BACKOFF[0])

    # The page shows both selectors: the signing key, and the new one to publish now (not required).
    page = client.get(f"/t/acme/domains/{domain.pk}/").content.decode()
    assert f'data-record-key="dkim:{old}"' in page and f'data-record-key="dkim:{new}"' in page
    assert "publish this new key now" in page
    assert 'data-testid="rotation-in-progress"' in page and 'data-testid="dkim-rotate"' not in page
    records = {r.key: r for r in services.records_for(domain)}
    assert (records[f"dkim:{old}"].required, records[f"dkim:{old}"].rotation) == (True, "")
    assert (records[f"dkim:{new}"].required, records[f"dkim:{new}"].rotation) == (False, "next")
    # The exports follow: the new key is in the zone fragment and the CSV.
    zone = zone_fragment(domain.name, services.records_for(domain))
    assert f"; DKIM (new key: publish now)\n{new}._domainkey.{domain.name}.\t3600\tIN\tTXT" in zone
    assert f"TXT,{new}._domainkey,{new}._domainkey.{domain.name},v=DKIM1; k=rsa; p=" in records_csv(services.records_for(domain))

    # Not published yet: the new record is missing, and the domain stays verified, signing with the old key.
    with django_capture_on_commit_callbacks(execute=True):
        domain = domain_check(domain_id=domain.pk)
    assert domain.status == DomainStatus.VERIFIED
    assert RecordCheck.objects.get(domain=domain, key=f"dkim:{new}").status == "missing"
    assert states(domain) == {old: "active", new: "next"}
    assert mail.outbox == []
    # Checked again soon while the new key waits to be found, not a day later.
    assert domain.next_check_at - timezone.now() <= timedelta(seconds=settings.MAILSETUP_CHECK_BACKOFF[0])

    # The DNS admin publishes the new record: the next check moves signing to it, and the old key retires.
    publish(dns_server, domain, new)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        domain = domain_check(domain_id=domain.pk)
    assert domain.status == DomainStatus.VERIFIED
    assert states(domain) == {old: "retiring", new: "active"}
    retire_after = DkimKey.objects.get(selector=old).retire_after
    assert before + timedelta(days=3) <= retire_after <= timezone.now() + timedelta(days=3)
    event = AuditEvent.objects.get(action="domain.dkim_rotated", target=domain.name)
    assert (event.actor, event.details["signing"], event.details["retiring"]) == (None, [new], [old])
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == f"{domain.name}: DKIM signing moved to the new key"
    assert sorted(mail.outbox[0].to) == ["admin@acme.test", "owner@acme.test"]  # owners and admins, not members
    assert f"{new}._domainkey.{domain.name}" in mail.outbox[0].body
    assert f"{old}._domainkey.{domain.name}" in mail.outbox[0].body
    # The retire date comes round at a check: the next one is no later than that.
    assert domain.next_check_at <= retire_after

    # The old key is still expected, not required, with the date after which it may go.
    records = {r.key: r for r in services.records_for(domain)}
    assert (records[f"dkim:{new}"].required, records[f"dkim:{new}"].rotation) == (True, "")
    assert (records[f"dkim:{old}"].required, records[f"dkim:{old}"].rotation) == (False, "retiring")
    assert f"Keep it until {retire_after.day} {retire_after:%b %Y}, then remove it." in records[f"dkim:{old}"].why
    page = client.get(f"/t/acme/domains/{domain.pk}/").content.decode()
    assert "Previous key" in page and 'data-testid="dkim-rotate"' in page

    # The DKIM proof now signs with the new key: its record passes with a message that verifies.
    domain = domain_check(domain_id=domain.pk)
    assert domain.status == DomainStatus.VERIFIED
    check = RecordCheck.objects.get(domain=domain, key=f"dkim:{new}")
    assert check.status == "pass"
    assert check.message == "The published key matches, and a test message signed with it verifies (dkimpy)."
    assert RecordCheck.objects.get(domain=domain, key=f"dkim:{old}").message == "The published key matches."

    # Past retire_after: the old key retires at the next check, and is no longer expected or checked.
    DkimKey.objects.filter(selector=old).update(retire_after=timezone.now() - timedelta(seconds=1))
    domain = domain_check(domain_id=domain.pk)
    assert states(domain) == {old: "retired", new: "active"}
    assert AuditEvent.objects.get(action="domain.dkim_retired", target=domain.name).details == {"selectors": [old]}
    assert [r.key for r in services.records_for(domain) if r.key.startswith("dkim:")] == [f"dkim:{new}"]
    assert not RecordCheck.objects.filter(domain=domain, key=f"dkim:{old}").exists()
    row = services.domains_with_summary(domain.team).get(pk=domain.pk)
    assert (row.passing, services.records_expected_count(row.published_keys)) == (4, 4)
    dns_server.remove(f"{old}._domainkey.{domain.name}", "TXT")
    domain = domain_check(domain_id=domain.pk)
    assert domain.status == DomainStatus.VERIFIED
    page = client.get(f"/t/acme/domains/{domain.pk}/").content.decode()
    assert f'data-record-key="dkim:{old}"' not in page
    assert 'data-testid="previous-keys"' in page and f"<code>{old}</code>" in page
    assert len(mail.outbox) == 1  # one email for the whole rotation
    # Never degraded, never pending: no gap.
    assert (
        list(AuditEvent.objects.filter(target=domain.name, action__in=["domain.degraded", "domain.pending", "domain.failed"]))
        == []
    )


def test_dkimpy_verifies_a_message_signed_with_the_new_active_key_against_its_published_record(
    dns_server, new_domain, owner
) -> None:
    domain = verified_domain(dns_server, new_domain("sig"))
    (key,) = services.dkim_rotation_start(domain=domain, actor=owner)
    publish(dns_server, domain, key.selector)
    domain_check(domain_id=domain.pk)
    key.refresh_from_db()
    assert key.state == DkimKeyState.ACTIVE and key.is_signing

    signing = domain.dkim_keys.signing().get()
    assert signing.selector == key.selector
    pem = dkimpy_private_key(decrypt_private_key(signing.private_key_encrypted))
    signature = dkim.sign(MESSAGE, signing.selector.encode(), domain.name.encode(), pem)
    assert dkim.verify(signature + MESSAGE, dnsfunc=bind_dnsfunc(dns_server)) is True


def test_with_dual_signing_both_new_keys_must_be_found_before_signing_moves(
    dns_server, fresh_domain, team, owner, team_admin
) -> None:
    domain = services.domain_create(team=team, name=fresh_domain("dual"), actor=owner, dkim_key_type=DkimKeyType.RSA2048_ED25519)
    domain = verified_domain(dns_server, domain)
    old = states(domain)

    new = services.dkim_rotation_start(domain=domain, actor=owner)

    assert sorted((k.algorithm, k.bits, k.state) for k in new) == [("ed25519", None, "next"), ("rsa", 2048, "next")]
    rsa = next(k for k in new if k.algorithm == "rsa")
    ed = next(k for k in new if k.algorithm == "ed25519")
    publish(dns_server, domain, rsa.selector)
    domain = domain_check(domain_id=domain.pk)
    assert states(domain) == old | {rsa.selector: "next", ed.selector: "next"}  # one of two found: no switch yet
    assert domain.status == DomainStatus.VERIFIED

    publish(dns_server, domain, ed.selector)
    domain = domain_check(domain_id=domain.pk)
    assert states(domain) == {selector: "retiring" for selector in old} | {rsa.selector: "active", ed.selector: "active"}
    assert domain.status == DomainStatus.VERIFIED


def test_a_rotation_is_refused_while_one_is_in_progress(dns_server, new_domain, login, teammate) -> None:
    domain = verified_domain(dns_server, new_domain("twice"))
    services.dkim_rotation_start(domain=domain, actor=teammate)

    with pytest.raises(services.DkimRotationRefused, match="already in progress"):
        services.dkim_rotation_start(domain=domain, actor=teammate)
    response = login(teammate).post(rotate_url(domain), follow=True)

    assert response.status_code == 200
    assert "A DKIM key rotation of" in response.content.decode()
    assert "is already in progress" in response.content.decode()
    assert DkimKey.objects.filter(domain=domain).count() == 2
    assert AuditEvent.objects.filter(action="domain.dkim_rotation_started").count() == 1


def test_a_rotation_is_refused_on_a_domain_not_verified_yet(new_domain, login, teammate) -> None:
    domain = new_domain("early")
    assert domain.status == DomainStatus.PENDING

    with pytest.raises(services.DkimRotationRefused, match="is not verified yet"):
        services.dkim_rotation_start(domain=domain, actor=teammate)
    client = login(teammate)
    page = client.get(f"/t/acme/domains/{domain.pk}/").content.decode()
    assert 'data-testid="rotation-not-yet"' in page and 'data-testid="dkim-rotate"' not in page
    response = client.post(rotate_url(domain), follow=True)

    assert response.status_code == 200
    assert f"{domain.name} is not verified yet" in response.content.decode()
    assert states(domain) == {domain.dkim_keys.get().selector: "active"}


def test_a_viewer_gets_403_and_a_stranger_404_and_neither_rotates(dns_server, new_domain, login, viewer, stranger) -> None:
    domain = verified_domain(dns_server, new_domain("perm"))

    assert login(viewer).post(rotate_url(domain)).status_code == 403
    assert login(stranger).post(rotate_url(domain)).status_code == 404
    assert login(viewer).get(rotate_url(domain)).status_code == 405

    assert list(states(domain).values()) == ["active"]
    assert not AuditEvent.objects.filter(action="domain.dkim_rotation_started").exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_maps_active_keys_to_active_and_inactive_ones_to_retired() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("domains", "0003_domain_claimed_at")], [("domains", "0004_dkimkey_state")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old_apps = executor.loader.project_state(before).apps
        team = old_apps.get_model("mailsetup", "Team").objects.create(name="Old", slug="old")
        domain = old_apps.get_model("domains", "Domain").objects.create(team=team, name="old.example")
        old_key = old_apps.get_model("domains", "DkimKey")
        for selector, active in (("s1", False), ("s2", True)):
            old_key.objects.create(
                domain=domain,
                selector=selector,
                algorithm="rsa",
                bits=1024,
                public_key="AAAA",
                private_key_encrypted=b"x",
                active=active,
            )
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new_key = executor.loader.project_state(after).apps.get_model("domains", "DkimKey")
        assert dict(new_key.objects.values_list("selector", "state")) == {"s1": "retired", "s2": "active"}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_rotating_a_domain_deleted_meanwhile_is_not_found(team, teammate, login, monkeypatch) -> None:  # noqa: ANN001
    from domains import services
    from domains.models import Domain

    domain = Domain.objects.create(team=team, name="gone.example", status="verified")

    def deleted_meanwhile(**kwargs: object) -> None:
        raise Domain.DoesNotExist("deleted since the view read it")

    monkeypatch.setattr(services, "dkim_rotation_start", deleted_meanwhile)
    assert login(teammate).post(f"/t/acme/domains/{domain.pk}/dkim/rotate/").status_code == 404
