"""The whole guided flow in a real Chromium, on the production topology (deploy/Procfile: gunicorn, two Celery
workers, one beat; PostgreSQL and Redis under `make test-prod`), with production settings (DEBUG off):

sign up -> add a domain -> the records page -> publish the records shown on the page into the test BIND9 with RFC
2136 updates, one at a time -> the page turns verified by itself, record by record -> issue an SMTP credential ->
copy the Python snippet with its copy button, through the clipboard -> run it -> the loopback SMTP server, which
authenticates with credentials.services.authenticate, receives the message.

Screenshots of each step go to docs/screenshots/ (the README shows them) with UPDATE_SCREENSHOTS=1
(`make screenshots`), else under the test var dir.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from credentials.models import Credential
from domains.models import Domain, DomainStatus
from tests.prod.topology import ROOT, Topology
from tests.smtp_server import RunningSMTPServer, start_smtp_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The README's pictures are refreshed on purpose (`make screenshots`), not by every test run.
SCREENSHOTS = ROOT / "docs" / "screenshots" if os.environ.get("UPDATE_SCREENSHOTS") else Path(
    django_settings.VAR_DIR) / "screenshots"
CREDENTIAL_KEY = secrets.token_urlsafe(32)


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[RunningSMTPServer]:
    server = start_smtp_server(tmp_path / "smtp-certs")
    yield server
    server.stop()


@pytest.fixture
def topology(bind_server, smtp_server: RunningSMTPServer, settings) -> Iterator[Topology]:  # noqa: ANN001
    """gunicorn + two workers + beat, checking DNS at the test BIND9 and pointing snippets at the SMTP server."""
    # The SMTP server runs in this process and checks secrets with the same server key as the web processes.
    settings.MAILSETUP_CREDENTIAL_KEY = CREDENTIAL_KEY
    ports = f"{smtp_server.starttls_port},{smtp_server.tls_port},{smtp_server.starttls_port},25"
    topology = Topology(workers=2, beat=True, extra_env={
        "MAILSETUP_DNS_RESOLVERS": bind_server.address,
        "MAILSETUP_DNS_TIMEOUT": "2",
        "MAILSETUP_SPF_INCLUDE": "spf.mailsetup.test",
        "MAILSETUP_RETURN_PATH_HOST": "bounces.mailsetup.test",
        "MAILSETUP_DMARC_RUA": "dmarc-reports@mailsetup.test",
        "MAILSETUP_SMTP_HOST": smtp_server.host,
        "MAILSETUP_SMTP_PORTS": ports,
        "MAILSETUP_CREDENTIAL_KEY": CREDENTIAL_KEY,
        # A quick schedule, so that a published record turns green within seconds rather than a minute.
        "MAILSETUP_CHECK_BACKOFF": "2",
        "MAILSETUP_CHECK_ENQUEUE_INTERVAL": "1",
    })
    topology.start()
    yield topology
    topology.stop()


def watch_console(page: Any) -> list[str]:
    """Errors the page logs: a script failing or the Content-Security-Policy blocking something."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def shot(page: Any, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def record_rows(page: Any) -> list[dict[str, str]]:
    """The records as the page shows them: what a person would copy into their DNS host."""
    rows = []
    for row in page.locator("[data-record-key]").all():
        rows.append({
            "key": row.get_attribute("data-record-key"),
            "type": row.locator('td[data-label="Type"] code').inner_text().strip(),
            "fqdn": row.get_by_test_id("record-fqdn").inner_text().strip(),
            "value": row.get_by_test_id("record-value").inner_text().strip(),
        })
    return rows


def status_of(page: Any, key: str) -> str:
    return page.locator(f'[data-record-key="{key}"] [data-testid="record-status"] .badge').first.inner_text().strip()


