"""The start-up check that MAILSETUP_ENCRYPTION_KEYS still open the stored DKIM keys (domains.E002)."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core import checks
from django.core.management import call_command
from django.test import override_settings

from domains import services
from domains.models import DkimKeyType
from domains.system_checks import check_stored_keys_decrypt

pytestmark = pytest.mark.django_db

KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def _add_domain(team, name: str = "example.com") -> None:  # noqa: ANN001
    services.domain_create(team=team, name=name, actor=None, dkim_key_type=DkimKeyType.RSA1024)


def test_a_valid_key_that_did_not_encrypt_the_stored_keys_is_an_error(team) -> None:
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[KEY_A]):
        _add_domain(team)
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[KEY_B]):
        errors = check_stored_keys_decrypt(databases=["default"])
    assert [error.id for error in errors] == ["domains.E002"]
    assert errors[0].msg == "MAILSETUP_ENCRYPTION_KEYS cannot decrypt the stored DKIM keys: was a key removed?"
    shown = errors[0].msg + errors[0].hint
    assert KEY_A not in shown and KEY_B not in shown


def test_it_runs_with_the_database_checks(team) -> None:
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[KEY_A]):
        _add_domain(team)
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[KEY_B]):
        ids = [error.id for error in checks.run_checks(tags=[checks.Tags.database], databases=["default"])]
        without_database = [error.id for error in checks.run_checks()]
    assert "domains.E002" in ids
    assert "domains.E002" not in without_database  # `manage.py check` on a machine with no database stays quiet


def test_the_newest_and_the_oldest_keys_are_tried(team) -> None:
    # A key rotation: the new key first, the old one kept until `reencrypt_keys` has run.
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[KEY_A]):
        _add_domain(team, "old.example")
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        _add_domain(team, "new.example")
        assert check_stored_keys_decrypt(databases=["default"]) == []
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[KEY_A]):  # the new key lost: the newest can't be opened
        assert [error.id for error in check_stored_keys_decrypt(databases=["default"])] == ["domains.E002"]
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[KEY_B]):  # the old key dropped before re-encrypting
        assert [error.id for error in check_stored_keys_decrypt(databases=["default"])] == ["domains.E002"]
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        call_command("reencrypt_keys", stdout=StringIO())
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[KEY_B]):  # after re-encrypting, the old key can go
        assert check_stored_keys_decrypt(databases=["default"]) == []


def test_the_right_key_a_rotation_or_no_keys_yet_pass(team) -> None:
    assert check_stored_keys_decrypt(databases=["default"]) == []  # nothing stored yet
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[KEY_A]):
        _add_domain(team)
        assert check_stored_keys_decrypt(databases=["default"]) == []
    with override_settings(MAILSETUP_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        assert check_stored_keys_decrypt(databases=["default"]) == []
    assert check_stored_keys_decrypt(databases=None) == []  # plain `manage.py check`: no database asked
