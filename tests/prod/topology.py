"""The production topology, started from the repository's own deploy/ files: deploy/release.sh, then the
deploy/Procfile's web (gunicorn with deploy/gunicorn.conf.py), two workers and one beat, with the settings of
deploy/env.example (secrets filled in) pointed at the test database and broker.

Under `make test-prod` that is PostgreSQL and Redis; under `make test`, the SQLite test file and the filesystem
broker. Tests that use it need `transactional_db`: the processes see only committed rows.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from cryptography.fernet import Fernet
from django.conf import settings

from tests.processes import stop_process, worker_env
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


TOPOLOGY_VAR_DIR = Path(settings.VAR_DIR) / "topology"


def topology_broker_url() -> str:
    broker = settings.CELERY_BROKER_URL
    return broker.rsplit("/", 1)[0] + "/2" if broker.startswith("redis://") else "filesystem://"


def topology_connection():  # noqa: ANN201 - a kombu Connection
    """A connection to the topology's broker, to queue tasks for its workers from the test process."""
    from kombu import Connection

    url = topology_broker_url()
    if url.startswith("filesystem://"):
        folder = str(TOPOLOGY_VAR_DIR / "celery-queue" / "out")
        return Connection(url, transport_options={"data_folder_in": folder, "data_folder_out": folder,
                                                  "processed_folder": str(TOPOLOGY_VAR_DIR / "celery-queue" / "processed"),
                                                  "store_processed": False,
                                                  "control_folder": str(TOPOLOGY_VAR_DIR / "celery-queue" / "control")})
    return Connection(url)


def send_task(name: str, *args: object) -> None:
    from mailsetup.celery import app

    with topology_connection() as connection:
        app.send_task(name, args=list(args), connection=connection)


def purge_topology_broker() -> None:
    url = topology_broker_url()
    if url.startswith("redis://"):
        import redis

        redis.Redis.from_url(url).flushdb()
    else:
        shutil.rmtree(TOPOLOGY_VAR_DIR / "celery-queue", ignore_errors=True)
    (TOPOLOGY_VAR_DIR / "celery-queue" / "out").mkdir(parents=True, exist_ok=True)
    (TOPOLOGY_VAR_DIR / "celery-queue" / "processed").mkdir(parents=True, exist_ok=True)
    (TOPOLOGY_VAR_DIR / "celery-queue" / "control").mkdir(parents=True, exist_ok=True)
    (TOPOLOGY_VAR_DIR / "celerybeat-schedule").unlink(missing_ok=True)


def queue_length() -> int:
    """Messages waiting in the topology's default queue."""
    url = topology_broker_url()
    if url.startswith("redis://"):
        import redis

        return int(redis.Redis.from_url(url).llen("celery"))
    return len(list((TOPOLOGY_VAR_DIR / "celery-queue" / "out").glob("*.msg")))


@contextmanager
def session_workers_paused() -> Iterator[None]:
    """Pause the session's own test worker (tests/conftest.py), if one runs, while a test owns the topology.

    Its embedded beat would otherwise claim due domains too, with other settings: a second beat. Only celery
    processes this pytest process started are touched, each by its process group.
    """
    groups = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid = int(stat.parent.name)
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"celery" in cmdline and b"worker" in cmdline and os.getpgid(pid) == pid:
            groups.append(pid)
    for pgid in groups:
        os.killpg(pgid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pgid in groups:
            with suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGCONT)


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
    # Nothing of the test process's own settings (the e2e conftest allows async-unsafe ORM calls, for one).
    for name in ("DEBUG", "SECRET_KEY", "MAILSETUP_ENCRYPTION_KEYS", "CACHE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)
    values = filled_env_example()
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "MAILSETUP_VAR_DIR"):
        values[name] = env.get(name) or values[name]
    if "DATABASE_URL" not in env:
        raise RuntimeError("no test database URL for the production processes")
    # A broker, beat schedule and cache of their own, apart from the session's test worker (tests/conftest.py):
    # Redis databases 2 and 3 under test-prod, a folder of their own for the filesystem broker otherwise.
    values["MAILSETUP_VAR_DIR"] = str(TOPOLOGY_VAR_DIR)
    values["CELERY_BROKER_URL"] = topology_broker_url()
    broker = settings.CELERY_BROKER_URL
    values["CACHE_URL"] = broker.rsplit("/", 1)[0] + "/3" if broker.startswith("redis://") else ""
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
    """deploy/release.sh, which the Procfile's web line runs before gunicorn: migrate, collectstatic, check --deploy."""
    result = subprocess.run([str(DEPLOY / "release.sh")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"release failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout + result.stderr


def start(name: str, env: dict[str, str], ready: str | None = None, timeout: float = 60) -> subprocess.Popen[bytes]:
    """Start one Procfile process (by name) as an operator's Procfile runner would: `sh -c <command>`.

    `ready` is a line fragment the process writes to its log when it is up.
    """
    log_path = Path(settings.VAR_DIR) / f"prod-{name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
    command = procfile()[name]
    # `exec`: the process we hold is the server itself (web's line execs gunicorn after its release step).
    command = command if "&&" in command else f"exec {command}"
    proc = subprocess.Popen(["sh", "-c", command], cwd=ROOT, env=env, stdout=log,
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

    def start(self, *, purge: bool = True) -> Topology:
        """Start; `purge=False` keeps what a test queued (after its own purge_topology_broker()) for the workers."""
        web, workers, beat = self.want
        self._paused = session_workers_paused()
        self._paused.__enter__()
        if purge:
            purge_topology_broker()
        try:
            if web:
                # The Procfile's web line runs deploy/release.sh first, then gunicorn.
                self.procs.append(start("web", self.env, ready="Booting worker", timeout=120))
                wait_http(f"http://127.0.0.1:{self.port}/healthz")
            else:
                run_release(self.env)  # the workers need the same migrated database
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
            # SIGTERM to the main process first: gunicorn's and Celery's graceful shutdown; the group if it hangs.
            if proc.poll() is None:
                proc.terminate()
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=20)
            stop_process(proc, timeout=5)
        self.procs.clear()
        if getattr(self, "_paused", None) is not None:
            self._paused.__exit__(None, None, None)
            self._paused = None



def set_production_password(user, password: str) -> None:  # noqa: ANN001
    """Hash with production's default hasher: the test process uses a fast MD5 one that production refuses."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(password, hasher.salt())
    user.save(update_fields=["password"])
