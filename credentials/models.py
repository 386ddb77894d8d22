"""SMTP credentials: scoped to a team and its verified domains, secret stored only as a keyed hash."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from domains.models import Domain
from mailsetup.models import Team


class CredentialQuerySet(models.QuerySet["Credential"]):
    def for_team(self, team: Team) -> CredentialQuerySet:
        return self.filter(team=team)

    def active(self) -> CredentialQuerySet:
        now = timezone.now()
        return self.filter(revoked_at=None).filter(models.Q(expires_at=None) | models.Q(expires_at__gt=now))


class Credential(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="credentials")
    label = models.CharField(max_length=100)
    username = models.CharField(max_length=80, unique=True)
    # First characters of the secret, for lookup and display ("ms_abcd…"); never enough to guess the rest.
    secret_prefix = models.CharField(max_length=16, db_index=True)
    # HMAC-SHA256(server key, secret), hex.
    secret_hash = models.CharField(max_length=64)
    all_domains = models.BooleanField(default=True)
    domains = models.ManyToManyField(Domain, blank=True, related_name="credentials")
    expires_at = models.DateTimeField(null=True, blank=True)
    allowed_ips = models.JSONField(default=list, blank=True)  # ["192.0.2.1", "2001:db8::/32"]
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    objects = CredentialQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        # The list page: a team's credentials in this order, a page at a time.
        indexes = [models.Index(fields=["team", "-created_at", "-id"], name="credential_team_newest")]

    def __str__(self) -> str:
        return f"{self.label} ({self.username})"

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    @property
    def is_active(self) -> bool:
        return self.status == "active"
