"""Domain onboarding services: creation with keys, the first check queued, audit; records; deletion."""

from __future__ import annotations

import dkim
import pytest
from django.test import override_settings
from django.utils import timezone

from domains import services
from domains.crypto import decrypt_private_key
from domains.dkim import dkimpy_private_key
from domains.models import CheckStatus, DkimKey, DkimKeyType, Domain, RecordCheck
from mailsetup.models import AuditEvent

pytestmark = pytest.mark.django_db

MESSAGE = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n"


def test_it_creates_a_domain_with_one_rsa_key_and_queues_one_check(team, teammate, django_capture_on_commit_callbacks) -> None:
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        domain = services.domain_create(team=team, name="Bücher.Example.", actor=teammate,
                                        dkim_key_type=DkimKeyType.RSA2048, return_path_label="bounces")
    assert len(callbacks) == 1
    assert (domain.name, domain.unicode_name) == ("xn--bcher-kva.example", "bücher.example")
    assert domain.next_check_at is not None and domain.next_check_at >= before
    keys = list(domain.dkim_keys.all())
    assert [(k.algorithm, k.bits) for k in keys] == [("rsa", 2048)]
    assert keys[0].selector.startswith("ms") and keys[0].selector.endswith("a")
    event = AuditEvent.objects.get(team=team, action="domain.created")
    assert event.actor == teammate
    assert event.target == "xn--bcher-kva.example"
    assert event.details["selectors"] == [keys[0].selector]
    assert "PRIVATE" not in str(event.details)


def test_the_queued_callback_is_the_first_check_of_this_domain(team, teammate, django_capture_on_commit_callbacks,
                                                                monkeypatch) -> None:
    from domains import tasks

    queued = []
    monkeypatch.setattr(tasks.check_domain, "delay", lambda *args, **kw: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        domain = services.domain_create(team=team, name="example.com", actor=teammate)
    assert queued == [(domain.pk,)]


def test_dual_signing_creates_rsa_and_ed25519_keys_with_distinct_selectors(team, teammate) -> None:
    domain = services.domain_create(team=team, name="example.com", actor=teammate,
                                    dkim_key_type=DkimKeyType.RSA2048_ED25519)
    keys = list(domain.dkim_keys.order_by("algorithm"))
    assert [(k.algorithm, k.bits) for k in keys] == [("ed25519", None), ("rsa", 2048)]
    assert keys[0].selector != keys[1].selector
    assert [r.key for r in services.records_for(domain)][:2] == [f"dkim:{keys[1].selector}", f"dkim:{keys[0].selector}"]


@pytest.mark.parametrize(("key_type", "signature_algorithm"), [
    (DkimKeyType.RSA1024, b"rsa-sha256"),
    (DkimKeyType.RSA2048_ED25519, b"ed25519-sha256"),
])
def test_a_message_signed_with_the_stored_key_verifies_against_the_published_record(team, teammate, key_type,
                                                                                    signature_algorithm) -> None:
    domain = services.domain_create(team=team, name="signed.example", actor=teammate, dkim_key_type=key_type)
    algorithm = "ed25519" if signature_algorithm == b"ed25519-sha256" else "rsa"
    key = domain.dkim_keys.get(algorithm=algorithm)
    pem = decrypt_private_key(key.private_key_encrypted)
    records = {r.fqdn: r.value for r in services.records_for(domain)}
    signature = dkim.sign(MESSAGE, key.selector.encode(), domain.name.encode(), dkimpy_private_key(pem),
                          signature_algorithm=signature_algorithm)

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        value = records.get(name.decode().rstrip("."))
        return value.encode() if value else None

    assert dkim.verify(signature + MESSAGE, dnsfunc=dnsfunc) is True


def test_the_private_key_is_stored_encrypted(team, teammate) -> None:
    domain = services.domain_create(team=team, name="example.com", actor=teammate, dkim_key_type=DkimKeyType.RSA1024)
    stored = bytes(DkimKey.objects.get(domain=domain).private_key_encrypted)
    assert b"PRIVATE KEY" not in stored
    assert decrypt_private_key(stored).startswith(b"-----BEGIN PRIVATE KEY-----")


def test_record_rows_pair_each_record_with_its_latest_check(team, teammate) -> None:
    domain = services.domain_create(team=team, name="example.com", actor=teammate, dkim_key_type=DkimKeyType.RSA1024)
    check = RecordCheck.objects.create(domain=domain, key="return_path", status=CheckStatus.PASS,
                                       found=["bounces.mailsetup.test"])
    rows = services.domain_record_rows(domain)
    assert [(record.key, found) for record, found in rows] == [
        (f"dkim:{domain.dkim_keys.get().selector}", None),
        ("return_path", check),
        ("spf", None),
        ("dmarc", None),
    ]


def test_records_merge_the_spf_record_the_last_check_found(team, teammate) -> None:
    domain = services.domain_create(team=team, name="example.com", actor=teammate, dkim_key_type=DkimKeyType.RSA1024)
    RecordCheck.objects.create(domain=domain, key="spf", status=CheckStatus.MISMATCH,
                               found=["google-site-verification=abc", "v=spf1 include:_spf.google.com -all"])
    spf = next(r for r in services.records_for(domain) if r.key == "spf")
    assert spf.value == "v=spf1 include:_spf.google.com include:spf.mailsetup.test -all"


@override_settings(MAILSETUP_SPF_INCLUDE="")
def test_no_spf_record_is_expected_when_the_operator_sets_no_include(team, teammate) -> None:
    domain = services.domain_create(team=team, name="example.com", actor=teammate, dkim_key_type=DkimKeyType.RSA1024)
    assert [r.key for r in services.records_for(domain)][1:] == ["return_path", "dmarc"]
    assert services.records_expected_count(1) == 3


def test_the_summary_counts_passing_records_and_published_keys(team, teammate) -> None:
    domain = services.domain_create(team=team, name="example.com", actor=teammate, dkim_key_type=DkimKeyType.RSA2048_ED25519)
    RecordCheck.objects.create(domain=domain, key="spf", status=CheckStatus.PASS)
    RecordCheck.objects.create(domain=domain, key="dmarc", status=CheckStatus.PASS)
    RecordCheck.objects.create(domain=domain, key="return_path", status=CheckStatus.MISSING)
    row = services.domains_with_summary(team).get()
    assert (row.passing, row.published_keys) == (2, 2)
    assert services.records_expected_count(row.published_keys) == 5


def test_deleting_a_domain_removes_it_and_is_audited(team, teammate) -> None:
    domain = services.domain_create(team=team, name="example.com", actor=teammate, dkim_key_type=DkimKeyType.RSA1024)
    services.domain_delete(domain=domain, actor=teammate)
    assert Domain.objects.filter(team=team).count() == 0
    assert DkimKey.objects.count() == 0
    assert AuditEvent.objects.filter(team=team, action="domain.deleted", target="example.com").count() == 1


def test_share_links_store_only_the_hash_and_can_be_revoked(team, teammate) -> None:
    domain = services.domain_create(team=team, name="example.com", actor=teammate, dkim_key_type=DkimKeyType.RSA1024)
    new = services.share_link_create(domain=domain, actor=teammate, days=3)
    assert new.link.token_hash == services.share_token_hash(new.token)
    assert new.token not in repr(new)
    assert services.share_link_lookup(new.token) == new.link
    assert services.share_link_lookup("not-a-token") is None
    services.share_link_revoke(link=new.link, actor=teammate)
    services.share_link_revoke(link=new.link, actor=teammate)
    new.link.refresh_from_db()
    assert new.link.is_active is False
    actions = list(AuditEvent.objects.filter(team=team, action__startswith="share_link").values_list("action", flat=True))
    assert sorted(actions) == ["share_link.created", "share_link.revoked"]
    assert all(new.token not in str(e.details) for e in AuditEvent.objects.all())
