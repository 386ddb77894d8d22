"""Fixtures for credential tests: verified domains, issuing through the views, and the real SMTP server."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import reverse

from domains.models import Domain
from mailsetup.models import Team
from tests.smtp_server import RunningSMTPServer, start_smtp_server


def make_domain(team: Team, name: str, status: str = "verified") -> Domain:
    """Another helper builds domain creation; here a row with the status we need is enough."""
    return Domain.objects.create(team=team, name=name, status=status)


@pytest.fixture
def verified_domain(team: Team) -> Domain:
    return make_domain(team, "acme.test")


def snippet_from_html(page: str, slug: str) -> str:
    """The text of <pre id="snippet-<slug>"> in a rendered page, as a browser would copy it."""
    match = re.search(rf'<pre id="snippet-{re.escape(slug)}"[^>]*>(.*?)</pre>', page, re.S)
    assert match is not None, f"no snippet {slug!r} in the page"
    return html.unescape(match.group(1))


def secret_from_html(page: str) -> str:
    match = re.search(r'<code id="smtp-secret"[^>]*>([^<]+)</code>', page)
    assert match is not None, "no secret on the page"
    return html.unescape(match.group(1))


def issue_through_views(client: Client, team: Team, **fields: object) -> tuple[str, str]:
    """POST the issue form, follow to the reveal page: (reveal page HTML, secret)."""
    data = {"label": "Payroll system", "scope": "all", "expires_on": "", "allowed_ips": ""}
    data.update(fields)
    response = client.post(reverse("credentials:issue", args=[team.slug]), data)
    assert response.status_code == 302, response.content.decode().partition("<main")[2][:3000]
    page = client.get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    return text, secret_from_html(text)


@pytest.fixture(scope="session")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSMTPServer]:
    server = start_smtp_server(tmp_path_factory.mktemp("smtp-certs"))
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server: RunningSMTPServer, settings: object) -> RunningSMTPServer:
    """The session SMTP server, emptied, with the snippets' host and ports pointing at it."""
    smtp_server.clear()
    settings.MAILSETUP_SMTP_HOST = smtp_server.host
    settings.MAILSETUP_SMTP_PORTS = {
        "starttls": smtp_server.starttls_port,
        "tls": smtp_server.tls_port,
        "alt": smtp_server.starttls_port,
        "mx": 25,
    }
    return smtp_server
