"""DKIM private keys at rest: Fernet tokens under settings.MAILSETUP_ENCRYPTION_KEYS.

The first key encrypts; every key decrypts (MultiFernet), so an operator rotates by putting a new key first,
running `manage.py reencrypt_keys`, then dropping the old key.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class KeyDecryptionError(Exception):
    """A stored private key could not be decrypted with any configured key."""


def parse_keys(keys: list[str] | tuple[str, ...] | str) -> list[Fernet]:
    """Fernet objects for the configured keys, or ImproperlyConfigured naming which one is wrong (never its value)."""
    if isinstance(keys, str):
        keys = [k.strip() for k in keys.split(",") if k.strip()]
    if not keys:
        raise ImproperlyConfigured(
            "MAILSETUP_ENCRYPTION_KEYS is empty: set at least one Fernet key "
            '(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())").'
        )
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"MAILSETUP_ENCRYPTION_KEYS: key number {position} is not a Fernet key "
                "(it must be 32 bytes in URL-safe base64, 44 characters)."
            ) from None
    return fernets


def _multi() -> MultiFernet:
    return MultiFernet(parse_keys(settings.MAILSETUP_ENCRYPTION_KEYS))


def encrypt_private_key(pem: bytes) -> bytes:
    """A Fernet token for the PEM, under the first configured key."""
    return _multi().encrypt(pem)


def decrypt_private_key(token: bytes) -> bytes:
    """The PEM back, or KeyDecryptionError when no configured key opens the token."""
    try:
        return _multi().decrypt(bytes(token))
    except InvalidToken:
        raise KeyDecryptionError(
            "A DKIM private key could not be decrypted with any key in MAILSETUP_ENCRYPTION_KEYS: "
            "the key that encrypted it is missing from the setting (or the stored value is damaged)."
        ) from None


def reencrypt_private_key(token: bytes) -> bytes:
    """The same secret under the first configured key (MultiFernet.rotate)."""
    try:
        return _multi().rotate(bytes(token))
    except InvalidToken:
        raise KeyDecryptionError(
            "A DKIM private key could not be re-encrypted: no key in MAILSETUP_ENCRYPTION_KEYS opens it."
        ) from None
