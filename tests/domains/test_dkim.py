"""DKIM keys: records in the published format, and signatures that verify against them (dkimpy)."""

from __future__ import annotations

import base64
import re
from datetime import datetime

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from domains.dkim import (
    ED25519,
    RSA,
    dkim_record,
    dkimpy_private_key,
    generate_key,
    new_selector,
    public_key_from_private,
)

MESSAGE = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Subject: Hello from mailsetup\r\n"
    b"Date: Thu, 03 Dec 2026 12:00:00 +0000\r\n"
    b"Message-ID: <1@example.com>\r\n"
    b"\r\n"
    b"Hi Bob, this message is signed.\r\n"
)


def _dnsfunc(records: dict[str, str]):  # noqa: ANN202
    """A dkimpy resolver that answers from our records, as BIND would once they are published."""

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        value = records.get(name.decode().rstrip("."))
        return value.encode() if value is not None else None

    return lookup


@pytest.mark.parametrize(("bits", "algorithm"), [(2048, b"rsa-sha256"), (1024, b"rsa-sha256")])
def test_a_message_signed_with_an_rsa_key_verifies_against_its_record(bits: int, algorithm: bytes) -> None:
    key = generate_key(RSA, bits)
    signature = dkim.sign(MESSAGE, b"ms202612a", b"example.com", dkimpy_private_key(key.private_pem),
                          signature_algorithm=algorithm)
    record = dkim_record(RSA, key.public_key)
    assert dkim.verify(signature + MESSAGE, dnsfunc=_dnsfunc({"ms202612a._domainkey.example.com": record})) is True


def test_a_message_signed_with_an_ed25519_key_verifies_against_its_record() -> None:
    key = generate_key(ED25519)
    signature = dkim.sign(MESSAGE, b"ms202612e", b"example.com", dkimpy_private_key(key.private_pem),
                          signature_algorithm=b"ed25519-sha256")
    record = dkim_record(ED25519, key.public_key)
    assert b"a=ed25519-sha256" in signature
    assert dkim.verify(signature + MESSAGE, dnsfunc=_dnsfunc({"ms202612e._domainkey.example.com": record})) is True


def test_a_signature_does_not_verify_against_another_keys_record() -> None:
    key, other = generate_key(RSA, 1024), generate_key(RSA, 1024)
    signature = dkim.sign(MESSAGE, b"s1", b"example.com", dkimpy_private_key(key.private_pem))
    record = dkim_record(RSA, other.public_key)
    assert dkim.verify(signature + MESSAGE, dnsfunc=_dnsfunc({"s1._domainkey.example.com": record})) is False


def test_an_rsa_record_carries_the_subject_public_key_info() -> None:
    key = generate_key(RSA, 2048)
    record = dkim_record(RSA, key.public_key)
    assert re.fullmatch(r"v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*", record)
    loaded = serialization.load_der_public_key(base64.b64decode(key.public_key))
    assert loaded.key_size == 2048
    assert key.bits == 2048


def test_an_ed25519_record_carries_the_raw_32_byte_key() -> None:
    key = generate_key(ED25519)
    assert len(base64.b64decode(key.public_key)) == 32
    assert dkim_record(ED25519, key.public_key) == f"v=DKIM1; k=ed25519; p={key.public_key}"
    assert key.bits is None


def test_the_rfc_8463_seed_gives_the_rfc_8463_record() -> None:
    # RFC 8463 A.1 secret seed and the A.2 record it publishes for brisbane._domainkey.football.example.com.
    seed = base64.b64decode("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
    pem = ed25519.Ed25519PrivateKey.from_private_bytes(seed).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    algorithm, public = public_key_from_private(pem)
    assert dkim_record(algorithm, public) == "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="


def test_private_keys_are_pkcs8_pem_and_stay_out_of_repr() -> None:
    key = generate_key(RSA, 1024)
    assert key.private_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert "PRIVATE" not in repr(key)
    assert public_key_from_private(key.private_pem) == (RSA, key.public_key)


def test_selectors_say_when_and_what_and_are_valid_labels() -> None:
    now = datetime(2026, 12, 3)
    assert re.fullmatch(r"ms202612[a-z2-7]{4}a", new_selector(RSA, now=now))
    assert re.fullmatch(r"ms202612[a-z2-7]{4}e", new_selector(ED25519, now=now))
    assert len({new_selector(RSA, now=now) for _ in range(50)}) > 45  # random, not one per month


def test_a_taken_selector_is_drawn_again(monkeypatch) -> None:
    draws = iter(["aaaa", "aaaa", "bbbb"])
    monkeypatch.setattr("domains.dkim._random_part", lambda: next(draws))
    assert new_selector(RSA, now=datetime(2026, 12, 3), taken={"ms202612aaaaa"}) == "ms202612bbbba"


def test_it_refuses_unknown_algorithms_and_sizes() -> None:
    with pytest.raises(ValueError, match="dsa"):
        generate_key("dsa")
    with pytest.raises(ValueError, match="512"):
        generate_key(RSA, 512)
