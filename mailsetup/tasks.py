"""Background jobs of the accounts app."""

from celery import shared_task

from . import services


@shared_task
def prune_invitations() -> int:
    """Daily: forget invitations that expired (or were revoked) more than 30 days ago. Safe to run twice."""
    return services.invitations_prune()
