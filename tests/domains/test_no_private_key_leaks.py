"""A domain's DKIM private key never leaves the database in clear: not in any page, export, admin page or log line.

Looked for: the PEM body whole and line by line (a page could show any part of it), and the base64 seed dkimpy
signs Ed25519 with.
"""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from domains import services
from domains.crypto import decrypt_private_key
from domains.dkim import dkimpy_private_key
from domains.dns import Resolver
from domains.models import DkimKeyType, Domain
from domains.verification import domain_check
from mailsetup.models import AuditEvent, User
from tests.dns.bind import free_port

pytestmark = pytest.mark.django_db

KEY_TYPES = [DkimKeyType.RSA1024, DkimKeyType.RSA2048_ED25519]


def secret_parts(domain: Domain) -> list[str]:
    """The private keys of `domain` as they could leak: whole PEM body, each body line, dkimpy's Ed25519 seed."""
    parts = []
    for key in domain.dkim_keys.all():
        pem = decrypt_private_key(bytes(key.private_key_encrypted))
        lines = [line.decode() for line in pem.splitlines()[1:-1]]
        parts.append("".join(lines))
        parts += lines
        if key.algorithm == "ed25519":
            parts.append(dkimpy_private_key(pem).decode())
    return parts


def assert_no_secret(text: str, secrets: list[str], where: str) -> None:
    assert "PRIVATE KEY" not in text, where
    for part in secrets:
        assert part not in text, f"{where} shows part of a private key"


def create(team, owner, name: str, key_type: str) -> tuple[Domain, list[str]]:  # noqa: ANN001
    domain = services.domain_create(team=team, name=name, actor=owner, dkim_key_type=key_type)
    secrets = secret_parts(domain)
    assert len(secrets) >= 15  # RSA 1024: the body and its 14 lines
    return domain, secrets


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_no_page_or_export_shows_the_private_key(team, owner, login, key_type: str) -> None:
    domain, secrets = create(team, owner, "example.com", key_type)
    share = services.share_link_create(domain=domain, actor=owner)
    base = f"/t/acme/domains/{domain.pk}/"
    member = login(owner)
    admin = Client()
    admin.force_login(User.objects.create_superuser(email="root@mailsetup.test", password="x" * 20))
    pages = {
        "domain page": (member, base, {}),
        "records panel": (member, base + "records/", {"HX-Request": "true"}),
        "zone export": (member, base + "records.zone", {}),
        "CSV export": (member, base + "records.csv", {}),
        "delete page": (member, base + "delete/", {}),
        "domain list": (member, "/t/acme/domains/", {}),
        "share page": (Client(), f"/share/{share.token}/", {}),
        "shared zone": (Client(), f"/share/{share.token}/records.zone", {}),
        "shared CSV": (Client(), f"/share/{share.token}/records.csv", {}),
        "admin domain list": (admin, "/admin/domains/domain/", {}),
        "admin domain": (admin, f"/admin/domains/domain/{domain.pk}/change/", {}),
        "admin key list": (admin, "/admin/domains/dkimkey/", {}),
    }
    for key in domain.dkim_keys.all():
        pages[f"admin key {key.selector}"] = (admin, f"/admin/domains/dkimkey/{key.pk}/change/", {})
    for where, (client, url, headers) in pages.items():
        response = client.get(url, headers=headers)
        assert response.status_code == 200, where
        assert_no_secret(response.content.decode(), secrets, where)
    # The public half is there, so the pages were the real ones.
    record = next(r for r in services.records_for(domain) if r.purpose == "DKIM")
    assert record.value in member.get(base + "records.zone").content.decode().replace('" "', "")
    for event in AuditEvent.objects.filter(target=domain.name):
        assert_no_secret(str(event.details), secrets, f"audit event {event.action}")


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_no_log_line_shows_the_private_key(dns_server, fresh_domain, team, owner, caplog, key_type: str) -> None:
    with caplog.at_level(logging.DEBUG):
        domain, secrets = create(team, owner, fresh_domain("leak"), key_type)
        # Published: the check signs a test message with each private key and verifies it against DNS.
        for record in services.records_for(domain):
            dns_server.publish(record.fqdn, record.rtype, record.value + ("." if record.rtype == "CNAME" else ""))
        assert domain_check(domain_id=domain.pk).status == "verified"
        # And a check that fails: no DNS server listens there.
        dead = Resolver(servers=[("127.0.0.1", free_port())], timeout=0.5)
        domain_check(domain_id=domain.pk, resolver=dead)
    assert caplog.records  # the capture saw the run
    assert_no_secret(caplog.text, secrets, "the log")
    for record in caplog.records:
        assert_no_secret(repr(record.args), secrets, "a log record's arguments")
