"""The snippets, run for real: Python smtplib, swaks and curl, with the reveal page's values, against a real SMTP
server on loopback (aiosmtpd, STARTTLS and implicit TLS) whose AUTH goes through credentials.services.authenticate.
"""

from __future__ import annotations

import os
import shutil
import smtplib
import ssl
import subprocess
import sys

import pytest
from django.urls import reverse

from credentials.models import Credential
from tests.conftest import need
from tests.credentials.conftest import issue_through_views, make_domain, secret_from_html, snippet_from_html
from tests.smtp_server import RunningSMTPServer

pytestmark = pytest.mark.django_db(transaction=True)


def run(args: list[str], smtp: RunningSMTPServer, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SSL_CERT_FILE=smtp.ca_file, CURL_CA_BUNDLE=smtp.ca_file)
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env=env, **kwargs)


@pytest.fixture
def reveal(smtp, login, teammate, team):
    """Issue through the views as the teammate; the reveal page's HTML and the secret."""
    make_domain(team, "acme.test")
    return issue_through_views(login(teammate), team)


def test_the_python_snippet_sends_over_starttls(smtp, reveal):
    page, secret = reveal
    credential = Credential.objects.get()
    code = snippet_from_html(page, "python")
    assert f'SMTP_HOST = "{smtp.host}"' in code and f"SMTP_PORT = {smtp.starttls_port}" in code

    result = run([sys.executable, "-c", code], smtp)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Sent"
    assert smtp.authenticated == [credential.username]
    [message] = smtp.received
    assert message.username == credential.username
    assert message.mail_from == "noreply@acme.test"
    assert message.rcpt_tos == ["you@example.com"]
    assert message.tls is True
    assert b"Subject: Test from mailsetup" in message.content
    credential.refresh_from_db()
    assert credential.last_used_at is not None
    assert credential.last_used_ip == "127.0.0.1"


def test_the_swaks_command_sends_over_starttls(smtp, reveal):
    need(shutil.which("swaks") is not None, "swaks is not installed (apt-get install swaks)")
    page, _ = reveal
    credential = Credential.objects.get()
    command = snippet_from_html(page, "swaks").rstrip("\n") + f" --tls-verify --tls-ca-path {smtp.ca_file}\n"

    result = run(["bash", "-c", command], smtp)

    assert result.returncode == 0, result.stdout + result.stderr
    assert smtp.authenticated == [credential.username]
    [message] = smtp.received
    assert message.username == credential.username and message.tls is True
    assert b"It works" in message.content


def test_the_curl_command_authenticates_over_implicit_tls(smtp, reveal):
    """aiosmtpd offers AUTH on the implicit-TLS port only with auth_require_tls off; curl proves it does."""
    need(shutil.which("curl") is not None, "curl is not installed")
    page, _ = reveal
    credential = Credential.objects.get()
    command = snippet_from_html(page, "curl")
    assert f"smtps://{smtp.host}:{smtp.tls_port}" in command

    result = run(["bash", "-c", command], smtp)

    assert result.returncode == 0, result.stderr
    assert smtp.authenticated == [credential.username]
    [message] = smtp.received
    assert message.username == credential.username and message.tls is True
    assert message.mail_from == "noreply@acme.test"


def test_a_revoked_credential_is_refused(smtp, reveal, login, teammate, team):
    page, _ = reveal
    credential = Credential.objects.get()
    login(teammate).post(reverse("credentials:revoke", args=[team.slug, credential.pk]))

    result = run([sys.executable, "-c", snippet_from_html(page, "python")], smtp)

    assert result.returncode != 0
    assert "SMTPAuthenticationError" in result.stderr and "535" in result.stderr
    assert smtp.authenticated == []
    # smtplib tries each mechanism the server offers (PLAIN, then LOGIN): each is refused.
    assert set(smtp.refused) == {credential.username}
    assert smtp.received == []


