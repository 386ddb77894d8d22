"""Real background processes for end-to-end tests: a Celery worker (with embedded beat) on the test database.

The worker is a separate OS process, not eager mode. It reads the same SQLite test database file and the same
filesystem-broker folder as the test process, so tests that use it need `transactional_db` (committed data).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    elif db["ENGINE"].endswith("postgresql"):
        # The test runner renamed NAME to the test database (test_<name>): the worker must use that one too.
        env["DATABASE_URL"] = postgres_url(db)
    env["MAILSETUP_VAR_DIR"] = str(settings.VAR_DIR)
    env["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL
    env.update(extra or {})
    return env


def postgres_url(db: dict) -> str:
    from urllib.parse import quote

    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{quote(db['NAME'], safe='')}"


def purge_filesystem_queue() -> None:
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        return
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)


def start_worker(*, extra_env: dict[str, str] | None = None, beat: bool = True, name: str = "w1",
                 concurrency: int = 2) -> subprocess.Popen[bytes]:
    """Start `celery worker` and wait until it says it is ready; the caller stops it with stop_process()."""
    log_path = Path(settings.VAR_DIR) / f"worker-{name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
    cmd = [sys.executable, "-m", "celery", "-A", "mailsetup", "worker", "--loglevel=INFO",
           f"--concurrency={concurrency}", f"--hostname={name}@%h", "--without-mingle", "--without-gossip"]
    if beat:
        cmd += ["--beat", f"--schedule={Path(settings.VAR_DIR) / f'beat-{name}'}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=worker_env(extra_env), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{log_path.read_text()[-3000:]}")
        if b"ready." in log_path.read_bytes():
            return proc
        time.sleep(0.2)
    stop_process(proc)
    raise RuntimeError(f"celery worker did not become ready:\n{log_path.read_text()[-3000:]}")


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)
