"""Production settings as an operator runs them (deploy/env.example filled in): the response headers of a real
gunicorn, Django's deployment checks, and the refusal to start on a development secret."""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
from http.cookies import SimpleCookie

import pytest

from tests.conftest import PASSWORD, make_user
from tests.prod.topology import ROOT, Topology, filled_env_example, production_env, set_production_password

pytestmark = pytest.mark.e2e


def _manage(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def _clean_env(values: dict[str, str]) -> dict[str, str]:
    """Only what an operator's process would have: PATH and HOME plus the given settings (no pytest, no CI vars)."""
    import os

    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"), **values}


def test_check_deploy_is_clean_with_the_shipped_production_settings(tmp_path) -> None:
    env = _clean_env({**filled_env_example(), "MAILSETUP_VAR_DIR": str(tmp_path)})
    result = _manage(["check", "--deploy", "--fail-level", "WARNING"], env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output


@pytest.mark.parametrize(
    "change, complaint",
    [
        ({"SECRET_KEY": None}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "dev-only-insecure-secret-key-change-me-0123456789abcdef"}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "CHANGE-ME"}, "SECRET_KEY must be set"),
        ({"MAILSETUP_ENCRYPTION_KEYS": None}, "MAILSETUP_ENCRYPTION_KEYS must be set"),
        ({"MAILSETUP_ENCRYPTION_KEYS": "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMDEyMzQ1Njc="}, "MAILSETUP_ENCRYPTION_KEYS must be set"),
    ],
    ids=["no-secret-key", "dev-secret-key", "example-placeholder", "no-encryption-keys", "dev-encryption-key"],
)
def test_it_refuses_to_start_with_debug_off_on_a_development_secret(tmp_path, change, complaint) -> None:
    values = {**filled_env_example(), "MAILSETUP_VAR_DIR": str(tmp_path)}
    for name, value in change.items():
        if value is None:
            values.pop(name)
        else:
            values[name] = value
    result = _manage(["check"], _clean_env(values))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert complaint in result.stderr
    # The refusal names the setting, never its value.
    for value in change.values():
        if value and len(value) > 12:
            assert value not in result.stderr


def test_the_same_settings_start_when_every_secret_is_set(tmp_path) -> None:
    result = _manage(["check"], _clean_env({**filled_env_example(), "MAILSETUP_VAR_DIR": str(tmp_path)}))
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def web(django_db_setup, django_db_blocker):  # noqa: ANN001, ANN201
    """gunicorn from deploy/Procfile with the production settings, SSL redirect on as shipped."""
    topology = Topology(workers=0, beat=False, extra_env={"SECURE_SSL_REDIRECT": "true"})
    topology.start()
    yield topology
    topology.stop()


def _get(port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET",
         body: str | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers={"Host": f"localhost:{port}", **(headers or {})})
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


HTTPS = {"X-Forwarded-Proto": "https"}


def test_plain_http_is_redirected_to_https(web: Topology) -> None:
    response = _get(web.port, "/login/")
    assert response.status == 301
    assert response.getheader("Location") == f"https://localhost:{web.port}/login/"


def test_a_production_page_carries_the_security_headers(web: Topology) -> None:
    response = _get(web.port, "/login/", HTTPS)
    assert response.status == 200
    assert response.getheader("Strict-Transport-Security") == "max-age=31536000; includeSubDomains; preload"
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Referrer-Policy") == "same-origin"
    csp = response.getheader("Content-Security-Policy")
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    # And the page itself has no inline script for that policy to block: every <script> has a src.
    html = response.body.decode()  # type: ignore[attr-defined]
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts, "expected the page to load its scripts"
    assert all(" src=" in tag for tag in scripts), scripts
    assert not re.search(r"\son[a-z]+=\"", html), "inline event handler"
    cookie = SimpleCookie(response.getheader("Set-Cookie"))
    assert cookie["csrftoken"]["secure"] is True
    assert cookie["csrftoken"]["samesite"] == "Lax"


def test_static_files_are_served_by_whitenoise_with_long_caching(web: Topology) -> None:
    html = _get(web.port, "/login/", HTTPS).body.decode()  # type: ignore[attr-defined]
    href = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', html)
    assert href, "expected the hashed stylesheet name of the manifest storage"
    response = _get(web.port, href.group(1), {**HTTPS, "Accept-Encoding": "gzip"})
    assert response.status == 200
    assert "immutable" in response.getheader("Cache-Control")
    assert response.getheader("Content-Encoding") == "gzip"


def test_the_session_cookie_is_secure_and_http_only(web: Topology, transactional_db: None) -> None:
    set_production_password(make_user("headers@example.test"), PASSWORD)
    first = _get(web.port, "/login/", HTTPS)
    csrf = SimpleCookie(first.getheader("Set-Cookie"))["csrftoken"].value
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', first.body.decode()).group(1)  # type: ignore[attr-defined]
    from urllib.parse import urlencode

    origin = f"https://localhost:{web.port}"
    response = _get(
        web.port, "/login/",
        {**HTTPS, "Cookie": f"csrftoken={csrf}", "Origin": origin, "Referer": f"{origin}/login/",
         "Content-Type": "application/x-www-form-urlencoded"},
        method="POST", body=urlencode({"csrfmiddlewaretoken": token, "username": "headers@example.test",
                                       "password": PASSWORD}),
    )
    assert response.status == 302, response.body[:500]  # type: ignore[attr-defined]
    cookies = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie"):
        cookies.load(header)
    assert cookies["sessionid"]["secure"] is True
    assert cookies["sessionid"]["httponly"] is True
    assert cookies["sessionid"]["samesite"] == "Lax"


def test_production_env_is_what_the_processes_get(web: Topology) -> None:
    # Guard against a test topology that quietly runs in debug mode.
    env = production_env(web.port)
    assert env["DEBUG"] == "false"
    assert _get(web.port, "/no-such-page/", HTTPS).status == 404
    assert b"Django" not in _get(web.port, "/no-such-page/", HTTPS).body  # type: ignore[attr-defined]
