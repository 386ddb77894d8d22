"""The team audit log: one function every service calls after it changes something."""

from __future__ import annotations

from typing import Any

from .models import AuditEvent, Team, User


def audit(*, team: Team, actor: User | None, action: str, target: str = "", **details: Any) -> AuditEvent:
    """Record who did what. `details` must never hold a secret: it is shown to the team's admins."""
    return AuditEvent.objects.create(
        team=team,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        target=target,
        details=details,
    )
