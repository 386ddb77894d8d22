"""Issuing, rotating and revoking credentials, authenticate() and authorized_sender()."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from credentials import tokens
from credentials.models import Credential
from credentials.services import (
    authenticate,
    authorized_sender,
    credential_issue,
    credential_revoke,
    credential_rotate,
)
from mailsetup.models import AuditEvent, Team
from tests.credentials.conftest import make_domain

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(team, teammate, verified_domain):
    return credential_issue(team=team, actor=teammate, label="Payroll system", all_domains=True, domains=[])


def test_issue_stores_a_keyed_hash_and_a_prefix_never_the_secret(issued, settings):
    credential, secret = issued
    assert tokens.SECRET_RE.match(secret)
    assert credential.secret_hash == tokens.secret_hash(secret)
    assert len(credential.secret_hash) == 64
    assert credential.secret_prefix == secret[:8]
    row = Credential.objects.filter(pk=credential.pk).values().get()
    assert not any(secret in str(value) for value in row.values())
    # Keyed: another server key gives another hash.
    settings.MAILSETUP_CREDENTIAL_KEY = "another-key"
    assert tokens.secret_hash(secret) != credential.secret_hash


def test_the_server_key_is_the_configured_one_or_derived_from_secret_key(settings):
    settings.MAILSETUP_CREDENTIAL_KEY = ""
    derived = tokens.server_key()
    assert derived != settings.SECRET_KEY.encode() and len(derived) == 32
    settings.MAILSETUP_CREDENTIAL_KEY = "k" * 40
    assert tokens.server_key() == b"k" * 40


def test_secrets_and_usernames_are_random_and_long_enough():
    secrets = {tokens.generate_secret() for _ in range(200)}
    assert len(secrets) == 200
    # 32 characters from 62 letters and digits: about 190 bits.
    assert all(len(s) == 36 and s[4:].isalnum() for s in secrets)
    usernames = {tokens.generate_username("Acme_Mail") for _ in range(200)}
    assert len(usernames) == 200
    assert all(u.startswith("acme-mail-") and len(u) == len("acme-mail-") + 8 for u in usernames)


def test_issue_is_audited_without_the_secret(issued, teammate):
    credential, secret = issued
    event = AuditEvent.objects.get(action="credential.issued")
    assert event.actor == teammate
    assert event.target == f"Payroll system ({credential.username})"
    assert event.details["domains"] == "all verified domains"
    assert secret not in str(event.details) and secret[4:] not in event.target


def test_authenticate_accepts_the_right_secret(issued):
    credential, secret = issued
    assert authenticate(credential.username, secret, "203.0.113.5") == credential


@pytest.mark.parametrize(
    "case", ["unknown user", "wrong secret", "empty secret", "revoked", "expired", "wrong ip", "prefix only", "huge username"]
)
def test_authenticate_refuses(case, issued, teammate):
    credential, secret = issued
    username, password, ip = credential.username, secret, "203.0.113.5"
    if case == "unknown user":
        username = "acme-zzzzzzzz"
    elif case == "wrong secret":
        password = tokens.generate_secret()
    elif case == "empty secret":
        password = ""
    elif case == "revoked":
        credential_revoke(credential=credential, actor=teammate)
    elif case == "expired":
        Credential.objects.filter(pk=credential.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif case == "wrong ip":
        Credential.objects.filter(pk=credential.pk).update(allowed_ips=["192.0.2.0/24", "2001:db8::1"])
    elif case == "prefix only":
        password = secret[:8]
    elif case == "huge username":
        username = "a" * 10_000
    assert authenticate(username, password, ip) is None
    credential.refresh_from_db()
    assert credential.last_used_at is None


def test_the_ip_allow_list_takes_addresses_and_ranges(issued):
    credential, secret = issued
    Credential.objects.filter(pk=credential.pk).update(allowed_ips=["192.0.2.0/24", "2001:db8::1"])
    assert authenticate(credential.username, secret, "192.0.2.200") is not None
    assert authenticate(credential.username, secret, "2001:db8::1") is not None
    assert authenticate(credential.username, secret, "::ffff:192.0.2.9") is not None
    assert authenticate(credential.username, secret, "198.51.100.1") is None
    assert authenticate(credential.username, secret, None) is None
    # An entry that is not an address (a hand-edited row) lets nobody in, rather than everybody.
    Credential.objects.filter(pk=credential.pk).update(allowed_ips=["garbage"])
    assert authenticate(credential.username, secret, "192.0.2.200") is None


def test_last_use_is_recorded_at_most_once_a_minute(issued, django_assert_num_queries):
    credential, secret = issued
    authenticate(credential.username, secret, "203.0.113.5")
    credential.refresh_from_db()
    first = credential.last_used_at
    assert first is not None and credential.last_used_ip == "203.0.113.5"

    with django_assert_num_queries(1):  # the lookup only: no write within the minute
        assert authenticate(credential.username, secret, "203.0.113.6") is not None
    credential.refresh_from_db()
    assert credential.last_used_at == first and credential.last_used_ip == "203.0.113.5"

    Credential.objects.filter(pk=credential.pk).update(last_used_at=first - timedelta(seconds=61))
    authenticate(credential.username, secret, "203.0.113.7")
    credential.refresh_from_db()
    assert credential.last_used_at > first and credential.last_used_ip == "203.0.113.7"


def test_refusals_take_about_as_long_as_each_other(issued, teammate):
    """Unknown user and wrong secret take the same path (one lookup, one HMAC): no user enumeration by timing."""
    credential, secret = issued
    wrong = tokens.generate_secret()

    def timed(username: str, password: str) -> float:
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(200):
                authenticate(username, password, "203.0.113.5")
            best = min(best, time.perf_counter() - start)
        return best

    unknown = timed("acme-zzzzzzzz", wrong)
    known = timed(credential.username, wrong)
    assert 0.5 < unknown / known < 2, (unknown, known)


def test_rotate_replaces_the_secret_and_audits(issued, teammate):
    credential, old = issued
    new = credential_rotate(credential=credential, actor=teammate)
    assert new != old
    assert authenticate(credential.username, old, "203.0.113.5") is None
    assert authenticate(credential.username, new, "203.0.113.5") == credential
    event = AuditEvent.objects.get(action="credential.rotated")
    assert old not in str(event.details) and new not in str(event.details)


def test_revoking_twice_audits_once(issued, teammate):
    credential, _ = issued
    credential_revoke(credential=credential, actor=teammate)
    first = Credential.objects.get().revoked_at
    credential_revoke(credential=credential, actor=teammate)
    assert Credential.objects.get().revoked_at == first
    assert AuditEvent.objects.filter(action="credential.revoked").count() == 1


def test_authorized_sender_follows_scope_and_verification(team, teammate, verified_domain):
    shop = make_domain(team, "shop.test")
    make_domain(team, "pending.test", status="pending")
    make_domain(team, "degraded.test", status="degraded")
    make_domain(Team.objects.create(name="Other", slug="other-team"), "other.test")
    everything, _ = credential_issue(team=team, actor=teammate, label="All", all_domains=True, domains=[])
    only_shop, _ = credential_issue(team=team, actor=teammate, label="Shop", all_domains=False, domains=[shop])

    assert authorized_sender(everything, "noreply@acme.test")
    assert authorized_sender(everything, "Billing@ACME.test.")
    assert authorized_sender(everything, "noreply@degraded.test")  # still usable during its grace period
    assert not authorized_sender(everything, "noreply@pending.test")
    assert not authorized_sender(everything, "noreply@other.test")
    assert not authorized_sender(everything, "noreply@mail.acme.test")  # subdomains only when added
    assert not authorized_sender(everything, "not-an-address")
    assert authorized_sender(only_shop, "noreply@shop.test")
    assert not authorized_sender(only_shop, "noreply@acme.test")

    make_domain(team, "mail.acme.test")
    assert authorized_sender(everything, "noreply@mail.acme.test")
    assert not authorized_sender(only_shop, "noreply@mail.acme.test")

    credential_revoke(credential=only_shop, actor=teammate)
    assert not authorized_sender(only_shop, "noreply@shop.test")


def test_authorized_sender_takes_unicode_domains(team, teammate):
    make_domain(team, "xn--bcher-kva.test")
    credential, _ = credential_issue(team=team, actor=teammate, label="All", all_domains=True, domains=[])
    assert authorized_sender(credential, "info@bücher.test")
    assert authorized_sender(credential, "info@xn--bcher-kva.test")


def test_a_sealed_secret_waits_for_the_reveal_at_most_fifteen_minutes():
    secret = tokens.generate_secret()
    sealed = tokens.seal_for_reveal(secret)
    assert secret not in sealed
    assert tokens.unseal_for_reveal(sealed) == secret
    stale = tokens._reveal_fernet().encrypt_at_time(secret.encode(), int(time.time()) - tokens.REVEAL_TTL_SECONDS - 5)
    assert tokens.unseal_for_reveal(stale.decode()) is None
    assert tokens.unseal_for_reveal("not a token") is None
