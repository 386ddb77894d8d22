"""System checks of the domains app that need the database.

Registered in DomainsConfig.ready() with the `database` tag: they run under `manage.py check --database default`
and before `manage.py migrate` (deploy/release.sh migrates before the web processes start), not on every `check`
of a machine with no database.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.checks import Error
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections


def check_stored_keys_decrypt(
    app_configs: object = None, databases: Iterable[str] | None = None, **kwargs: object
) -> list[Error]:
    """The configured keys open the newest and the oldest stored DKIM key: a valid key that is not the one in use
    (another installation's key), or an old key dropped before `reencrypt_keys` re-encrypted the oldest ones, is
    refused now, not when a worker first needs a private key. Two rows, whatever the number of domains."""
    from .crypto import KeyDecryptionError, decrypt_private_key
    from .models import DkimKey

    errors = []
    for alias in databases or ():
        connection = connections[alias]
        try:
            if DkimKey._meta.db_table not in connection.introspection.table_names():
                continue  # before the first migrate
            # Only the one column: a migration still to run may add others.
            stored = DkimKey.objects.using(alias).values_list("private_key_encrypted", flat=True)
            tokens = [stored.order_by("-created_at", "-pk").first(), stored.order_by("created_at", "pk").first()]
        except DatabaseError:
            continue  # no database to ask; other checks and migrate report that
        if tokens[0] is None:
            continue
        try:
            for token in tokens:
                decrypt_private_key(bytes(token))
        except KeyDecryptionError:
            errors.append(
                Error(
                    "MAILSETUP_ENCRYPTION_KEYS cannot decrypt the stored DKIM keys: was a key removed?",
                    hint="Put back the key that encrypted them (any position in the list decrypts); "
                    "to change keys, add the new one first, run `manage.py reencrypt_keys`, then drop the old one.",
                    id="domains.E002",
                )
            )
        except ImproperlyConfigured:
            pass  # a malformed key is domains.E001's to report
    return errors
