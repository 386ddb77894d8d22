"""Background work for domains: thin tasks taking IDs; the work is in domains.verification."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def check_domain(domain_id: int) -> None:
    """Check one domain's records now. Harmless to run twice: the outcome is recorded, not accumulated."""
    from .verification import domain_check

    domain_check(domain_id=domain_id)


@shared_task(acks_late=True)
def enqueue_due_checks() -> int:
    """Run by beat every few seconds: claim the domains whose next check is due and queue one task each."""
    from .verification import domains_enqueue_due

    return domains_enqueue_due()
