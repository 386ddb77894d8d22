"""Background work for domains. A placeholder until the verification helper's tasks land here."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def check_domain(domain_id: int) -> None:
    """Check one domain's records now. Does nothing yet: the DNS checks replace this body."""
