"""Every snippet that a tool here can parse is parsed by it, with the placeholder and with a real secret:
Python with compile() (the Django settings are executed too), JavaScript with `node --check`, .env with
python-dotenv, .properties with jproperties, main.cf with `postconf -n`, sasl_passwd with `postmap -q`,
shell commands with `bash -n`. The quoting filters are checked with values that would break naive quoting.
"""

from __future__ import annotations

import ast
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from dotenv import dotenv_values
from jproperties import Properties

from credentials import tokens
from credentials.models import Credential
from credentials.snippets import CLIENTS, CLIENTS_BY_SLUG, PLACEHOLDER, render_snippet, snippet_context
from credentials.templatetags import snippet_quote
from tests.conftest import need

SECRET = tokens.generate_secret()
# Ruby reads -e code and files in the locale's encoding: without a UTF-8 locale, non-ASCII text is an error.
UTF8_ENV = dict(os.environ, LC_ALL="C.UTF-8")
USERNAME = "acme-k3x9p2qa"


def rendered(slug: str, secret: str | None) -> str:
    credential = Credential(username=USERNAME)
    context = snippet_context(credential=credential, domains=["acme.test", "shop.acme.test"], secret=secret)
    return render_snippet(CLIENTS_BY_SLUG[slug], context)


SECRETS = [pytest.param(None, id="placeholder"), pytest.param(SECRET, id="secret")]


def expected_password(secret: str | None) -> str:
    return secret or PLACEHOLDER


def test_every_client_has_a_template_and_a_unique_filename():
    assert len({c.slug for c in CLIENTS}) == len(CLIENTS)
    assert len({c.filename for c in CLIENTS}) == len(CLIENTS)
    root = Path(__file__).resolve().parents[2] / "templates"
    for client in CLIENTS:
        assert (root / client.template).is_file(), client.template


@pytest.mark.parametrize("secret", SECRETS)
def test_every_snippet_names_the_host_and_no_unfilled_variable(settings, secret):
    settings.MAILSETUP_SMTP_HOST = "smtp.example.net"
    for client in CLIENTS:
        text = rendered(client.slug, secret)
        assert "smtp.example.net" in text, client.slug
        assert "{{" not in text and "{%" not in text, client.slug
        # A variable missing from the context renders as "": no empty literal anywhere.
        assert '""' not in text and "''" not in text and "=\n" not in text, client.slug


@pytest.mark.parametrize("secret", SECRETS)
def test_python_snippets_compile(secret):
    for client in CLIENTS:
        if client.language == "python":
            compile(rendered(client.slug, secret), client.filename, "exec")


@pytest.mark.parametrize("secret", SECRETS)
def test_the_django_settings_hold_the_values(settings, secret):
    settings.MAILSETUP_SMTP_PORTS = {"starttls": 587, "tls": 465, "alt": 2525, "mx": 25}
    namespace: dict[str, object] = {}
    exec(compile(rendered("django", secret), "settings_email.py", "exec"), namespace)  # noqa: S102
    assert namespace["EMAIL_HOST"] == settings.MAILSETUP_SMTP_HOST
    assert namespace["EMAIL_PORT"] == 587
    assert namespace["EMAIL_USE_TLS"] is True
    assert namespace["EMAIL_HOST_USER"] == USERNAME
    assert namespace["EMAIL_HOST_PASSWORD"] == expected_password(secret)
    assert namespace["DEFAULT_FROM_EMAIL"] == "noreply@acme.test"


@pytest.mark.parametrize("secret", SECRETS)
def test_the_nodemailer_snippet_passes_node_check(tmp_path, secret):
    need(shutil.which("node") is not None, "node is not installed")
    path = tmp_path / "send-mail.js"
    path.write_text(rendered("nodemailer", secret))
    result = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("secret", SECRETS)
def test_the_laravel_env_parses_with_the_values(caplog, secret):
    values = dotenv_values(stream=io.StringIO(rendered("laravel", secret)), interpolate=False)
    assert not [r for r in caplog.records if r.name.startswith("dotenv")], caplog.text
    assert values["MAIL_MAILER"] == "smtp"
    assert values["MAIL_HOST"] == "smtp.mailsetup.test"
    assert values["MAIL_PORT"] == "587"
    assert values["MAIL_USERNAME"] == USERNAME
    assert values["MAIL_PASSWORD"] == expected_password(secret)
    assert values["MAIL_SCHEME"] == "smtp" and values["MAIL_ENCRYPTION"] == "tls"
    assert values["MAIL_FROM_ADDRESS"] == "noreply@acme.test"


