"""Configuration snippets, one template file per client: templates/credentials/snippets/<slug>.txt.

Adding a client is adding a file and a row to CLIENTS. Each template gets the same context (see
`snippet_context`) and quotes values with the filters of credentials/templatetags/snippet_quote.py.
The secret is filled in only on the one-time reveal page; everywhere else it is PLACEHOLDER.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.template import Context, engines

from .models import Credential

# Not a password anyone could mistake for a real one, and still a valid string in every snippet language.
PLACEHOLDER = "<PASTE-YOUR-SMTP-SECRET-HERE>"
TEST_RECIPIENT = "you@example.com"


@dataclass(frozen=True)
class Client:
    slug: str
    name: str
    template: str
    language: str  # what the text is, for tests and highlighting: python, javascript, dotenv, properties, shell...
    filename: str  # the download's name
    intro: str = ""
    # How this client names the two TLS modes: STARTTLS (587, 2525, 25) and implicit TLS (465).
    starttls_words: str = ""
    implicit_tls_words: str = ""


def _client(slug: str, name: str, language: str, filename: str, intro: str, starttls: str, implicit: str) -> Client:
    return Client(slug, name, f"credentials/snippets/{slug}.txt", language, filename, intro, starttls, implicit)


CLIENTS: tuple[Client, ...] = (
    _client(
        "generic",
        "Settings",
        "text",
        "smtp-settings.txt",
        "The values any program asks for.",
        "STARTTLS",
        "SSL/TLS, implicit TLS or SMTPS",
    ),
    _client(
        "wordpress",
        "WordPress",
        "php",
        "wp-config-smtp.php",
        "For the WP Mail SMTP plugin: type the fields into its settings, or paste the constants into wp-config.php "
        "above the line “That's all, stop editing!”.",
        "Encryption: TLS",
        "Encryption: SSL",
    ),
    _client(
        "hr",
        "HR & payroll",
        "text",
        "hr-payroll-smtp.txt",
        "HR, payroll and accounting programs (and most other desktop software) ask for these fields under "
        "“Email settings”, “Outgoing mail” or “SMTP”.",
        "“TLS”, “STARTTLS” or “TLS if available”",
        "“SSL” or “SSL/TLS”",
    ),
    _client(
        "django",
        "Django",
        "python",
        "settings_email.py",
        "Add to settings.py. Better: read the password from the environment.",
        "EMAIL_USE_TLS = True",
        "EMAIL_USE_SSL = True",
    ),
    _client(
        "laravel",
        "Laravel",
        "dotenv",
        "laravel.env",
        "Lines for your .env file.",
        "MAIL_SCHEME=smtp (Laravel 10 and older: MAIL_ENCRYPTION=tls)",
        "MAIL_SCHEME=smtps (Laravel 10 and older: MAIL_ENCRYPTION=ssl)",
    ),
    _client(
        "rails",
        "Rails",
        "ruby",
        "smtp_settings.rb",
        "In config/environments/production.rb, inside Rails.application.configure.",
        "enable_starttls: true",
        "tls: true",
    ),
    _client(
        "nodemailer",
        "Node.js",
        "javascript",
        "send-mail.js",
        "With Nodemailer (npm install nodemailer).",
        "secure: false, requireTLS: true",
        "secure: true",
    ),
    _client(
        "phpmailer",
        "PHP",
        "php",
        "send-mail.php",
        "With PHPMailer (composer require phpmailer/phpmailer).",
        "PHPMailer::ENCRYPTION_STARTTLS ('tls')",
        "PHPMailer::ENCRYPTION_SMTPS ('ssl')",
    ),
    _client(
        "python",
        "Python",
        "python",
        "send_mail.py",
        "With the standard library only (smtplib). Run it with python3 send_mail.py.",
        "smtplib.SMTP + starttls()",
        "smtplib.SMTP_SSL",
    ),
    _client(
        "spring",
        "Spring Boot",
        "properties",
        "application.properties",
        "Lines for application.properties (spring-boot-starter-mail).",
        "mail.smtp.starttls.enable=true",
        "mail.smtp.ssl.enable=true",
    ),
    _client(
        "dotnet",
        ".NET",
        "csharp",
        "SendMail.cs",
        "With MailKit (dotnet add package MailKit); System.Net.Mail.SmtpClient is obsolete.",
        "SecureSocketOptions.StartTls",
        "SecureSocketOptions.SslOnConnect",
    ),
    _client(
        "postfix",
        "Postfix main.cf",
        "postfix-main-cf",
        "main.cf",
        "Relay a server's outgoing mail through us: add to /etc/postfix/main.cf, then create sasl_passwd (next tab).",
        "smtp_tls_security_level = encrypt",
        "smtp_tls_wrappermode = yes",
    ),
    _client(
        "postfix-sasl",
        "Postfix sasl_passwd",
        "postfix-map",
        "sasl_passwd",
        "The password file main.cf points to: /etc/postfix/sasl_passwd. Then run the commands in its comments.",
        "[host]:587",
        "[host]:465 with smtp_tls_wrappermode = yes",
    ),
    _client(
        "swaks",
        "swaks",
        "shell",
        "swaks-test.sh",
        "Send a test message from a shell with swaks (apt install swaks).",
        "--tls",
        "--tls-on-connect",
    ),
    _client(
        "curl",
        "curl",
        "shell",
        "curl-test.sh",
        "Send a test message from a shell with curl, over implicit TLS on port 465.",
        "smtp://… --ssl-reqd",
        "smtps://…",
    ),
)

CLIENTS_BY_SLUG = {client.slug: client for client in CLIENTS}


def smtp_ports() -> list[dict[str, object]]:
    """The platform's ports with their TLS mode and when to pick each, for the settings table."""
    ports = settings.MAILSETUP_SMTP_PORTS
    return [
        {
            "port": ports["starttls"],
            "mode": "STARTTLS",
            "key": "starttls",
            "when": "Recommended. The standard port for programs that send mail (submission).",
        },
        {
            "port": ports["tls"],
            "mode": "Implicit TLS (“SSL/TLS”, SMTPS)",
            "key": "tls",
            "when": "When your program only offers “SSL” or “SSL/TLS”, or cannot do STARTTLS.",
        },
        {
            "port": ports["alt"],
            "mode": "STARTTLS",
            "key": "alt",
            "when": f"When a firewall or hosting provider blocks {ports['starttls']} (common on cloud servers).",
        },
        {
            "port": ports["mx"],
            "mode": "STARTTLS",
            "key": "mx",
            "when": "Server-to-server relaying only; many ISPs and clouds block outgoing port 25.",
        },
    ]


