"""The Nodemailer snippet, run for real: copied from the reveal page, run with `node` and the Nodemailer pinned in
tests/node/package.json (installed by `make test`), against the loopback SMTP server of tests/smtp_server.py.

The server's certificate is trusted through NODE_EXTRA_CA_CERTS, so Nodemailer verifies it as it would a real one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse

from credentials.models import Credential
from tests.conftest import need
from tests.credentials.conftest import issue_through_views, make_domain, snippet_from_html
from tests.smtp_server import RunningSMTPServer

pytestmark = pytest.mark.django_db(transaction=True)

NODE_MODULES = Path(__file__).resolve().parents[1] / "node" / "node_modules"
PINNED = json.loads((NODE_MODULES.parent / "package.json").read_text())["dependencies"]["nodemailer"]


def installed_nodemailer() -> str | None:
    package = NODE_MODULES / "nodemailer" / "package.json"
    return json.loads(package.read_text())["version"] if package.is_file() else None


def run_node(code: str, folder: Path, *, ca_file: str | None) -> subprocess.CompletedProcess[str]:
    """Save the snippet as the download's name and run it as a user would: `node send-mail.js`."""
    need(shutil.which("node") is not None, "node is not installed (apt-get install nodejs)")
    need(
        installed_nodemailer() == PINNED,
        f"nodemailer {PINNED} is not installed in tests/node (make test, or npm ci --prefix tests/node)",
    )
    script = folder / "send-mail.js"
    script.write_text(code)
    env = {k: v for k, v in os.environ.items() if k not in ("NODE_EXTRA_CA_CERTS", "NODE_TLS_REJECT_UNAUTHORIZED")}
    env["NODE_PATH"] = str(NODE_MODULES)
    if ca_file:
        env["NODE_EXTRA_CA_CERTS"] = ca_file
    return subprocess.run(["node", script.name], capture_output=True, text=True, timeout=60, env=env, cwd=folder)


def as_implicit_tls(code: str, smtp: RunningSMTPServer) -> str:
    """What the snippet's comment tells the user for port 465: secure: true on the implicit-TLS port."""
    starttls_port, secure_false = f"  port: {smtp.starttls_port},\n", "  secure: false,"
    assert code.count(starttls_port) == 1 and code.count(secure_false) == 1, code
    return code.replace(starttls_port, f"  port: {smtp.tls_port},\n").replace(secure_false, "  secure: true,")


@pytest.fixture
def reveal(smtp, login, teammate, team):
    """Issue through the views as the teammate; the reveal page's HTML and the secret."""
    make_domain(team, "acme.test")
    return issue_through_views(login(teammate), team)


def test_the_nodemailer_snippet_sends_over_starttls(smtp, reveal, tmp_path):
    page, secret = reveal
    credential = Credential.objects.get()
    code = snippet_from_html(page, "nodemailer")
    assert f"host: {json.dumps(smtp.host)}," in code and f"port: {smtp.starttls_port}," in code
    assert f"pass: {json.dumps(secret)}," in code

    result = run_node(code, tmp_path, ca_file=smtp.ca_file)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Sent: <") and "@acme.test>" in result.stdout
    assert smtp.authenticated == [credential.username]
    [message] = smtp.received
    assert message.username == credential.username
    assert message.mail_from == "noreply@acme.test"
    assert message.rcpt_tos == ["you@example.com"]
    assert message.tls is True
    assert b"Subject: Test from mailsetup" in message.content
    assert b"It works: this message went through mailsetup." in message.content
    credential.refresh_from_db()
    assert credential.last_used_ip == "127.0.0.1"


def test_the_nodemailer_snippet_sends_over_implicit_tls_with_secure_true(smtp, reveal, tmp_path):
    page, _ = reveal
    credential = Credential.objects.get()
    code = as_implicit_tls(snippet_from_html(page, "nodemailer"), smtp)

    result = run_node(code, tmp_path, ca_file=smtp.ca_file)

    assert result.returncode == 0, result.stdout + result.stderr
    assert smtp.authenticated == [credential.username]
    [message] = smtp.received
    assert message.username == credential.username and message.tls is True
    assert message.mail_from == "noreply@acme.test"


def test_the_nodemailer_snippet_refuses_a_server_certificate_it_cannot_verify(smtp, reveal, tmp_path):
    """Without our test CA the certificate is untrusted: the snippet stops before AUTH, the secret is not sent."""
    page, _ = reveal

    result = run_node(snippet_from_html(page, "nodemailer"), tmp_path, ca_file=None)

    assert result.returncode == 1
    assert result.stderr.startswith("Not sent: ") and "certificate" in result.stderr, result.stderr
    assert smtp.authenticated == [] and smtp.refused == []
    assert smtp.received == []


def test_the_nodemailer_snippet_of_a_revoked_credential_is_refused(smtp, reveal, login, teammate, team, tmp_path):
    page, _ = reveal
    credential = Credential.objects.get()
    login(teammate).post(reverse("credentials:revoke", args=[team.slug, credential.pk]))

    result = run_node(snippet_from_html(page, "nodemailer"), tmp_path, ca_file=smtp.ca_file)

    assert result.returncode == 1
    assert result.stderr.startswith("Not sent: Invalid login: 535"), result.stderr
    assert smtp.authenticated == []
    assert set(smtp.refused) == {credential.username}
    assert smtp.received == []
