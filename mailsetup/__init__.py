"""mailsetup: the project package and the accounts app (teams, members, invitations, audit log)."""

from .celery import app as celery_app

__all__ = ["celery_app"]