def test_sign_up_to_first_message_sent(browser, topology: Topology, bind_server, smtp_server) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=topology.url)
    page = context.new_page()
    problems = watch_console(page)
    try:
        # 1. Sign up: a team of one's own, and the checklist of the guided flow.
        page.goto(f"{topology.url}/signup/")
        page.locator("#id_email").fill("grace@guided.test")
        page.locator("#id_name").fill("Grace Hopper")
        page.locator("#id_team_name").fill("Guided Flow Ltd")
        page.locator("#id_password1").fill("a long and unusual passphrase 7")
        page.locator("#id_password2").fill("a long and unusual passphrase 7")
        shot(page, "01-sign-up")
        page.get_by_role("button", name="Sign up").click()
        page.wait_for_url("**/t/*/")
        assert page.get_by_test_id("current-team").inner_text() == "Guided Flow Ltd"
        shot(page, "02-team-home")

        # 2. Add a domain (in the test BIND9's `test` zone).
        name = f"guided-{secrets.token_hex(3)}.test"
        page.get_by_role("navigation", name="Team").get_by_role("link", name="Domains").click()
        page.get_by_label("Domain name").fill(name)
        shot(page, "03-add-domain")
        page.get_by_role("button", name="Add domain").click()
        page.get_by_test_id("domain-name").wait_for()
        assert page.get_by_test_id("domain-name").inner_text() == name

        # 3. The records page: what to publish. The first check already ran and found nothing.
        rows = record_rows(page)
        assert sorted(r["key"].split(":")[0] for r in rows) == ["dkim", "dmarc", "return_path", "spf"]
        dkim_key = next(r["key"] for r in rows if r["key"].startswith("dkim:"))
        page.wait_for_function(
            "key => document.querySelector(`[data-record-key=\"${key}\"] [data-testid=record-status] .badge`)"
            ".textContent.trim() === 'Missing'", arg=dkim_key)
        shot(page, "04-records-to-publish")

        # 4. Publish what the page shows, one record at a time, as a DNS admin would; the page follows by itself.
        # DMARC (recommended, not required) first: once every required record passes the domain is verified and
        # the next check is a day away.
        order = sorted(rows, key=lambda r: ["dmarc", "dkim", "return_path", "spf"].index(r["key"].split(":")[0]))
        for number, record in enumerate(order, start=1):
            value = record["value"]
            if record["type"] == "CNAME" and not value.endswith("."):
                value += "."  # in an update message (as in a zone file) a target without the dot is relative
            bind_server.publish(record["fqdn"], record["type"], value)
            try:
                page.wait_for_function(
                    "key => document.querySelector(`[data-record-key=\"${key}\"] [data-testid=record-status] .badge`)"
                    ".textContent.trim() === 'Pass'", arg=record["key"], timeout=45_000)
            except Exception:
                domain = Domain.objects.get(name=name)
                checks = [(c.key, c.status, c.message) for c in domain.record_checks.all()]
                raise AssertionError(f"{record['key']} never passed on the page: domain {domain.status}, next check "
                                     f"{domain.next_check_at}, last {domain.last_checked_at}, checks {checks}") from None
            still_waiting = [r["key"] for r in order[number:]]
            assert all(status_of(page, key) != "Pass" for key in still_waiting)
            if number == 2:
                shot(page, "05-records-half-verified")
        page.get_by_test_id("panel-domain-status").filter(has_text="Verified").wait_for()
        shot(page, "06-domain-verified")
        domain = Domain.objects.get(name=name)
        assert domain.status == DomainStatus.VERIFIED

        # 5. Issue an SMTP credential.
        page.get_by_role("navigation", name="Team").get_by_role("link", name="SMTP credentials").click()
        page.get_by_role("link", name="Issue a credential").click()
        page.get_by_label("Label").fill("Payroll system")
        shot(page, "07-issue-credential")
        page.get_by_role("button", name="Issue credential").click()
        page.wait_for_url("**/reveal/")
        secret = page.get_by_test_id("secret").inner_text()
        shot(page, "08-credential-revealed", full_page=False)  # the page goes on with a dozen snippets

        # 6. Copy the Python snippet with its button, as a person would, and run what the clipboard holds.
        button = page.locator('button[data-copy-target="#snippet-python"]')
        button.scroll_into_view_if_needed()
        button.click()
        page.wait_for_function("b => b.textContent === 'Copied'", arg=button.element_handle())
        copied = page.evaluate("navigator.clipboard.readText()")
        assert f'SMTP_PASSWORD = "{secret}"' in copied
        assert f"SMTP_PORT = {smtp_server.starttls_port}" in copied
        env = dict(os.environ, SSL_CERT_FILE=smtp_server.ca_file)
        result = subprocess.run([sys.executable, "-c", copied], capture_output=True, text=True, timeout=60, env=env,
                                cwd=ROOT)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "Sent"

        # 7. The SMTP server authenticated the credential and received the message from the new domain.
        credential = Credential.objects.get(team=domain.team)
        assert smtp_server.authenticated == [credential.username]
        assert [m.mail_from for m in smtp_server.received] == [f"noreply@{name}"]
        assert smtp_server.received[0].tls is True
        assert b"It works" in smtp_server.received[0].content
        page.goto(f"{topology.url}/t/{domain.team.slug}/credentials/")
        shot(page, "09-credential-list")
        assert problems == []
        # The secret never reached a log of the production processes.
        for name_ in ("web", "worker1", "worker2", "beat"):
            assert secret not in topology.log(name_)
    finally:
        context.close()
