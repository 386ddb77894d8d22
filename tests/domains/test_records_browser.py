"""In a real Chromium: add a domain through the htmx form, see an error beside the field, copy a record value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from domains.models import Domain
from mailsetup.models import Membership, Role, Team, User
from tests.e2e.conftest import browser, new_context, page  # noqa: F401 - the shared Chromium fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _logged_in(page: Any, live_server: Any, user: User) -> None:  # noqa: F811
    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def _console(page: Any) -> list[str]:  # noqa: F811
    problems: list[str] = []

    def on_console(msg: Any) -> None:
        # The browser's own favicon probe is not a page error; a CSP violation or a failing script is.
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            problems.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def test_add_a_domain_and_copy_its_dkim_record(live_server, page) -> None:  # noqa: F811
    team = Team.objects.create(name="Acme Mail", slug="acme")
    user = User.objects.create_user(email="member@acme.test", password="x-pass-123456")
    Membership.objects.create(team=team, user=user, role=Role.MEMBER)
    _logged_in(page, live_server, user)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    problems = _console(page)

    page.goto(f"{live_server.url}/t/acme/domains/")
    # A refused name: the message appears beside the field, the page is not reloaded (htmx swaps the form).
    page.evaluate("window.__marker = 'same page'")
    page.get_by_label("Domain name").fill("co.uk")
    page.get_by_role("button", name="Add domain").click()
    error = page.locator("#id_name_error")
    error.wait_for()
    assert "is a public suffix" in error.inner_text()
    assert page.evaluate("window.__marker") == "same page"
    assert page.get_by_label("Domain name").input_value() == "co.uk"

    page.get_by_label("Domain name").fill(" https://Bücher.Example/ ")
    page.get_by_label("DKIM key").select_option("rsa2048+ed25519")
    page.get_by_role("button", name="Add domain").click()
    domain = _wait_for_domain(page, live_server)
    assert page.get_by_test_id("domain-name").inner_text() == "bücher.example"
    assert page.get_by_test_id("domain-a-label").inner_text() == "xn--bcher-kva.example"

    rsa = domain.dkim_keys.get(algorithm="rsa")
    row = page.locator(f'[data-record-key="dkim:{rsa.selector}"]')
    value = row.get_by_test_id("record-value")
    expected = f"v=DKIM1; k=rsa; p={rsa.public_key}"
    assert value.inner_text() == expected  # one string on screen, wrapped by CSS only
    assert value.bounding_box()["height"] > 40  # it wraps rather than running off the page
    button = row.locator('button[data-copy-target$="-value"]')
    button.click()
    page.wait_for_function("b => b.textContent === 'Copied'", arg=button.element_handle())
    assert page.evaluate("navigator.clipboard.readText()") == expected
    host_button = row.locator('button[data-copy-target$="-host"]')
    host_button.click()
    page.wait_for_function("b => b.textContent === 'Copied'", arg=host_button.element_handle())
    assert page.evaluate("navigator.clipboard.readText()") == f"{rsa.selector}._domainkey"
    page.screenshot(path=str(Path(django_settings.VAR_DIR) / "domain-records.png"), full_page=True)
    assert problems == []


def _wait_for_domain(page: Any, live_server: Any) -> Domain:  # noqa: F811
    page.wait_for_url(f"{live_server.url}/t/acme/domains/*/")
    return Domain.objects.get(name="xn--bcher-kva.example")
