"""The credential pages: list, issue (and the domain it needs first), one-time reveal, snippets, rotate, revoke."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.urls import reverse

from credentials.models import Credential
from credentials.services import authenticate
from credentials.snippets import CLIENTS, PLACEHOLDER
from mailsetup.models import AuditEvent
from tests.credentials.conftest import issue_through_views, make_domain, snippet_from_html

pytestmark = pytest.mark.django_db


def test_the_list_says_to_verify_a_domain_first_and_links_to_domains(login, teammate, team):
    response = login(teammate).get(reverse("credentials:list", args=[team.slug]))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="needs-domain"' in page
    assert reverse("domains:list", args=[team.slug]) in page
    assert reverse("credentials:issue", args=[team.slug]) not in page


def test_a_pending_domain_is_not_enough_to_issue(login, teammate, team):
    make_domain(team, "pending.test", status="pending")
    client = login(teammate)
    page = client.get(reverse("credentials:issue", args=[team.slug])).content.decode()
    assert 'data-testid="needs-domain"' in page
    assert "issue-credential-form" not in page
    response = client.post(reverse("credentials:issue", args=[team.slug]), {"label": "x", "scope": "all"})
    assert response.status_code == 200
    assert Credential.objects.count() == 0


def test_issuing_shows_the_secret_once_with_filled_in_snippets(login, teammate, team, verified_domain):
    client = login(teammate)
    page, secret = issue_through_views(client, team, label="Payroll system")
    credential = Credential.objects.get()
    assert credential.label == "Payroll system"
    assert credential.created_by == teammate
    assert re.fullmatch(r"acme-[a-z0-9]{8}", credential.username)
    assert secret.startswith("mss_") and len(secret) == 36
    assert credential.secret_prefix == secret[:8]
    assert secret not in credential.secret_hash
    for client_row in CLIENTS:
        text = snippet_from_html(page, client_row.slug)
        assert PLACEHOLDER not in text, client_row.slug
        if client_row.slug != "postfix":  # main.cf points to sasl_passwd, which holds the login
            assert credential.username in text, client_row.slug
            assert secret in text, client_row.slug
    python_snippet = snippet_from_html(page, "python")
    assert f'SMTP_PASSWORD = "{secret}"' in python_snippet
    assert 'FROM_ADDRESS = "noreply@acme.test"' in python_snippet
    assert 'data-copy-target="#snippet-python"' in page
    assert authenticate(credential.username, secret, "127.0.0.1") == credential

    again = client.get(reverse("credentials:reveal", args=[team.slug, credential.pk]))
    assert again.status_code == 200
    assert secret not in again.content.decode()
    assert 'data-testid="secret-gone"' in again.content.decode()
    assert "no-store" in again["Cache-Control"]


def test_the_reveal_is_for_the_session_that_issued_it(login, teammate, team_admin, team, verified_domain):
    client = login(teammate)
    response = client.post(reverse("credentials:issue", args=[team.slug]), {"label": "CRM", "scope": "all"})
    other = login(team_admin).get(response["Location"])
    assert 'data-testid="secret-gone"' in other.content.decode()
    assert 'id="smtp-secret"' not in other.content.decode()


def test_issue_rejects_bad_input_beside_the_fields(login, teammate, team, verified_domain):
    client = login(teammate)
    response = client.post(
        reverse("credentials:issue", args=[team.slug]),
        {"label": "  ", "scope": "chosen", "expires_on": "2001-01-01", "allowed_ips": "10.0.0.1, 300.1.1.1\nnot-an-ip"},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "This field is required." in page or "Give the credential a name." in page
    assert "Choose at least one domain" in page
    assert "This date has passed" in page
    assert "300.1.1.1" in page and "not-an-ip" in page
    assert Credential.objects.count() == 0


def test_issue_rejects_another_teams_domain_in_scope(login, teammate, team, verified_domain, stranger):
    from mailsetup.models import Team

    foreign = make_domain(Team.objects.get(slug="other"), "other.test")
    response = login(teammate).post(
        reverse("credentials:issue", args=[team.slug]),
        {"label": "CRM", "scope": "chosen", "domains": [foreign.pk]},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Credential.objects.count() == 0


def test_an_absurd_expiry_date_is_an_error_not_a_crash(login, teammate, team, verified_domain):
    response = login(teammate).post(
        reverse("credentials:issue", args=[team.slug]), {"label": "CRM", "scope": "all", "expires_on": "9999-12-31"}
    )
    assert response.status_code == 200
    assert "within the next ten years" in response.content.decode()


def test_an_invalid_htmx_post_returns_the_form_fragment(login, teammate, team, verified_domain):
    response = login(teammate).post(
        reverse("credentials:issue", args=[team.slug]), {"label": "", "scope": "all"}, headers={"HX-Request": "true"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page
    assert 'id="issue-credential-form"' in page


def test_issue_with_chosen_domains_expiry_and_ip_list(login, teammate, team, verified_domain):
    second = make_domain(team, "mail.acme.test")
    expiry = date.today() + timedelta(days=30)
    client = login(teammate)
    issue_through_views(
        client,
        team,
        label="Shop",
        scope="chosen",
        domains=[second.pk],
        expires_on=expiry.isoformat(),
        allowed_ips="192.0.2.7\n198.51.100.0/24, 2001:db8::/32",
    )
    credential = Credential.objects.get()
    assert not credential.all_domains
    assert list(credential.domains.all()) == [second]
    assert credential.expires_at == datetime.combine(expiry + timedelta(days=1), time.min, tzinfo=UTC)
    assert credential.allowed_ips == ["192.0.2.7", "198.51.100.0/24", "2001:db8::/32"]


def test_the_detail_page_has_a_tab_per_client_with_placeholder_and_download(login, viewer, teammate, team, verified_domain):
    _, secret = issue_through_views(login(teammate), team)
    credential = Credential.objects.get()
    client = login(viewer)
    url = reverse("credentials:detail", args=[team.slug, credential.pk])
    page = client.get(url).content.decode()
    for client_row in CLIENTS:
        assert f'href="?client={client_row.slug}#snippets"' in page
        assert f'hx-get="?client={client_row.slug}"' in page
    assert 'id="snippet-generic"' in page
    assert secret not in page
    assert "Rotate secret" not in page  # a viewer cannot

    fragment = client.get(url + "?client=python", headers={"HX-Request": "true"})
    text = fragment.content.decode()
    assert "<html" not in text
    assert 'id="snippet-python"' in text
    assert f'SMTP_PASSWORD = "{PLACEHOLDER}"' in snippet_from_html(text, "python")

    plain = client.get(url + "?client=laravel").content.decode()
    assert "<html" in plain and 'id="snippet-laravel"' in plain


def test_a_download_is_an_attachment_without_the_secret(login, teammate, team, verified_domain):
    client = login(teammate)
    _, secret = issue_through_views(client, team)
    credential = Credential.objects.get()
    for client_row in CLIENTS:
        response = client.get(reverse("credentials:snippet_download", args=[team.slug, credential.pk, client_row.slug]))
        assert response.status_code == 200
        assert response["Content-Disposition"] == f'attachment; filename="{client_row.filename}"'
        body = response.content.decode()
        assert secret not in body
        if client_row.slug != "postfix":
            assert credential.username in body
            assert PLACEHOLDER in body or "shown once" in body, client_row.slug
    missing = client.get(reverse("credentials:snippet_download", args=[team.slug, credential.pk, "cobol"]))
    assert missing.status_code == 404


def test_rotate_shows_a_new_secret_once_and_the_old_one_stops(login, teammate, team, verified_domain):
    client = login(teammate)
    _, old_secret = issue_through_views(client, team)
    credential = Credential.objects.get()
    response = client.post(reverse("credentials:rotate", args=[team.slug, credential.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("credentials:reveal", args=[team.slug, credential.pk])
    page = client.get(response["Location"]).content.decode()
    new_secret = re.search(r'id="smtp-secret"[^>]*>([^<]+)<', page).group(1)
    assert new_secret != old_secret
    assert authenticate(credential.username, old_secret, "127.0.0.1") is None
    assert authenticate(credential.username, new_secret, "127.0.0.1") == credential
    credential.refresh_from_db()
    assert credential.rotated_at is not None
    assert AuditEvent.objects.filter(action="credential.rotated").count() == 1


def test_revoke_is_immediate_and_shown_in_the_list(login, teammate, team, verified_domain):
    client = login(teammate)
    _, secret = issue_through_views(client, team)
    credential = Credential.objects.get()
    response = client.post(reverse("credentials:revoke", args=[team.slug, credential.pk]))
    assert response.status_code == 302
    credential.refresh_from_db()
    assert credential.status == "revoked"
    assert authenticate(credential.username, secret, "127.0.0.1") is None
    page = client.get(reverse("credentials:list", args=[team.slug])).content.decode()
    assert '<span class="badge revoked" data-testid="credential-status">Revoked</span>' in page
    rotate = client.post(reverse("credentials:rotate", args=[team.slug, credential.pk]))
    assert rotate["Location"] == reverse("credentials:detail", args=[team.slug, credential.pk])
    assert authenticate(credential.username, secret, "127.0.0.1") is None


def test_the_list_shows_status_creator_and_last_use(login, teammate, viewer, team, verified_domain):
    client = login(teammate)
    _, secret = issue_through_views(client, team, label="Payroll system")
    issue_through_views(client, team, label="Old CRM")
    old = Credential.objects.get(label="Old CRM")
    Credential.objects.filter(pk=old.pk).update(expires_at="2000-01-01T00:00Z")
    payroll = Credential.objects.get(label="Payroll system")
    authenticate(payroll.username, secret, "192.0.2.44")
    page = login(viewer).get(reverse("credentials:list", args=[team.slug])).content.decode()
    assert "Payroll system" in page and "Old CRM" in page
    assert '<span class="badge active" data-testid="credential-status">Active</span>' in page
    assert '<span class="badge expired" data-testid="credential-status">Expired</span>' in page
    assert "by Mia Member" in page
    assert "192.0.2.44" in page
    assert "Rotate" not in page and "Revoke" not in page  # a viewer sees, and cannot change


def test_another_teams_credential_is_404(login, stranger, teammate, team, verified_domain):
    issue_through_views(login(teammate), team)
    credential = Credential.objects.get()
    client = login(stranger)
    for name in ("detail", "reveal"):
        assert client.get(reverse(f"credentials:{name}", args=["other", credential.pk])).status_code == 404
    for name in ("rotate", "revoke"):
        assert client.post(reverse(f"credentials:{name}", args=["other", credential.pk])).status_code == 404
    url = reverse("credentials:snippet_download", args=["other", credential.pk, "python"])
    assert client.get(url).status_code == 404
    credential.refresh_from_db()
    assert credential.status == "active"


def test_a_valid_htmx_post_sends_the_browser_to_the_reveal(login, teammate, team, verified_domain):
    client = login(teammate)
    response = client.post(
        reverse("credentials:issue", args=[team.slug]), {"label": "CRM", "scope": "all"}, headers={"HX-Request": "true"}
    )
    credential = Credential.objects.get()
    assert response["HX-Redirect"] == reverse("credentials:reveal", args=[team.slug, credential.pk])
    assert 'id="smtp-secret"' in client.get(response["HX-Redirect"]).content.decode()


def test_an_expired_credential_cannot_be_rotated_back_to_life(login, teammate, team, verified_domain):
    client = login(teammate)
    _, secret = issue_through_views(client, team)
    credential = Credential.objects.get()
    Credential.objects.filter(pk=credential.pk).update(expires_at="2000-01-01T00:00Z")
    response = client.post(reverse("credentials:rotate", args=[team.slug, credential.pk]))
    assert response["Location"] == reverse("credentials:detail", args=[team.slug, credential.pk])
    credential.refresh_from_db()
    assert credential.rotated_at is None
    page = client.get(response["Location"]).content.decode()
    assert "This credential is expired; issue a new one instead." in page
    assert "Rotate secret" not in page


def test_the_list_takes_the_same_queries_for_one_or_many_credentials(login, teammate, team, verified_domain, settings):
    settings.MAILSETUP_PAGE_CACHE_SECONDS = 0  # the queries of rendering the page, not of serving it from the cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from credentials.services import credential_issue

    client = login(teammate)
    url = reverse("credentials:list", args=[team.slug])

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    credential_issue(team=team, actor=teammate, label="One", all_domains=False, domains=[verified_domain])
    count()  # the first visit remembers the current team in the session (a session write)
    one = count()
    for i in range(5):
        credential_issue(team=team, actor=teammate, label=f"More {i}", all_domains=False, domains=[verified_domain])
    assert count() == one


def test_edit_changes_scope_expiry_and_ips_and_keeps_the_secret(login, teammate, team, verified_domain):
    shop = make_domain(team, "shop.test")
    client = login(teammate)
    _, secret = issue_through_views(client, team, allowed_ips="192.0.2.1")
    credential = Credential.objects.get()
    url = reverse("credentials:edit", args=[team.slug, credential.pk])
    page = client.get(url).content.decode()
    assert 'value="Payroll system"' in page and "192.0.2.1</textarea>" in page
    expiry = date.today() + timedelta(days=3)

    response = client.post(
        url,
        {
            "label": "Payroll (new)",
            "scope": "chosen",
            "domains": [shop.pk],
            "expires_on": expiry.isoformat(),
            "allowed_ips": "198.51.100.0/24",
        },
    )

    assert response["Location"] == reverse("credentials:detail", args=[team.slug, credential.pk])
    credential.refresh_from_db()
    assert credential.label == "Payroll (new)"
    assert not credential.all_domains and list(credential.domains.all()) == [shop]
    assert credential.allowed_ips == ["198.51.100.0/24"]
    assert credential.expires_at == datetime.combine(expiry + timedelta(days=1), time.min, tzinfo=UTC)
    assert authenticate(credential.username, secret, "198.51.100.20") == credential
    assert authenticate(credential.username, secret, "192.0.2.1") is None
    event = AuditEvent.objects.get(action="credential.updated")
    assert event.details["allowed_ips"] == {"from": ["192.0.2.1"], "to": ["198.51.100.0/24"]}
    assert event.details["domains"] == {"from": "all verified domains", "to": ["shop.test"]}
    assert secret not in str(event.details)
    # The form shows the saved expiry day again, and saving it unchanged changes nothing.
    page = client.get(url).content.decode()
    assert f'value="{expiry.isoformat()}"' in page
    client.post(
        url,
        {
            "label": "Payroll (new)",
            "scope": "chosen",
            "domains": [shop.pk],
            "expires_on": expiry.isoformat(),
            "allowed_ips": "198.51.100.0/24",
        },
    )
    assert AuditEvent.objects.filter(action="credential.updated").count() == 1


def test_an_expired_credential_can_be_renewed_by_editing_its_expiry(login, teammate, team, verified_domain):
    client = login(teammate)
    _, secret = issue_through_views(client, team)
    credential = Credential.objects.get()
    Credential.objects.filter(pk=credential.pk).update(expires_at="2020-05-02T00:00Z")
    url = reverse("credentials:edit", args=[team.slug, credential.pk])
    # Keeping the past date while changing the label is allowed; choosing another past date is not.
    keep = client.post(url, {"label": "Renamed", "scope": "all", "expires_on": "2020-05-01"})
    assert keep.status_code == 302
    other_past = client.post(url, {"label": "Renamed", "scope": "all", "expires_on": "2020-04-01"})
    assert "This date has passed" in other_past.content.decode()
    client.post(url, {"label": "Renamed", "scope": "all", "expires_on": ""})
    credential.refresh_from_db()
    assert credential.expires_at is None and credential.status == "active"
    assert authenticate(credential.username, secret, "127.0.0.1") == credential


def test_a_revoked_credential_cannot_be_edited(login, teammate, team, verified_domain):
    client = login(teammate)
    issue_through_views(client, team)
    credential = Credential.objects.get()
    client.post(reverse("credentials:revoke", args=[team.slug, credential.pk]))
    response = client.post(reverse("credentials:edit", args=[team.slug, credential.pk]), {"label": "x", "scope": "all"})
    assert response["Location"] == reverse("credentials:detail", args=[team.slug, credential.pk])
    credential.refresh_from_db()
    assert credential.label == "Payroll system"


def test_the_list_is_paginated_fifty_a_page_newest_first(login, viewer, team, verified_domain):
    from credentials.services import credential_issue

    for i in range(53):
        credential_issue(team=team, actor=viewer, label=f"Cred {i:02d}", all_domains=True, domains=[])
    client = login(viewer)
    url = reverse("credentials:list", args=[team.slug])
    first = client.get(url).content.decode()
    second = client.get(url, {"page": 2}).content.decode()
    assert first.count("<tr data-credential=") == 50
    assert second.count("<tr data-credential=") == 3
    assert "53 credentials" in first
    assert "Cred 52" in first and "Cred 00" in second
    assert client.get(url, {"page": "999"}).status_code in (200, 404)
    assert client.get(url, {"page": "x"}).status_code in (200, 404)
