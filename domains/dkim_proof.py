"""The end-to-end DKIM proof: sign a small message with the domain's private key, and have dkimpy (an independent
verifier) check it, fetching the public key from DNS through our resolver.

Signing is done here with `cryptography` (OpenSSL), relaxed/relaxed, rsa-sha256 or ed25519-sha256 (RFC 6376,
RFC 8463): dkimpy's own pure-Python RSA signing costs ~6 ms a key, too slow for thousands of domains a minute.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Awaitable, Callable

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

KeyFetcher = Callable[[bytes], Awaitable[bytes | None]]
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


async def dkim_verify(message: bytes, fetch_key: KeyFetcher) -> bool:
    """dkimpy's verification of the first DKIM-Signature, with the key fetched by an awaitable.

    The same steps as dkim.asyncsupport.DKIM.verify, which we cannot import: that module needs aiodns, and we
    resolve with our own resolver. Raises dkim.DKIMException as dkimpy does.
    """
    verifier = dkim.DKIM(message, minkey=1024)
    prepared = verifier.verify_headerprep(0)
    if not prepared:
        return False
    sig, include_headers, sig_headers = prepared
    name = sig[b"s"] + b"._domainkey." + sig[b"d"] + b"."
    record = await fetch_key(name)
    verifier.pk, verifier.keysize, verifier.ktag, verifier.seqtlsrpt = dkim.evaluate_pk(name, record)
    return verifier.verify_sig_process(sig, include_headers, sig_headers[0], None)


async def dkim_proof(*, domain: str, selector: str, private_key_pem: bytes, fetch_key: KeyFetcher) -> str | None:
    """None when dkimpy verifies a message signed with `private_key_pem`, the public key fetched from DNS by
    `fetch_key(name) -> TXT bytes or None`; else why not."""
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
    try:
        verified = await dkim_verify(message, fetch_key)
    except (dkim.DKIMException, ValueError, TypeError, KeyError, IndexError) as exc:
        # A record dkimpy cannot parse (a bad key, an unknown k=) raises; say which kind of problem, not the key.
        return f"dkimpy could not verify with the published key ({exc.__class__.__name__})"
    if not verified:
        return "a message signed with this domain's private key does not verify against the published key"
    return None
