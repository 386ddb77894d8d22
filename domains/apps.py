"""Domains app."""

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, Tags, register


class DomainsConfig(AppConfig):
    name = "domains"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Fail at start-up, not when the first domain is added: a bad key would otherwise store garbage or crash later.
        from .crypto import parse_keys
        from .system_checks import check_stored_keys_decrypt

        parse_keys(settings.MAILSETUP_ENCRYPTION_KEYS)
        register(check_encryption_keys)
        # Well-formed is not enough: the keys must also open what is stored (needs the database, so tagged).
        register(check_stored_keys_decrypt, Tags.database)


def check_encryption_keys(app_configs: object = None, **kwargs: object) -> list[Error]:
    """`manage.py check` reports a bad MAILSETUP_ENCRYPTION_KEYS too (ready() already refuses to start)."""
    from django.core.exceptions import ImproperlyConfigured

    from .crypto import parse_keys

    try:
        parse_keys(settings.MAILSETUP_ENCRYPTION_KEYS)
    except ImproperlyConfigured as error:
        return [Error(str(error), id="domains.E001")]
    return []
