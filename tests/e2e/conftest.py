"""Browser fixtures for end-to-end tests: one real Chromium per session, a fresh context per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import need

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Playwright's sync API runs an event loop in this thread; Django's async-safety check would refuse the ORM calls
# that live_server tests make around it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


# The one running Chromium. A test module elsewhere that imports these fixtures gets a second copy of the session
# fixture; a second sync Playwright in the same thread fails, so every copy shares the first one's browser.
_running: dict[str, Any] = {}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    need(os.path.exists(CHROMIUM), f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if "browser" in _running:
        yield _running["browser"]
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        _running["browser"] = chromium
        try:
            yield chromium
        finally:
            del _running["browser"]
            chromium.close()


@pytest.fixture
def new_context(browser: Any) -> Iterator[Any]:
    """new_context() -> a fresh browser context (own cookies); all are closed after the test."""
    contexts: list[Any] = []

    def _new() -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield _new
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Any) -> Any:
    return new_context().new_page()


def sign_in(page: Any, base_url: str, user: Any) -> list[str]:
    """Give the page's browser a session of `user`, as after a login; returns the list that collects the page's
    console errors and uncaught exceptions (a test ends asserting it is empty)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems
