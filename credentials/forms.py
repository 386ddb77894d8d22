"""The form to issue an SMTP credential: label, scope, expiry, IP allow-list. Services trust what it cleans."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from domains.models import Domain
from mailsetup.models import Team

from .models import Credential

MAX_ALLOWED_IPS = 100
MAX_EXPIRY_DAYS = 3653


def parse_ip_list(text: str) -> list[str]:
    """Addresses and CIDR ranges, one per line or comma-separated, normalised ("10.0.0.0/8", "2001:db8::/32").

    Raises ValidationError naming every entry that is not an address or a range."""
    entries = [item.strip() for item in re.split(r"[\s,;]+", text or "") if item.strip()]
    result: list[str] = []
    bad: list[str] = []
    for entry in entries:
        try:
            value = ipaddress.ip_network(entry, strict=False) if "/" in entry else ipaddress.ip_address(entry)
        except ValueError:
            bad.append(entry)
            continue
        normalised = str(value)
        if normalised not in result:
            result.append(normalised)
    if bad:
        shown = ", ".join(f"“{b[:60]}”" for b in bad[:5])
        raise forms.ValidationError(
            f"Not an IP address or CIDR range: {shown}. Write one per line, like 203.0.113.7 or 198.51.100.0/24."
        )
    if len(result) > MAX_ALLOWED_IPS:
        raise forms.ValidationError(f"At most {MAX_ALLOWED_IPS} entries; use CIDR ranges to group addresses.")
    return result


def expiry_day(expires_at: datetime) -> date:
    """The day shown in the form for an expiry stored as the end of that day (midnight after it, UTC)."""
    return (expires_at.astimezone(UTC) - timedelta(microseconds=1)).date()


def initial_for(credential: Credential) -> dict[str, Any]:
    return {
        "label": credential.label,
        "scope": CredentialForm.SCOPE_ALL if credential.all_domains else CredentialForm.SCOPE_CHOSEN,
        "domains": list(credential.domains.all()),
        "expires_on": expiry_day(credential.expires_at) if credential.expires_at else None,
        "allowed_ips": "\n".join(credential.allowed_ips),
    }


class CredentialForm(forms.Form):
    SCOPE_ALL = "all"
    SCOPE_CHOSEN = "chosen"

    label = forms.CharField(
        max_length=100,
        help_text="What will send with it, so you can tell credentials apart later: “Payroll system”, “WordPress site”.",
        widget=forms.TextInput(attrs={"placeholder": "Payroll system", "autofocus": True}),
    )
    scope = forms.ChoiceField(
        label="May send from",
        choices=[
            (SCOPE_ALL, "All of the team's verified domains, including ones verified later"),
            (SCOPE_CHOSEN, "Only the domains I choose"),
        ],
        initial=SCOPE_ALL,
        widget=forms.RadioSelect,
    )
    domains = forms.ModelMultipleChoiceField(
        queryset=Domain.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Used when you choose “Only the domains I choose”. Subdomains are not included unless added as domains.",
    )
    expires_on = forms.DateField(
        label="Expires on (optional)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The credential stops working at the end of this day (UTC). Leave empty for no expiry.",
    )
    allowed_ips = forms.CharField(
        label="Allowed IP addresses (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "203.0.113.7\n198.51.100.0/24"}),
        help_text="Addresses and CIDR ranges, one per line or comma-separated. Leave empty to allow any address.",
    )

    def __init__(self, *args: Any, team: Team, credential: Credential | None = None, **kwargs: Any) -> None:
        if credential is not None:
            kwargs.setdefault("initial", initial_for(credential))
        super().__init__(*args, **kwargs)
        self.fields["domains"].queryset = Domain.objects.for_team(team).verified().order_by("name")
        # An expiry already in the past stays allowed when editing (it is what the credential has).
        self._current_expiry = credential.expires_at if credential is not None else None

    def clean_label(self) -> str:
        label = " ".join(self.cleaned_data["label"].split())  # no newlines or runs of spaces
        if not label:
            raise forms.ValidationError("Give the credential a name.")
        return label

    def clean_expires_on(self) -> Any:
        expires_on = self.cleaned_data.get("expires_on")
        unchanged = self._current_expiry is not None and expires_on == expiry_day(self._current_expiry)
        if expires_on is not None and expires_on < timezone.now().date() and not unchanged:
            raise forms.ValidationError("This date has passed. Choose today or a later day, or leave it empty.")
        if expires_on is not None and expires_on > timezone.now().date() + timedelta(days=MAX_EXPIRY_DAYS):
            raise forms.ValidationError("Choose a day within the next ten years, or leave it empty for no expiry.")
        return expires_on

    def clean_allowed_ips(self) -> list[str]:
        return parse_ip_list(self.cleaned_data.get("allowed_ips", ""))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("scope") == self.SCOPE_CHOSEN and not cleaned.get("domains"):
            self.add_error("domains", "Choose at least one domain, or let it send from all verified domains.")
        return cleaned

    @property
    def expires_at(self) -> datetime | None:
        """The end of the chosen day, UTC."""
        expires_on = self.cleaned_data.get("expires_on")
        if expires_on is None:
            return None
        return datetime.combine(expires_on + timedelta(days=1), time.min, tzinfo=UTC)
