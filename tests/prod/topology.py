"""The production topology, started from the repository's own deploy/ files: deploy/release.sh, then the
deploy/Procfile's web (gunicorn with deploy/gunicorn.conf.py), two workers and one beat, with the settings of
deploy/env.example (secrets filled in) pointed at the test database and broker.

Under `make test-prod` that is PostgreSQL and Redis; under `make test`, the SQLite test file and the filesystem
broker. Tests that use it need `transactional_db`: the processes see only committed rows.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet
from django.conf import settings

from tests.processes import purge_filesystem_queue, stop_process, worker_env
from tests.prod.services import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy"
VENV_BIN = Path(sys.executable).parent


def procfile() -> dict[str, str]:
    """deploy/Procfile as {process name: command}."""
    commands = {}
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            commands[name.strip()] = command.strip()
    return commands


def env_example() -> dict[str, str]:
    """deploy/env.example as a dict (the values as an operator would copy them)."""
    values = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def filled_env_example() -> dict[str, str]:
    """env.example with every CHANGE-ME secret filled in with a fresh random value, as the operator is told to."""
    values = env_example()
    values["SECRET_KEY"] = secrets.token_urlsafe(50)
    values["MAILSETUP_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    values["DATABASE_URL"] = values["DATABASE_URL"].replace("CHANGE-ME", secrets.token_urlsafe(16))
    assert not [k for k, v in values.items() if "CHANGE-ME" in v], "env.example has a CHANGE-ME not filled here"
    return values


def production_env(port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a production process in tests: env.example filled in, on the test database and broker.

    Plain HTTP on loopback (no TLS proxy here), so the redirect to HTTPS is off; everything else stays as shipped.
    """
    env = worker_env()  # os.environ + the test database, var dir and broker
    for name in ("DEBUG", "SECRET_KEY", "MAILSETUP_ENCRYPTION_KEYS", "CACHE_URL"):
        env.pop(name, None)
    values = filled_env_example()
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "MAILSETUP_VAR_DIR"):
        values[name] = env.get(name) or values[name]
    if "DATABASE_URL" not in env:
        raise RuntimeError("no test database URL for the production processes")
    values["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL
    # Under test-prod the web processes share a Redis cache (database 1 of the broker's server), as in production.
    broker = settings.CELERY_BROKER_URL
    values["CACHE_URL"] = broker.rsplit("/", 1)[0] + "/1" if broker.startswith("redis://") else ""
    values.update({
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": f"http://localhost:{port}",
        "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port},http://localhost:{port}",
        "SECURE_SSL_REDIRECT": "false",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "MAILSETUP_DNS_RESOLVERS": "",
        "EMAIL_URL": "",
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
        "PYTHON": sys.executable,
        "PYTHONUNBUFFERED": "1",
    })
    values.update(extra or {})
    env.update(values)
    return env


def run_release(env: dict[str, str]) -> str:
    """deploy/Procfile's release step (deploy/release.sh): migrate, collectstatic, check --deploy."""
    result = subprocess.run(["sh", "-c", procfile()["release"]], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"release failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout + result.stderr


def start(name: str, env: dict[str, str], ready: str | None = None, timeout: float = 60) -> subprocess.Popen[bytes]:
    """Start one Procfile process (by name) as an operator's Procfile runner would: `sh -c <command>`.

    `ready` is a line fragment the process writes to its log when it is up.
    """
    log_path = Path(settings.VAR_DIR) / f"prod-{name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(["sh", "-c", "exec " + procfile()[name]], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while ready is not None and time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{log_path.read_text()[-3000:]}")
        if ready.encode() in log_path.read_bytes():
            return proc
        time.sleep(0.2)
    if ready is not None:
        stop_process(proc)
        raise RuntimeError(f"{name} not ready after {timeout}s:\n{log_path.read_text()[-3000:]}")
    return proc


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # As the TLS proxy would say, so that the HTTPS redirect (when on) does not answer instead.
            request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


class Topology:
    """gunicorn + two Celery workers + one beat, from deploy/Procfile; `stop()` ends them all."""

    def __init__(self, *, web: bool = True, workers: int = 2, beat: bool = True,
                 extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.env = production_env(self.port, extra_env)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.want = (web, workers, beat)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def log(self, name: str) -> str:
        path = Path(settings.VAR_DIR) / f"prod-{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> Topology:
        web, workers, beat = self.want
        purge_filesystem_queue()
        try:
            run_release(self.env)
            if web:
                self.procs.append(start("web", self.env, ready="Booting worker"))
                wait_http(f"http://127.0.0.1:{self.port}/healthz")
            for number in range(1, workers + 1):
                self.procs.append(start(f"worker{number}", self.env, ready="ready."))
            if beat:
                self.procs.append(start("beat", self.env, ready="beat: Starting"))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc, timeout=20)
        self.procs.clear()



def set_production_password(user, password: str) -> None:  # noqa: ANN001
    """Hash with production's default hasher: the test process uses a fast MD5 one that production refuses."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(password, hasher.salt())
    user.save(update_fields=["password"])