def sender_address(domains: list[str]) -> str:
    return f"noreply@{domains[0]}" if domains else "noreply@your-verified-domain.example"


def snippet_context(*, credential: Credential, domains: list[str], secret: str | None = None) -> dict[str, object]:
    ports = settings.MAILSETUP_SMTP_PORTS
    host = settings.MAILSETUP_SMTP_HOST
    password = secret or PLACEHOLDER
    return {
        "host": host,
        "port": ports["starttls"],
        "tls_port": ports["tls"],
        "alt_port": ports["alt"],
        "mx_port": ports["mx"],
        "username": credential.username,
        "password": password,
        "user_and_password": f"{credential.username}:{password}",
        "smtps_url": f"smtps://{host}:{ports['tls']}",
        "has_secret": bool(secret),
        "from_address": sender_address(domains),
        "domains": domains,
        "to_address": TEST_RECIPIENT,
    }


def render_snippet(client: Client, context: dict[str, object]) -> str:
    # Text, not HTML: no HTML escaping; each template quotes values for its own language.
    template = engines["django"].engine.get_template(client.template)
    return template.render(Context(context, autoescape=False)).strip("\n") + "\n"


def render_all(context: dict[str, object]) -> list[tuple[Client, str]]:
    return [(client, render_snippet(client, context)) for client in CLIENTS]
