"""Re-encrypt every DKIM private key under the first key of MAILSETUP_ENCRYPTION_KEYS (after a key rotation)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from domains.crypto import KeyDecryptionError, reencrypt_private_key
from domains.models import DkimKey


class Command(BaseCommand):
    help = "Re-encrypt all DKIM private keys under the first key in MAILSETUP_ENCRYPTION_KEYS."

    def handle(self, *args: object, **options: object) -> None:
        count = 0
        # All or nothing: a key that no configured secret opens stops the run before anything is written.
        with transaction.atomic():
            for key in DkimKey.objects.select_for_update().only("pk", "selector", "private_key_encrypted").iterator():
                try:
                    token = reencrypt_private_key(key.private_key_encrypted)
                except KeyDecryptionError as error:
                    raise CommandError(f"DKIM key {key.pk} ({key.selector}): {error}") from None
                DkimKey.objects.filter(pk=key.pk).update(private_key_encrypted=token)
                count += 1
        self.stdout.write(f"Re-encrypted {count} DKIM private key{'s' if count != 1 else ''} under the first key.")
