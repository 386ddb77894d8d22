"""Published test vectors, served from the test BIND9: RFC 8463's DKIM example and RFC 7208's processing limits."""

from __future__ import annotations

import base64
from pathlib import Path

import dkim
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from domains.checks import check_dkim
from domains.dns import Resolver, run_sync
from domains.records import ExpectedRecord
from domains.spf import PERMERROR, spf_evaluate

DATA = Path(__file__).parent / "data"
FOOTBALL = "football.example.com"
ED25519_RECORD = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
ED25519_SEED = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
RSA_RECORD = (DATA / "rfc8463_A2_test_rsa.txt").read_text().strip()


@pytest.fixture(scope="module")
def football(bind_server):  # noqa: ANN001, ANN201
    bind_server.publish(f"brisbane._domainkey.{FOOTBALL}", "TXT", ED25519_RECORD)
    bind_server.publish(f"test._domainkey.{FOOTBALL}", "TXT", RSA_RECORD)
    return bind_server


def dkim_expected(selector: str, value: str) -> ExpectedRecord:
    return ExpectedRecord(
        key=f"dkim:{selector}",
        purpose="DKIM",
        rtype="TXT",
        host=f"{selector}._domainkey",
        fqdn=f"{selector}._domainkey.{FOOTBALL}",
        value=value,
        required=True,
        why="",
    )


def test_the_rfc8463_ed25519_key_passes_our_check_with_the_signing_proof(football, dns_server) -> None:
    seed = ed25519.Ed25519PrivateKey.from_private_bytes(base64.b64decode(ED25519_SEED))
    pem = seed.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    result = run_sync(
        check_dkim(dkim_expected("brisbane", ED25519_RECORD), Resolver.from_settings(), domain=FOOTBALL, private_key_pem=pem)
    )

    assert result.status == "pass"
    assert result.message == "The published key matches, and a test message signed with it verifies (dkimpy)."


def test_the_rfc8463_rsa_record_passes_our_check(football, dns_server) -> None:
    result = run_sync(check_dkim(dkim_expected("test", RSA_RECORD), Resolver.from_settings(), domain=FOOTBALL))

    assert result.status == "pass"
    assert result.found == [RSA_RECORD]


@pytest.mark.parametrize("index", [0, 1], ids=["ed25519-brisbane", "rsa-test"])
def test_both_rfc8463_signatures_verify_through_our_resolver(football, dns_server, index) -> None:
    message = (DATA / "rfc8463_A3.eml").read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    dnsfunc = Resolver.from_settings().dkim_dnsfunc()

    assert dkim.DKIM(message).verify(idx=index, dnsfunc=dnsfunc) is True


def test_a_tampered_rfc8463_message_does_not_verify(football, dns_server) -> None:
    message = (DATA / "rfc8463_A3.eml").read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    tampered = message.replace(b"Are you hungry yet?", b"Are you hungry now?")

    assert dkim.verify(tampered, dnsfunc=Resolver.from_settings().dkim_dnsfunc()) is False
    assert dkim.verify(message, dnsfunc=Resolver.from_settings().dkim_dnsfunc()) is True


def processing_limits() -> dict:
    documents = list(yaml.safe_load_all((DATA / "rfc7208-tests.yml").read_text()))
    return next(doc for doc in documents if doc["description"] == "Processing limits")


def zone_records(zonedata: dict) -> list[tuple[str, str, str]]:
    """The suite's zonedata as (name, type, value); an SPF entry is published as TXT (the SPF type is obsolete)."""
    records = []
    for name, entries in zonedata.items():
        has_txt = any("TXT" in entry for entry in entries)
        for entry in entries:
            ((rtype, value),) = entry.items()
            if rtype == "SPF":
                if has_txt:
                    continue
                rtype = "TXT"
            if rtype == "MX":
                value = f"{value[0]} {value[1].rstrip('.')}."
            elif rtype == "PTR":
                value = value.rstrip(".") + "."
            records.append((name, rtype, value))
    return records


@pytest.fixture(scope="module")
def limits_zone(bind_server):  # noqa: ANN001, ANN201
    suite = processing_limits()
    bind_server.publish_many(zone_records(suite["zonedata"]))
    return suite


LIMIT_TESTS = list(processing_limits()["tests"].items())


@pytest.mark.parametrize(("name", "case"), LIMIT_TESTS, ids=[name for name, _ in LIMIT_TESTS])
def test_our_lookup_counter_agrees_with_the_rfc7208_processing_limits(limits_zone, dns_server, name, case) -> None:
    domain = case["mailfrom"].split("@", 1)[1]
    expected = case["result"] if isinstance(case["result"], list) else [case["result"]]

    evaluation = run_sync(spf_evaluate(domain, Resolver.from_settings().lookup, ip=case["host"]))

    assert evaluation.result in expected, f"{name}: {evaluation}"
    assert (evaluation.result == PERMERROR) == (PERMERROR in expected)