def test_a_rotated_away_secret_is_refused_and_the_new_one_works(smtp, reveal, login, teammate, team):
    old_page, old_secret = reveal
    credential = Credential.objects.get()
    client = login(teammate)
    response = client.post(reverse("credentials:rotate", args=[team.slug, credential.pk]))
    new_page = client.get(response["Location"]).content.decode()
    new_secret = secret_from_html(new_page)
    assert new_secret != old_secret

    old = run([sys.executable, "-c", snippet_from_html(old_page, "python")], smtp)
    new = run([sys.executable, "-c", snippet_from_html(new_page, "python")], smtp)

    assert old.returncode != 0 and "535" in old.stderr
    assert new.returncode == 0, new.stderr
    assert set(smtp.refused) == {credential.username}
    assert smtp.authenticated == [credential.username]
    assert len(smtp.received) == 1


def test_the_server_refuses_a_sender_outside_the_credentials_domains(smtp, reveal):
    _, secret = reveal
    credential = Credential.objects.get()
    context = ssl.create_default_context(cafile=smtp.ca_file)
    with smtplib.SMTP_SSL(smtp.host, smtp.tls_port, context=context, timeout=30) as client:
        client.login(credential.username, secret)
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("noreply@sub.acme.test", ["you@example.com"], b"Subject: x\r\n\r\nx\r\n")
    assert refused.value.smtp_code == 550
    assert smtp.received == []


def test_starttls_is_required_before_auth(smtp, reveal):
    _, secret = reveal
    credential = Credential.objects.get()
    with smtplib.SMTP(smtp.host, smtp.starttls_port, timeout=30) as client:
        client.ehlo()
        code, _ = client.docmd("AUTH", "PLAIN")
    assert code == 530
    assert smtp.authenticated == [] and smtp.refused == []
    assert Credential.objects.get().last_used_at is None
    assert credential.username not in smtp.authenticated


def test_the_django_settings_snippet_sends_with_djangos_smtp_backend(smtp, reveal, monkeypatch):
    from django.core.mail import EmailMessage, get_connection

    page, secret = reveal
    credential = Credential.objects.get()
    snippet: dict[str, object] = {}
    exec(compile(snippet_from_html(page, "django"), "settings.py", "exec"), snippet)
    assert snippet["EMAIL_HOST_PASSWORD"] == secret
    monkeypatch.setenv("SSL_CERT_FILE", smtp.ca_file)  # read when Django makes its default SSL context
    connection = get_connection(
        snippet["EMAIL_BACKEND"],
        host=snippet["EMAIL_HOST"],
        port=snippet["EMAIL_PORT"],
        username=snippet["EMAIL_HOST_USER"],
        password=snippet["EMAIL_HOST_PASSWORD"],
        use_tls=snippet["EMAIL_USE_TLS"],
        timeout=snippet["EMAIL_TIMEOUT"],
    )

    sent = EmailMessage("Hello", "From Django", snippet["DEFAULT_FROM_EMAIL"], ["you@example.com"], connection=connection).send()

    assert sent == 1
    assert smtp.authenticated == [credential.username]
    [message] = smtp.received
    assert message.mail_from == "noreply@acme.test" and message.tls is True


def test_the_implicit_tls_port_offers_auth(smtp):
    """The aiosmtpd 1.4 trap (its issues #274, #281): with auth_require_tls on, an implicit-TLS listener offers no
    AUTH at all. Ours must offer it."""
    context = ssl.create_default_context(cafile=smtp.ca_file)
    with smtplib.SMTP_SSL(smtp.host, smtp.tls_port, context=context, timeout=30) as client:
        client.ehlo()
        assert client.has_extn("auth")
        assert set(client.esmtp_features["auth"].split()) == {"LOGIN", "PLAIN"}
    with smtplib.SMTP(smtp.host, smtp.starttls_port, timeout=30) as client:
        client.ehlo()
        assert not client.has_extn("auth")  # not before STARTTLS
        client.starttls(context=context)
        client.ehlo()
        assert client.has_extn("auth")
