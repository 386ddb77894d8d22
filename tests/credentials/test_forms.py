"""The issue form's own rules: the IP allow-list parser and the expiry date."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django import forms
from django.utils import timezone

from credentials.forms import CredentialForm, parse_ip_list

pytestmark = pytest.mark.django_db


def test_ip_list_takes_lines_commas_ranges_and_normalises():
    text = "192.0.2.7\n198.51.100.9/24,  2001:DB8::/32 ; 192.0.2.7\r\n\n"
    assert parse_ip_list(text) == ["192.0.2.7", "198.51.100.0/24", "2001:db8::/32"]


def test_ip_list_empty_is_no_restriction():
    assert parse_ip_list("") == []
    assert parse_ip_list(" \n , ") == []


@pytest.mark.parametrize("bad", ["300.1.1.1", "10.0.0.0/33", "example.com", "10.0.0.1/abc", "::g"])
def test_ip_list_names_each_bad_entry(bad):
    with pytest.raises(forms.ValidationError) as error:
        parse_ip_list(f"192.0.2.1\n{bad}")
    assert bad in str(error.value.messages)


def test_ip_list_has_a_limit():
    with pytest.raises(forms.ValidationError):
        parse_ip_list("\n".join(f"10.0.{i // 256}.{i % 256}" for i in range(101)))


def test_expiry_is_the_end_of_the_chosen_day_utc(team, verified_domain):
    today = timezone.now().date()
    form = CredentialForm({"label": "x", "scope": "all", "expires_on": today.isoformat()}, team=team)
    assert form.is_valid(), form.errors
    assert form.expires_at == timezone.datetime.combine(
        today + timedelta(days=1), timezone.datetime.min.time(), tzinfo=timezone.get_fixed_timezone(0)
    )
    assert form.expires_at > timezone.now()


def test_the_label_is_one_line(team, verified_domain):
    form = CredentialForm({"label": "Payroll\r\n  system", "scope": "all"}, team=team)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["label"] == "Payroll system"


def test_only_the_teams_verified_domains_are_offered(team, verified_domain):
    from tests.credentials.conftest import make_domain

    make_domain(team, "pending.test", status="pending")
    form = CredentialForm(team=team)
    assert [d.name for d in form.fields["domains"].queryset] == ["acme.test"]
