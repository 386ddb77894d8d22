"""Sending domains, their DKIM keys, the per-record check state with history, and read-only share links."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from mailsetup.models import Team


class DomainStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    VERIFIED = "verified", "Verified"
    DEGRADED = "degraded", "Degraded"
    FAILED = "failed", "Failed"


class DkimKeyType(models.TextChoices):
    RSA2048 = "rsa2048", "RSA 2048-bit (recommended)"
    RSA1024 = "rsa1024", "RSA 1024-bit (for DNS hosts that cannot take long TXT records)"
    RSA2048_ED25519 = "rsa2048+ed25519", "RSA 2048-bit and Ed25519 (dual signing, RFC 8463)"


class DomainQuerySet(models.QuerySet["Domain"]):
    def for_team(self, team: Team) -> DomainQuerySet:
        return self.filter(team=team)

    def verified(self) -> DomainQuerySet:
        # A degraded domain stays usable for sending during its grace period.
        return self.filter(status__in=[DomainStatus.VERIFIED, DomainStatus.DEGRADED])

    def due(self, now: timezone.datetime | None = None) -> DomainQuerySet:
        return self.filter(next_check_at__lte=now or timezone.now())


class Domain(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="domains")
    name = models.CharField(max_length=253)  # A-label, lowercase, no trailing dot
    unicode_name = models.CharField(max_length=253, blank=True)  # U-label form, for people
    status = models.CharField(max_length=10, choices=DomainStatus.choices, default=DomainStatus.PENDING)
    status_changed_at = models.DateTimeField(default=timezone.now)
    dkim_key_type = models.CharField(max_length=20, choices=DkimKeyType.choices, default=DkimKeyType.RSA2048)
    return_path_label = models.CharField(max_length=63, default="bounces")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    # The schedule lives here: the beat task claims domains whose next_check_at is due.
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    check_now_requested_at = models.DateTimeField(null=True, blank=True)
    # When beat last claimed this domain for a check (the claim also moves next_check_at a lease ahead).
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Start of the current unsuccessful stretch (pending or degraded); failed after 72 h of it.
    trouble_since = models.DateTimeField(null=True, blank=True)

    objects = DomainQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="one_domain_name_per_team")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_verified(self) -> bool:
        return self.status in (DomainStatus.VERIFIED, DomainStatus.DEGRADED)

    @property
    def display_name(self) -> str:
        if self.unicode_name and self.unicode_name != self.name:
            return f"{self.unicode_name} ({self.name})"
        return self.name


class DkimAlgorithm(models.TextChoices):
    RSA = "rsa", "RSA"
    ED25519 = "ed25519", "Ed25519"


class DkimKeyState(models.TextChoices):
    # Rotation through two selectors (domains.services.dkim_rotation_start): a new key is published first ("next"),
    # signs once DNS shows it ("active"), and the old one stays published a while for mail already sent.
    NEXT = "next", "Next (published, not signing yet)"
    ACTIVE = "active", "Active (signing)"
    RETIRING = "retiring", "Retiring (still published)"
    RETIRED = "retired", "Retired"


class DkimKeyQuerySet(models.QuerySet["DkimKey"]):
    def signing(self) -> DkimKeyQuerySet:
        return self.filter(state=DkimKeyState.ACTIVE)

    def published(self) -> DkimKeyQuerySet:
        """The keys whose records are expected in DNS: next, active and retiring."""
        return self.exclude(state=DkimKeyState.RETIRED)


class DkimKey(models.Model):
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="dkim_keys")
    selector = models.CharField(max_length=63)
    algorithm = models.CharField(max_length=10, choices=DkimAlgorithm.choices)
    bits = models.PositiveSmallIntegerField(null=True, blank=True)  # RSA only
    public_key = models.TextField()  # base64, the p= value of the record
    # Fernet token under MAILSETUP_ENCRYPTION_KEYS; see domains/crypto.py. Never the plaintext.
    private_key_encrypted = models.BinaryField()
    state = models.CharField(max_length=10, choices=DkimKeyState.choices, default=DkimKeyState.ACTIVE)
    # Set when the key starts retiring: its record may be removed (and the key retired) after this.
    retire_after = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DkimKeyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["domain", "selector"], name="one_selector_per_domain")]

    def __str__(self) -> str:
        return f"{self.selector}._domainkey.{self.domain_id}"

    @property
    def is_signing(self) -> bool:
        return self.state == DkimKeyState.ACTIVE


class CheckStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PASS = "pass", "Pass"
    MISSING = "missing", "Missing"
    MISMATCH = "mismatch", "Mismatch"
    ERROR = "error", "Error"


class RecordCheck(models.Model):
    """The latest state of one expected record of a domain (keyed as in domains.records)."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="record_checks")
    key = models.CharField(max_length=80)  # ExpectedRecord.key, e.g. "dkim:ms1", "spf", "dmarc"
    status = models.CharField(max_length=10, choices=CheckStatus.choices, default=CheckStatus.PENDING)
    found = models.JSONField(default=list, blank=True)  # what DNS returned
    message = models.TextField(blank=True)
    server = models.CharField(max_length=64, blank=True)  # which DNS server answered
    checked_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["domain", "key"], name="one_check_per_record")]

    def __str__(self) -> str:
        return f"{self.domain_id}:{self.key}={self.status}"


class RecordHistory(models.Model):
    """One row per change of a record's status (not per check)."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="record_history")
    key = models.CharField(max_length=80)
    status = models.CharField(max_length=10, choices=CheckStatus.choices)
    found = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["domain", "-at"])]


def share_link_expiry() -> timezone.datetime:
    return timezone.now() + timedelta(days=7)


class ShareLink(models.Model):
    """A read-only, expiring link to one domain's records for a DNS admin without an account."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="share_links")
    token_hash = models.CharField(max_length=64, unique=True)  # SHA-256 of the token in the URL
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=share_link_expiry)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
