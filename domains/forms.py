"""Forms for adding and deleting domains and for share links. Validation lives here; services trust it."""

from __future__ import annotations

import re

from django import forms

from mailsetup.models import Team

from .models import DkimKeyType, Domain
from .names import DomainNameError, normalize_domain

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class DomainCreateForm(forms.Form):
    name = forms.CharField(
        label="Domain name",
        max_length=2000,
        help_text="The domain you send from, like example.com or mail.example.com. Internationalised names are fine.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "example.com",
                                      "autocapitalize": "none"}),
        error_messages={"required": "Enter a domain name.", "max_length": "That is far too long for a domain name."},
    )
    dkim_key_type = forms.ChoiceField(
        label="DKIM key",
        choices=DkimKeyType.choices,
        initial=DkimKeyType.RSA2048,
        help_text="RSA 2048-bit suits almost every DNS host.",
    )
    return_path_label = forms.CharField(
        label="Return-path name",
        initial="bounces",
        max_length=200,
        help_text="The name under your domain that bounces come back to, as a CNAME to us. Default: bounces.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}),
        error_messages={"required": "Enter a name, like bounces.", "max_length": "Use at most 63 characters."},
    )

    def __init__(self, *args: object, team: Team, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        self.u_label = ""

    def clean_name(self) -> str:
        try:
            a_label, u_label = normalize_domain(self.cleaned_data["name"])
        except DomainNameError as error:
            raise forms.ValidationError(str(error), code="invalid") from None
        if Domain.objects.for_team(self.team).filter(name=a_label).exists():
            shown = u_label if u_label == a_label else f"{u_label} ({a_label})"
            raise forms.ValidationError(f"Your team already has {shown}.", code="duplicate")
        self.u_label = u_label
        return a_label

    def clean_return_path_label(self) -> str:
        label = self.cleaned_data["return_path_label"].strip().lower().rstrip(".")
        if "." in label:
            raise forms.ValidationError("Enter one name without dots, like bounces (your domain is added to it).")
        if len(label) > 63:
            raise forms.ValidationError("Use at most 63 characters.")
        if not _LABEL.match(label):
            raise forms.ValidationError(
                "Use only letters a–z, digits and hyphens, not starting or ending with a hyphen (like bounces)."
            )
        return label


class DomainDeleteForm(forms.Form):
    confirm = forms.CharField(
        label="Type the domain name to confirm",
        max_length=2000,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}),
        error_messages={"required": "Type the domain name to confirm."},
    )

    def __init__(self, *args: object, domain: Domain, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.domain = domain

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"].strip().lower().rstrip(".")
        if typed not in {self.domain.name, (self.domain.unicode_name or self.domain.name).lower()}:
            raise forms.ValidationError(f"That is not {self.domain.unicode_name or self.domain.name}: type it exactly.")
        return typed


class ShareLinkForm(forms.Form):
    days = forms.IntegerField(
        label="Valid for (days)",
        initial=7,
        min_value=1,
        max_value=30,
        error_messages={"invalid": "Enter a number of days from 1 to 30.", "required": "Enter a number of days from 1 to 30."},
    )
