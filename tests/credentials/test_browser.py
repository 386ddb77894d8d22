"""In a real Chromium: issue a credential, copy the Python snippet with its copy button, run what was copied
against the loopback SMTP server; the reveal does not survive a reload; the snippet tabs switch with htmx.
The reveal's download button saves the snippet, secret included, from the page itself (a blob: URL)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connections
from django.test import Client

from credentials.models import Credential
from mailsetup.models import Team, User
from tests.conftest import need
from tests.credentials.conftest import make_domain
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, _running
from tests.smtp_server import RunningSMTPServer

# Playwright's sync API runs an event loop in this thread; the ORM calls around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(django_settings.VAR_DIR) / "screenshots"


@pytest.fixture
def new_context() -> Iterator[Any]:
    """A Chromium of this test's own, closed at its end. (The e2e suite's session browser lives in
    tests/e2e/conftest.py; importing that fixture here would start a second Playwright beside it.)"""
    need(os.path.exists(CHROMIUM), f"Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    if "browser" in _running:
        # A module run earlier (tests/domains/test_records_browser.py) holds the session Playwright open in this
        # thread, and a second sync Playwright would fail: open contexts in its browser instead.
        contexts: list[Any] = []

        def _shared() -> Any:
            context = _running["browser"].new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(15_000)
            contexts.append(context)
            return context

        yield _shared
        for context in contexts:
            context.close()
        return

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)

        def _new() -> Any:
            context = chromium.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(15_000)
            return context

        yield _new
        chromium.close()


def logged_in_context(new_context: Any, live_server: Any, user: Any) -> Any:
    client = Client()
    client.force_login(user)
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return context


def watch_console(page: Any) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" and "favicon" not in msg.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def test_copy_the_python_snippet_from_the_reveal_and_send_with_it(
    live_server,
    smtp,
    new_context,
    teammate,
    team,
) -> None:
    try:
        copy_and_send(live_server, smtp, new_context, teammate, team)
    finally:
        # ORM calls made while Playwright's sync API runs get a database connection of their own, which
        # pytest-django does not close: close it, or PostgreSQL cannot drop the test database at the end.
        connections.close_all()


def issue_in_browser(page: Any, live_server: Any, team: Team, *, screenshots: bool = False) -> str:
    """Issue a credential through the pages; returns the secret shown on the reveal page, where it leaves `page`."""
    page.goto(f"{live_server.url}/t/{team.slug}/credentials/")
    page.get_by_role("link", name="Issue a credential").click()
    page.get_by_label("Label").fill("Payroll system")
    if screenshots:
        page.screenshot(path=str(SCREENSHOTS / "credential-issue.png"), full_page=True)
    page.get_by_role("button", name="Issue credential").click()
    page.wait_for_url("**/reveal/")
    return page.get_by_test_id("secret").inner_text()


def copy_and_send(live_server: Any, smtp: RunningSMTPServer, new_context: Any, teammate: User, team: Team) -> None:
    make_domain(team, "acme.test")
    page = logged_in_context(new_context, live_server, teammate).new_page()
    problems = watch_console(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    secret = issue_in_browser(page, live_server, team, screenshots=True)
    page.screenshot(path=str(SCREENSHOTS / "credential-reveal.png"))

    button = page.locator('button[data-copy-target="#snippet-python"]')
    button.click()
    page.wait_for_function("document.querySelector('button[data-copy-target=\"#snippet-python\"]').textContent === 'Copied'")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert f'SMTP_PASSWORD = "{secret}"' in copied

    env = dict(os.environ, SSL_CERT_FILE=smtp.ca_file)
    result = subprocess.run([sys.executable, "-c", copied], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    credential = Credential.objects.get()
    assert smtp.authenticated == [credential.username]
    assert [m.mail_from for m in smtp.received] == ["noreply@acme.test"]

    page.reload()
    assert page.get_by_test_id("secret-gone").is_visible()
    assert secret not in page.content()

    page.get_by_role("link", name="Go to the credential").click()
    page.get_by_role("link", name="Node.js").click()
    page.wait_for_selector("#snippet-nodemailer")
    assert page.url.endswith("?client=nodemailer#snippets")
    assert "<PASTE-YOUR-SMTP-SECRET-HERE>" in page.locator("#snippet-nodemailer").inner_text()
    assert page.locator('nav.tabs a[aria-current="page"]').inner_text() == "Node.js"
    page.screenshot(path=str(SCREENSHOTS / "credential-detail.png"), full_page=True)
    page.goto(f"{live_server.url}/t/{team.slug}/credentials/")
    page.screenshot(path=str(SCREENSHOTS / "credential-list.png"), full_page=True)
    assert problems == []


def test_it_downloads_the_python_snippet_with_the_secret_from_the_reveal(live_server, new_context, teammate, team) -> None:
    try:
        download_from_reveal(live_server, new_context, teammate, team)
    finally:
        connections.close_all()  # as above: the connection opened while Playwright ran


def download_from_reveal(live_server: Any, new_context: Any, teammate: User, team: Team) -> None:
    make_domain(team, "acme.test")
    page = logged_in_context(new_context, live_server, teammate).new_page()
    problems = watch_console(page)
    secret = issue_in_browser(page, live_server, team)
    shown = page.locator("#snippet-python").text_content()
    assert f'SMTP_PASSWORD = "{secret}"' in shown

    with page.expect_download() as caught:
        page.locator('button[data-download-target="#snippet-python"]').click()
    download = caught.value
    assert download.suggested_filename == "send_mail.py"
    # Made in the page from its own text: the secret is in no URL the server could see or log.
    assert download.url.startswith("blob:")
    assert secret not in download.url
    assert Path(download.path()).read_text(encoding="utf-8") == shown
    assert problems == []
