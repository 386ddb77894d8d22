"""The secret appears on the one-time reveal page and nowhere else: not later pages, downloads, logs, the audit
log, the session table, the database or the admin."""

from __future__ import annotations

import logging

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.urls import reverse

from credentials.models import Credential
from credentials.snippets import CLIENTS
from mailsetup.models import AuditEvent, User
from tests.credentials.conftest import issue_through_views, secret_from_html

pytestmark = pytest.mark.django_db


def database_text() -> str:
    """Every text column of every row of every table, as one string to grep."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            chunks.extend(str(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_the_secret_shows_once_and_is_found_nowhere_after(caplog, login, teammate, team, verified_domain):
    caplog.set_level(logging.DEBUG)
    client = login(teammate)
    response = client.post(reverse("credentials:issue", args=[team.slug]), {"label": "Payroll", "scope": "all"})
    credential = Credential.objects.get()

    # Between issue and reveal the secret waits in the session, sealed: the session table does not hold it.
    sessions = [s.get_decoded() for s in Session.objects.all()]
    reveal_page = client.get(response["Location"]).content.decode()
    secret = secret_from_html(reveal_page)
    assert reveal_page.count(secret) > len(CLIENTS)
    assert all(secret not in str(data) for data in sessions)

    later = []
    later.append(client.get(response["Location"]))  # the reveal again
    later.append(client.get(reverse("credentials:list", args=[team.slug])))
    for c in CLIENTS:
        later.append(client.get(reverse("credentials:detail", args=[team.slug, credential.pk]) + f"?client={c.slug}"))
        later.append(client.get(reverse("credentials:snippet_download", args=[team.slug, credential.pk, c.slug])))
    admin = User.objects.create_superuser(email="root@acme.test", password="x-pass-123456")
    admin_client = login(admin)
    later.append(admin_client.get(reverse("admin:credentials_credential_change", args=[credential.pk])))
    later.append(admin_client.get(reverse("admin:credentials_credential_changelist")))
    client.post(reverse("credentials:revoke", args=[team.slug, credential.pk]))

    for page in later:
        assert page.status_code == 200, page.request["PATH_INFO"]
        assert secret not in page.content.decode(), page.request["PATH_INFO"]
    assert secret not in caplog.text
    assert secret[len("mss_") :] not in caplog.text
    events = list(AuditEvent.objects.values_list("action", "target", "details"))
    assert [e[0] for e in events] == ["credential.revoked", "credential.issued"]
    assert secret not in str(events)
    assert secret not in database_text()
    assert secret[8:] not in database_text()  # not even the part after the shown prefix


def test_the_admin_never_shows_the_hash_and_cannot_add_or_change(login, teammate, team, verified_domain):
    issue_through_views(login(teammate), team)
    credential = Credential.objects.get()
    admin = User.objects.create_superuser(email="root@acme.test", password="x-pass-123456")
    client = login(admin)
    page = client.get(reverse("admin:credentials_credential_change", args=[credential.pk])).content.decode()
    assert credential.username in page
    assert credential.secret_hash not in page
    assert "secret_hash" not in page
    assert client.get(reverse("admin:credentials_credential_add")).status_code == 403
    response = client.post(reverse("admin:credentials_credential_change", args=[credential.pk]), {"label": "changed"})
    assert response.status_code == 403
    credential.refresh_from_db()
    assert credential.label == "Payroll system"
