"""Credentials in the Django admin: read-only, never the secret's hash."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from mailsetup.admin import RaisesTeamVersions

from .models import Credential


@admin.register(Credential)
class CredentialAdmin(RaisesTeamVersions, admin.ModelAdmin):
    list_display = ("label", "username", "team", "status", "created_at", "last_used_at")
    list_filter = ("revoked_at", "all_domains")
    search_fields = ("label", "username", "team__name", "team__slug")
    # secret_hash is left out on purpose: the admin never shows it, not even hashed.
    fields = (
        "team",
        "label",
        "username",
        "secret_prefix",
        "all_domains",
        "domains",
        "expires_at",
        "allowed_ips",
        "created_by",
        "created_at",
        "rotated_at",
        "revoked_at",
        "last_used_at",
        "last_used_ip",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Credentials are issued from the team's pages, where the secret is shown once.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Credential | None = None) -> bool:
        return False
