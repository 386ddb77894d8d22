"""In a real Chromium: sign up, create a second team, invite someone; they open the emailed link, sign up, and
land in the team."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from domains.models import CheckStatus, Domain, DomainStatus, RecordCheck
from mailsetup.models import Membership, Role, Team

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long enough passphrase 31"


def watch_console(page: Any) -> list[str]:
    problems: list[str] = []

    def on_console(msg: Any) -> None:
        # The browser's own favicon probe is not a page error; a CSP violation or a failing script is.
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            problems.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def test_invite_a_colleague_who_signs_up_through_the_emailed_link(
    live_server,
    settings,
    mailoutbox,
    page,
    new_context,  # noqa: ANN001
) -> None:
    settings.SITE_URL = live_server.url
    problems = watch_console(page)

    # Sign up: the first team comes with the account.
    page.goto(f"{live_server.url}/signup/")
    page.get_by_label("Email").fill("olga@example.test")
    page.get_by_label("Your name").fill("Olga Owner")
    page.get_by_label("Team name").fill("Olga Mail")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{live_server.url}/t/olga-mail/")
    assert page.get_by_test_id("current-team").inner_text() == "Olga Mail"

    # A second team, through the team switcher.
    page.get_by_label("Switch team").click()
    page.get_by_role("link", name="+ New team").click()
    page.get_by_label("Team name").fill("Payroll Sender")
    page.get_by_role("button", name="Create team").click()
    page.wait_for_url(f"{live_server.url}/t/payroll-sender/")
    assert page.get_by_test_id("current-team").inner_text() == "Payroll Sender"

    # Invite a colleague (the form posts with htmx; a bad address first shows the error beside the field).
    page.get_by_role("link", name="Invite someone").first.click()
    page.wait_for_url(f"{live_server.url}/t/payroll-sender/invitations/")
    page.get_by_label("Email").fill("not-an-address")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text("Enter a valid email address.").wait_for()
    page.get_by_label("Email").fill("maria@example.test")
    page.get_by_label("Role").select_option("member")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text("Invitation sent to maria@example.test").wait_for()
    assert page.locator("tr[data-invitation='maria@example.test']").count() == 1

    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["maria@example.test"]
    link = re.search(r"(https?://\S+/invite/\S+/)", mailoutbox[0].body).group(1)
    assert link.startswith(live_server.url)

    # The invitee, in a browser of their own, opens the link and signs up; the address is fixed.
    invitee = new_context().new_page()
    invitee_problems = watch_console(invitee)
    invitee.goto(link)
    assert invitee.get_by_role("heading", name="Join Payroll Sender").is_visible()
    assert invitee.get_by_label("Email").input_value() == "maria@example.test"
    assert invitee.get_by_label("Email").is_disabled()
    invitee.get_by_label("Your name").fill("Maria Member")
    invitee.get_by_label("Password", exact=True).fill(PASSWORD)
    invitee.get_by_label("Password again").fill(PASSWORD)
    invitee.get_by_role("button", name="Sign up and join").click()
    invitee.wait_for_url(f"{live_server.url}/t/payroll-sender/")
    assert invitee.get_by_test_id("current-team").inner_text() == "Payroll Sender"
    invitee.get_by_text("Welcome! You joined Payroll Sender.").wait_for()
    assert Membership.objects.get(user__email="maria@example.test").role == Role.MEMBER

    # The owner sees the new member.
    page.goto(f"{live_server.url}/t/payroll-sender/members/")
    assert page.locator("tr[data-member='maria@example.test']").count() == 1
    # Domains are another app's pages: seed one whose DKIM record already passes, so the checklist shows progress.
    team = Team.objects.get(slug="payroll-sender")
    domain = Domain.objects.create(team=team, name="payroll.example.com", status=DomainStatus.PENDING)
    RecordCheck.objects.create(domain=domain, key="dkim:ms1", status=CheckStatus.PASS)
    page.goto(f"{live_server.url}/t/payroll-sender/")
    assert page.locator("[data-testid=checklist] li.done").count() == 2
    page.screenshot(path=str(Path(settings.VAR_DIR) / "team-home.png"), full_page=True)

    assert problems == []
    assert invitee_problems == []
