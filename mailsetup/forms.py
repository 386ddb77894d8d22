"""Forms of the accounts app: sign up, log in by email, teams, members and invitations.

Validation lives here (clean_<field>); the services in mailsetup/services.py trust cleaned data.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm

from .models import Invitation, Membership, Role, Team, User


def normalize_email(value: str) -> str:
    return value.strip().lower()


class EmailAuthenticationForm(AuthenticationForm):
    """Django's login form, labelled for what our users type: their email address."""

    username = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an account. Check both and try again.",
    }

    def clean_username(self) -> str:
        return normalize_email(self.cleaned_data["username"])


NAME_INPUT = forms.TextInput(attrs={"autocomplete": "name"})


class PasswordFieldsMixin(forms.Form):
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters; not only digits, not a common password.",
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_password2(self) -> str:
        first = self.cleaned_data.get("password1")
        second = self.cleaned_data["password2"]
        if first and first != second:
            raise forms.ValidationError("The two passwords differ. Type the same password twice.")
        return second

    def validate_password(self, email: str, name: str) -> None:
        password = self.cleaned_data.get("password1")
        if not password:
            return
        try:
            password_validation.validate_password(password, User(email=email, name=name))
        except forms.ValidationError as error:
            self.add_error("password1", error)


class SignupForm(PasswordFieldsMixin):
    email = forms.EmailField(label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    name = forms.CharField(label="Your name", max_length=150, required=False, widget=NAME_INPUT)
    team_name = forms.CharField(
        label="Team name",
        max_length=100,
        required=False,
        help_text="Usually your company or project. Leave empty to use one derived from your name or email.",
    )

    field_order = ["email", "name", "team_name", "password1", "password2"]

    def clean_email(self) -> str:
        email = normalize_email(self.cleaned_data["email"])
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists. Log in, or reset your password.")
        return email

    def clean_team_name(self) -> str:
        return self.cleaned_data["team_name"].strip()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self.validate_password(cleaned.get("email", ""), cleaned.get("name", ""))
        return cleaned


class InvitedSignupForm(PasswordFieldsMixin):
    """Sign-up through an invitation: the email is the invited address and cannot be changed."""

    email = forms.EmailField(label="Email", disabled=True, required=False, help_text="The address this invitation was sent to.")
    name = forms.CharField(label="Your name", max_length=150, required=False, widget=NAME_INPUT)

    field_order = ["email", "name", "password1", "password2"]

    def __init__(self, *args: Any, invitation: Invitation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.invitation = invitation
        self.fields["email"].initial = invitation.email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # Whatever was posted, the account gets the invited address.
        cleaned["email"] = normalize_email(self.invitation.email)
        if User.objects.filter(email__iexact=cleaned["email"]).exists():
            raise forms.ValidationError("An account with this email already exists. Log in to accept the invitation.")
        self.validate_password(cleaned["email"], cleaned.get("name", ""))
        return cleaned


class TeamForm(forms.Form):
    name = forms.CharField(label="Team name", max_length=100)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the team a name.")
        return name


class TeamDeleteForm(forms.Form):
    confirm = forms.CharField(label="Type the team's name to confirm", max_length=100)

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        self.fields["confirm"].help_text = f"Type <strong>{_escape(team.name)}</strong> exactly."

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].strip()
        if value != self.team.name:
            raise forms.ValidationError("That is not the team's name. Type it exactly as shown to delete the team.")
        return value


def _escape(text: str) -> str:
    from django.utils.html import escape

    return escape(text)


def role_choices(*, can_own: bool) -> list[tuple[str, str]]:
    """Roles an actor may hand out: owners any role, admins only the roles below owner."""
    return [(value, label) for value, label in Role.choices if can_own or value != Role.OWNER]


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(label="Role", initial=Role.MEMBER)

    def __init__(self, *args: Any, team: Team, can_own: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        self.fields["role"].choices = role_choices(can_own=can_own)
        self.fields["role"].help_text = (
            "Viewers see everything but change nothing; members also add domains and credentials; admins also manage the team."
        )

    def clean_email(self) -> str:
        email = normalize_email(self.cleaned_data["email"])
        if Membership.objects.filter(team=self.team, user__email__iexact=email).exists():
            raise forms.ValidationError("This person is already a member of the team.")
        if Invitation.objects.pending().filter(team=self.team, email__iexact=email).exists():
            raise forms.ValidationError("This address already has a pending invitation. Resend it from the list below.")
        return email


class RoleForm(forms.Form):
    # Every role is offered; the service refuses with 403 an admin who touches an owner or makes one.
    role = forms.ChoiceField(label="Role", choices=Role.choices)