@pytest.mark.parametrize("secret", SECRETS)
def test_the_spring_properties_parse_with_the_values(secret):
    properties = Properties()
    properties.load(rendered("spring", secret).encode("iso-8859-1"), "iso-8859-1")
    assert properties["spring.mail.host"].data == "smtp.mailsetup.test"
    assert properties["spring.mail.port"].data == "587"
    assert properties["spring.mail.username"].data == USERNAME
    assert properties["spring.mail.password"].data == expected_password(secret)
    assert properties["spring.mail.properties.mail.smtp.starttls.required"].data == "true"


def test_the_postfix_main_cf_passes_postconf(tmp_path):
    need(shutil.which("postconf") is not None, "postfix is not installed (apt-get install postfix)")
    (tmp_path / "main.cf").write_text(rendered("postfix", None))
    master = Path("/etc/postfix/master.cf")
    (tmp_path / "master.cf").write_text(master.read_text() if master.exists() else "")
    result = subprocess.run(["postconf", "-c", str(tmp_path), "-n"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr, result.stderr
    lines = set(result.stdout.splitlines())
    assert "relayhost = [smtp.mailsetup.test]:587" in lines
    assert "smtp_sasl_auth_enable = yes" in lines
    assert "smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd" in lines
    assert "smtp_tls_security_level = encrypt" in lines


@pytest.mark.parametrize("secret", SECRETS)
def test_the_sasl_passwd_answers_postmap_for_the_relayhost(tmp_path, secret):
    need(shutil.which("postmap") is not None, "postfix is not installed (apt-get install postfix)")
    path = tmp_path / "sasl_passwd"
    path.write_text(rendered("postfix-sasl", secret))
    result = subprocess.run(
        ["postmap", "-q", "[smtp.mailsetup.test]:587", f"texthash:{path}"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{USERNAME}:{expected_password(secret)}"


@pytest.mark.parametrize("secret", SECRETS)
def test_shell_snippets_pass_bash_n(secret):
    for client in CLIENTS:
        if client.language == "shell":
            result = subprocess.run(
                ["bash", "-n"], input=rendered(client.slug, secret), capture_output=True, text=True, timeout=30
            )
            assert result.returncode == 0, (client.slug, result.stderr)


def test_the_wordpress_constants_use_the_wp_mail_smtp_names():
    text = rendered("wordpress", None)
    for constant in (
        "WPMS_ON",
        "WPMS_MAILER",
        "WPMS_SMTP_HOST",
        "WPMS_SMTP_PORT",
        "WPMS_SSL",
        "WPMS_SMTP_AUTH",
        "WPMS_SMTP_USER",
        "WPMS_SMTP_PASS",
        "WPMS_MAIL_FROM",
    ):
        assert f"define( '{constant}'," in text
    assert f"define( 'WPMS_SMTP_PASS', '{PLACEHOLDER}' );" in text
    assert text.startswith("<?php")


def test_the_placeholder_cannot_be_taken_for_a_secret():
    assert not tokens.SECRET_RE.match(PLACEHOLDER)
    assert "PASTE" in PLACEHOLDER and " " not in PLACEHOLDER


NASTY = ["plain", "it's", 'say "hi"', "back\\slash", "dollar $HOME ${X}", "#hash", " leading", "tab\tand\nnewline", "ünïcode €"]


@pytest.mark.parametrize("value", NASTY)
def test_python_quoting_round_trips(value):
    assert ast.literal_eval(snippet_quote.py(value)) == value


@pytest.mark.parametrize("value", NASTY)
def test_shell_quoting_round_trips(value):
    result = subprocess.run(["bash", "-c", f"printf %s {snippet_quote.sh(value)}"], capture_output=True, text=True)
    assert result.stdout == value


def test_javascript_quoting_round_trips():
    need(shutil.which("node") is not None, "node is not installed")
    literals = ", ".join(snippet_quote.js(v) for v in NASTY)
    result = subprocess.run(
        ["node", "-e", f"process.stdout.write(JSON.stringify([{literals}]))"], capture_output=True, text=True, timeout=30
    )
    assert json.loads(result.stdout) == NASTY


@pytest.mark.parametrize("value", NASTY)
def test_dotenv_quoting_round_trips(value):
    values = dotenv_values(stream=io.StringIO(f"KEY={snippet_quote.dotenv(value)}\n"), interpolate=False)
    assert values["KEY"] == value


@pytest.mark.parametrize("value", NASTY)
def test_properties_quoting_round_trips(value):
    properties = Properties()
    properties.load(f"key={snippet_quote.properties(value)}\n".encode("iso-8859-1"), "iso-8859-1")
    assert properties["key"].data == value


def test_php_quoting_round_trips():
    need(shutil.which("php") is not None, "PHP is not installed (apt-get install php-cli)")
    literals = ", ".join(snippet_quote.php(v) for v in NASTY)
    result = subprocess.run(["php", "-r", f"echo json_encode([{literals}]);"], capture_output=True, text=True, timeout=30)
    assert json.loads(result.stdout) == NASTY


def test_ruby_quoting_round_trips():
    need(shutil.which("ruby") is not None, "Ruby is not installed (apt-get install ruby)")
    literals = ", ".join(snippet_quote.ruby(v) for v in NASTY)
    result = subprocess.run(
        ["ruby", "-e", f'require "json"; print JSON.generate([{literals}])'],
        capture_output=True,
        text=True,
        timeout=30,
        env=UTF8_ENV,
    )
    assert json.loads(result.stdout) == NASTY


@pytest.mark.parametrize("secret", SECRETS)
def test_php_snippets_pass_php_lint(tmp_path, secret):
    need(shutil.which("php") is not None, "PHP is not installed (apt-get install php-cli)")
    for client in CLIENTS:
        if client.language == "php":
            path = tmp_path / client.filename
            path.write_text(rendered(client.slug, secret))
            result = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True, timeout=30)
            assert result.returncode == 0, (client.slug, result.stdout, result.stderr)


@pytest.mark.parametrize("secret", SECRETS)
def test_the_wordpress_constants_hold_the_values_in_php(tmp_path, secret):
    need(shutil.which("php") is not None, "PHP is not installed (apt-get install php-cli)")
    path = tmp_path / "wp-config-smtp.php"
    path.write_text(rendered("wordpress", secret))
    code = (
        f"include {snippet_quote.php(str(path))}; echo json_encode(['host' => WPMS_SMTP_HOST, 'port' => WPMS_SMTP_PORT, "
        "'ssl' => WPMS_SSL, 'user' => WPMS_SMTP_USER, 'pass' => WPMS_SMTP_PASS, 'from' => WPMS_MAIL_FROM]);"
    )
    result = subprocess.run(["php", "-r", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "host": "smtp.mailsetup.test",
        "port": 587,
        "ssl": "tls",
        "user": USERNAME,
        "pass": expected_password(secret),
        "from": "noreply@acme.test",
    }


# Evaluates the Rails snippet against a stand-in for Rails' `config` that records what is assigned.
RUBY_HARNESS = """
require "json"
class Recorder
  def initialize; @values = {}; end
  def method_missing(name, *args)
    key = name.to_s
    return @values[key.chomp("=")] = args[0] if key.end_with?("=")
    @values[key] ||= Recorder.new
  end
  def respond_to_missing?(*) = true
  def to_h = @values.transform_values { |v| v.is_a?(Recorder) ? v.to_h : v }
end
config = Recorder.new
eval(File.read(ARGV[0]), binding, ARGV[0])
puts JSON.generate(config.to_h)
"""


@pytest.mark.parametrize("secret", SECRETS)
def test_the_rails_settings_hold_the_values_in_ruby(tmp_path, secret):
    need(shutil.which("ruby") is not None, "Ruby is not installed (apt-get install ruby)")
    path = tmp_path / "smtp_settings.rb"
    path.write_text(rendered("rails", secret))
    syntax = subprocess.run(["ruby", "-c", str(path)], capture_output=True, text=True, timeout=30, env=UTF8_ENV)
    assert syntax.returncode == 0, syntax.stderr
    result = subprocess.run(["ruby", "-e", RUBY_HARNESS, str(path)], capture_output=True, text=True, timeout=30, env=UTF8_ENV)
    assert result.returncode == 0, result.stderr
    mailer = json.loads(result.stdout)["action_mailer"]
    assert mailer["delivery_method"] == "smtp"
    assert mailer["smtp_settings"] == {
        "address": "smtp.mailsetup.test",
        "port": 587,
        "user_name": USERNAME,
        "password": expected_password(secret),
        "authentication": "plain",
        "enable_starttls": True,
        "open_timeout": 10,
        "read_timeout": 30,
    }
    assert mailer["default_options"] == {"from": "noreply@acme.test"}
