"""DKIM keys: generation, selectors and the public TXT record. Pure: knows nothing of Django.

RSA records carry the base64 SubjectPublicKeyInfo (RFC 6376 3.6.1); Ed25519 records carry the raw 32-byte
public key (RFC 8463 4.2). Private keys leave here as PKCS#8 PEM, and go straight into domains.crypto.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

RSA = "rsa"
ED25519 = "ed25519"
RSA_BITS = (1024, 2048)


@dataclass(frozen=True)
class GeneratedKey:
    algorithm: str  # "rsa" or "ed25519"
    bits: int | None  # RSA only
    public_key: str  # base64, the p= value
    # Kept out of repr so that a stray log line or traceback never prints it.
    private_pem: bytes = field(repr=False)


def generate_key(algorithm: str, bits: int | None = None) -> GeneratedKey:
    """A fresh key pair: RSA (1024 or 2048 bits, e=65537) or Ed25519."""
    if algorithm == RSA:
        bits = bits or 2048
        if bits not in RSA_BITS:
            raise ValueError(f"RSA keys are {RSA_BITS} bits, not {bits}")
        private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        spki = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        public = base64.b64encode(spki).decode("ascii")
    elif algorithm == ED25519:
        bits = None
        private = ed25519.Ed25519PrivateKey.generate()
        raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        public = base64.b64encode(raw).decode("ascii")
    else:
        raise ValueError(f"unknown DKIM algorithm {algorithm!r}")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return GeneratedKey(algorithm=algorithm, bits=bits, public_key=public, private_pem=pem)


def public_key_from_private(pem: bytes) -> tuple[str, str]:
    """(algorithm, base64 p= value) of a PKCS#8 private key: lets a stored key be checked against its record."""
    private = serialization.load_pem_private_key(pem, password=None)
    if isinstance(private, rsa.RSAPrivateKey):
        spki = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return RSA, base64.b64encode(spki).decode("ascii")
    if isinstance(private, ed25519.Ed25519PrivateKey):
        raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return ED25519, base64.b64encode(raw).decode("ascii")
    raise ValueError("not an RSA or Ed25519 private key")


def dkimpy_private_key(pem: bytes) -> bytes:
    """The private key in the form dkimpy's dkim.sign() takes: PEM for RSA, the base64 32-byte seed for Ed25519."""
    private = serialization.load_pem_private_key(pem, password=None)
    if isinstance(private, ed25519.Ed25519PrivateKey):
        seed = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        return base64.b64encode(seed)
    return pem


def dkim_record(algorithm: str, public_key: str) -> str:
    """The TXT value to publish at <selector>._domainkey.<domain>, as one unsplit string."""
    if algorithm not in (RSA, ED25519):
        raise ValueError(f"unknown DKIM algorithm {algorithm!r}")
    return f"v=DKIM1; k={algorithm}; p={public_key}"


# RFC 4648 base32 in lowercase: letters and digits only, so every selector is a plain DNS label.
SELECTOR_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
SELECTOR_RANDOM_CHARS = 4


def _random_part() -> str:
    return "".join(secrets.choice(SELECTOR_ALPHABET) for _ in range(SELECTOR_RANDOM_CHARS))


def new_selector(algorithm: str, *, now: datetime, taken: Iterable[str] = ()) -> str:
    """A selector that says when, then four random characters, then what: "ms202612" + e.g. "k7qz" + "a" (RSA)
    or "e" (Ed25519), drawn again while `taken`.

    The random part keeps selectors apart across teams and installations: two teams adding the same domain in the
    same month would otherwise publish at the same DNS name and overwrite each other's key (now 1 in ~10^6).
    Always a valid DNS label: lowercase letters and digits, 13 octets.
    """
    taken = set(taken)
    while True:
        selector = f"ms{now:%Y%m}{_random_part()}{'e' if algorithm == ED25519 else 'a'}"
        if selector not in taken:
            return selector
