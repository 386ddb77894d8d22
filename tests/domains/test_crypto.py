"""DKIM private keys at rest: encrypted, rotatable, refused clearly when the keys are wrong, never in a dump."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import override_settings

from domains import services
from domains.apps import check_encryption_keys
from domains.crypto import KeyDecryptionError, decrypt_private_key, encrypt_private_key, parse_keys
from domains.models import DkimKey, DkimKeyType

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PEM = (
    b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREmcVpezJpGXA7rAMcrn9g\n"
    b"-----END PRIVATE KEY-----\n"
)
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_a_private_key_round_trips_and_is_not_stored_in_clear() -> None:
    token = encrypt_private_key(PEM)
    assert b"PRIVATE KEY" not in token
    assert decrypt_private_key(token) == PEM


def test_a_token_from_another_key_gives_a_clear_error() -> None:
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[OLD]):
        token = encrypt_private_key(PEM)
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[NEW]), pytest.raises(KeyDecryptionError, match="MAILSETUP_ENCRYPTION_KEYS"):
        decrypt_private_key(token)


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[OLD]):
        old_token = encrypt_private_key(PEM)
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[NEW, OLD]):
        assert decrypt_private_key(old_token) == PEM
        new_token = encrypt_private_key(PEM)
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[NEW]):
        assert decrypt_private_key(new_token) == PEM


def test_reencrypt_keys_moves_every_key_under_the_first(team, teammate) -> None:
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[OLD]):
        domain = services.domain_create(team=team, name="example.com", actor=teammate,
                                        dkim_key_type=DkimKeyType.RSA2048_ED25519)
        pems = {k.selector: decrypt_private_key(k.private_key_encrypted) for k in domain.dkim_keys.all()}
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[NEW, OLD]):
        out = _call("reencrypt_keys")
    assert "Re-encrypted 2 DKIM private keys" in out
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[NEW]):
        assert {k.selector: decrypt_private_key(k.private_key_encrypted) for k in DkimKey.objects.all()} == pems


def test_reencrypt_keys_stops_without_writing_when_a_key_cannot_be_opened(team, teammate) -> None:
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[OLD]):
        services.domain_create(team=team, name="example.com", actor=teammate, dkim_key_type=DkimKeyType.RSA1024)
    before = bytes(DkimKey.objects.get().private_key_encrypted)
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[NEW]), pytest.raises(CommandError, match="no key in MAILSETUP"):
        _call("reencrypt_keys")
    assert bytes(DkimKey.objects.get().private_key_encrypted) == before


def _call(*args: str) -> str:
    import io

    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("keys", [[], ["not-a-key"], [Fernet.generate_key().decode(), "short"], ["A" * 44 + "="]])
def test_malformed_keys_are_improperly_configured(keys: list[str]) -> None:
    with pytest.raises(ImproperlyConfigured, match="MAILSETUP_ENCRYPTION_KEYS"):
        parse_keys(keys)
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=keys):
        (error,) = check_encryption_keys()
    assert error.id == "domains.E001"


def test_the_development_key_is_a_valid_fernet_key() -> None:
    from django.conf import settings

    assert len(parse_keys([settings.DEV_ENCRYPTION_KEY])) == 1
    assert check_encryption_keys() == []


def test_the_app_refuses_to_start_with_a_malformed_key_and_does_not_echo_it() -> None:
    env = {**os.environ, "MAILSETUP_ENCRYPTION_KEYS": "hunter2-not-a-fernet-key", "DEBUG": "true"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "key number 1 is not a Fernet key" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_a_database_dump_reveals_no_private_key(team, teammate) -> None:
    domain = services.domain_create(team=team, name="example.com", actor=teammate,
                                    dkim_key_type=DkimKeyType.RSA2048_ED25519)
    dump = _call("dumpdata", "--format=json")
    assert f'"selector": "{domain.dkim_keys.first().selector}"' in dump  # the keys are in the dump...
    assert "PRIVATE KEY" not in dump  # ...but only encrypted
    for key in domain.dkim_keys.all():
        body = b"".join(decrypt_private_key(key.private_key_encrypted).splitlines()[1:-1]).decode()
        assert body[:40] not in dump
