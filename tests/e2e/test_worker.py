"""A real Celery worker process (not eager mode) runs the accounts app's daily job."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from mailsetup.models import Invitation, Team
from mailsetup.tasks import prune_invitations

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


def test_the_worker_prunes_long_expired_invitations(celery_worker_process) -> None:  # noqa: ANN001
    team = Team.objects.create(name="Worker Team", slug="worker-team")
    long_ago = timezone.now() - timedelta(days=40)
    old = Invitation.objects.create(team=team, email="old@example.test", token_hash="1" * 64, expires_at=long_ago)
    fresh = Invitation.objects.create(team=team, email="fresh@example.test", token_hash="2" * 64)

    prune_invitations.delay()

    deadline = time.monotonic() + 30
    while Invitation.objects.filter(pk=old.pk).exists():
        assert celery_worker_process.poll() is None, "the worker process died"
        assert time.monotonic() < deadline, "the worker did not prune the expired invitation within 30 s"
        time.sleep(0.25)
    assert Invitation.objects.filter(pk=fresh.pk).exists()
