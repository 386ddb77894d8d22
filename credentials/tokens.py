"""SMTP usernames and secrets: how they are made, hashed and compared.

A secret is random (about 190 bits), so it needs no slow password hash: a keyed HMAC-SHA256 is enough to make a
database dump useless without the server key, and it keeps authentication cheap enough for every SMTP login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import string

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

SECRET_PREFIX = "mss_"
SECRET_RANDOM_LENGTH = 32  # 32 characters from 62: about 190 bits
# Letters and digits only: the secret needs no quoting in any config file, shell or URL.
SECRET_ALPHABET = string.ascii_letters + string.digits
USERNAME_ALPHABET = string.ascii_lowercase + string.digits
USERNAME_RANDOM_LENGTH = 8
# What the list shows to tell secrets apart ("mss_AbCd…"): four random characters, about 24 of the 190 bits.
DISPLAY_PREFIX_LENGTH = len(SECRET_PREFIX) + 4
SECRET_RE = re.compile(rf"^{SECRET_PREFIX}[A-Za-z0-9]{{{SECRET_RANDOM_LENGTH}}}$")

_key_cache: dict[tuple[str, str], bytes] = {}


def server_key() -> bytes:
    """The HMAC key: MAILSETUP_CREDENTIAL_KEY, or one derived from SECRET_KEY when that is empty."""
    configured, secret_key = settings.MAILSETUP_CREDENTIAL_KEY, settings.SECRET_KEY
    cache_key = (configured, secret_key)
    key = _key_cache.get(cache_key)
    if key is None:
        if configured:
            key = configured.encode()
        else:
            # A separate key per purpose, so an HMAC of ours never equals a signature Django makes with SECRET_KEY.
            key = hmac.new(secret_key.encode(), b"mailsetup.credentials.secret-hash.v1", hashlib.sha256).digest()
        _key_cache.clear()
        _key_cache[cache_key] = key
    return key


def generate_secret() -> str:
    return SECRET_PREFIX + "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_RANDOM_LENGTH))


def display_prefix(secret: str) -> str:
    return secret[:DISPLAY_PREFIX_LENGTH]


def generate_username(team_slug: str) -> str:
    """`<team-slug-ish>-<8 random characters>`: readable, and no team can guess another's."""
    base = re.sub(r"[^a-z0-9]+", "-", team_slug.lower()).strip("-")[:24].rstrip("-") or "ms"
    random_part = "".join(secrets.choice(USERNAME_ALPHABET) for _ in range(USERNAME_RANDOM_LENGTH))
    return f"{base}-{random_part}"


def secret_hash(secret: str, key: bytes | None = None) -> str:
    return hmac.new(key or server_key(), secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def secret_matches(secret: str, stored_hash: str, key: bytes | None = None) -> bool:
    return hmac.compare_digest(secret_hash(secret, key), stored_hash)


# The one-time reveal: between issuing (or rotating) and showing, the secret waits in the user's session,
# encrypted with a key derived from SECRET_KEY, so the session table never holds it in the clear.
REVEAL_TTL_SECONDS = 15 * 60


def _reveal_fernet() -> Fernet:
    derived = hmac.new(settings.SECRET_KEY.encode(), b"mailsetup.credentials.reveal.v1", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def seal_for_reveal(secret: str) -> str:
    return _reveal_fernet().encrypt(secret.encode()).decode("ascii")


def unseal_for_reveal(token: str) -> str | None:
    try:
        return _reveal_fernet().decrypt(token.encode("ascii"), ttl=REVEAL_TTL_SECONDS).decode()
    except (InvalidToken, ValueError):
        return None
