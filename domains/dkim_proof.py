"""The end-to-end DKIM proof: sign a small message with the domain's private key, and have dkimpy (an independent
verifier) check it against the TXT record DNS returned.

Signing is done here with `cryptography` (OpenSSL), relaxed/relaxed, rsa-sha256 or ed25519-sha256 (RFC 6376,
RFC 8463): dkimpy's own pure-Python RSA signing costs ~6 ms a key, too slow for thousands of domains a minute.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

SIGNED_HEADERS = ("from", "to", "subject")
BODY = b"This message proves that the DKIM key published in DNS matches the private key mailsetup signs with.\r\n"
WSP = re.compile(rb"[ \t]+")


def relaxed_body(body: bytes) -> bytes:
    lines = [WSP.sub(b" ", line).rstrip(b" ") for line in body.split(b"\r\n")]
    while lines and lines[-1] == b"":
        lines.pop()
    return b"\r\n".join(lines) + b"\r\n" if lines else b""


def relaxed_header(name: bytes, value: bytes) -> bytes:
    value = WSP.sub(b" ", value.replace(b"\r\n", b"")).strip(b" ")
    return name.strip().lower() + b":" + value


def dkim_sign(
    message_headers: list[tuple[bytes, bytes]], body: bytes, *, domain: str, selector: str, private_key_pem: bytes
) -> bytes:
    """The DKIM-Signature header line (with CRLF) for these headers and body."""
    key = serialization.load_pem_private_key(private_key_pem, None, unsafe_skip_rsa_key_validation=True)
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm = "rsa-sha256"
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm = "ed25519-sha256"
    else:
        raise ValueError("unsupported DKIM key type")
    body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest()).decode()
    names = [name.lower() for name, _ in message_headers]
    fields = (
        f"v=1; a={algorithm}; c=relaxed/relaxed; d={domain}; s={selector}; t={int(time.time())}; "
        f"h={':'.join(name.decode() for name in names)}; bh={body_hash}; b="
    ).encode()
    signed = b"".join(relaxed_header(name, value) + b"\r\n" for name, value in message_headers)
    signed += relaxed_header(b"DKIM-Signature", b" " + fields)
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = key.sign(hashlib.sha256(signed).digest())  # RFC 8463 §3: Ed25519 over the SHA-256 hash
    return b"DKIM-Signature: " + fields + base64.b64encode(signature) + b"\r\n"


def dkim_proof(*, domain: str, selector: str, private_key_pem: bytes, txt_record: str) -> str | None:
    """None when dkimpy verifies a message signed with `private_key_pem` against `txt_record`, else why not."""
    headers = [
        (b"From", f"mailsetup DKIM check <dkim-check@{domain}>".encode()),
        (b"To", f"dkim-check@{domain}".encode()),
        (b"Subject", b"DKIM key check"),
    ]
    try:
        signature = dkim_sign(headers, BODY, domain=domain, selector=selector, private_key_pem=private_key_pem)
    except (ValueError, TypeError) as exc:
        return f"the stored private key cannot sign ({exc.__class__.__name__})"
    message = signature + b"".join(name + b": " + value + b"\r\n" for name, value in headers) + b"\r\n" + BODY
    key_name = f"{selector}._domainkey.{domain}".lower()

    # dkimpy asks for the key through this: it gets the record our resolver found at that very name.
    def dnsfunc(name: bytes | str, timeout: float = 5) -> bytes | None:
        text = (name.decode() if isinstance(name, bytes) else name).rstrip(".").lower()
        return txt_record.encode() if text == key_name else None

    try:
        verified = dkim.verify(message, dnsfunc=dnsfunc)
    except (dkim.DKIMException, ValueError, TypeError, KeyError, IndexError) as exc:
        # dkimpy turns most problems into False itself; a record it cannot parse at all can still raise.
        return f"dkimpy could not verify with the published key ({exc.__class__.__name__})"
    if not verified:
        return "a message signed with this domain's private key does not verify against the published key"
    return None
