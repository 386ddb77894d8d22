"""PostgreSQL and Redis on loopback in a temporary folder: the production peers for `make test-prod` and bench/web.py.

    python -m tests.prod.services run -- <command ...>

starts both, runs the command with DATABASE_URL and CELERY_BROKER_URL pointing at them (and
MAILSETUP_TEST_PROD=1), stops both and exits with the command's status. Nothing is left behind: the data lives in
a temporary folder that is removed afterwards. PostgreSQL refuses to run as root, so as root its programs run as
the `postgres` user (created by Debian's postgresql package).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bindir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin (Debian's layout), or wherever initdb is on PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")


def _as_pg_user(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Postgres:
    base: Path
    port: int = field(default_factory=free_port)
    user: str = "mailsetup"
    database: str = "mailsetup"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    @property
    def datadir(self) -> Path:
        return self.base / "pgdata"

    @property
    def url(self) -> str:
        return f"postgres://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> None:
        bindir = pg_bindir()
        self.base.mkdir(parents=True, exist_ok=True)
        pwfile = self.base / "pgpass"
        pwfile.write_text(self.password + "\n")
        (self.base / "pgsock").mkdir(exist_ok=True)
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            for path in (self.base, pwfile, self.base / "pgsock"):
                os.chown(path, pg.pw_uid, pg.pw_gid)
        subprocess.run(
            _as_pg_user([str(bindir / "initdb"), "-D", str(self.datadir), "-U", self.user, f"--pwfile={pwfile}",
                         "--auth-host=scram-sha-256", "--auth-local=peer", "-E", "UTF8", "--locale=C.UTF-8"]),
            check=True, stdout=subprocess.DEVNULL,
        )
        pwfile.unlink()
        # Throwaway data: durability off makes the test suite and the benchmark's seeding fast.
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base / 'pgsock'} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        subprocess.run(
            _as_pg_user([str(bindir / "pg_ctl"), "-D", str(self.datadir), "-o", options,
                         "-l", str(self.base / "postgres.log"), "-w", "-t", "60", "start"]),
            check=True, stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, password=self.password,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def stop(self) -> None:
        if not (self.datadir / "postmaster.pid").exists():
            return
        subprocess.run(
            _as_pg_user([str(pg_bindir() / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"]),
            check=False, stdout=subprocess.DEVNULL,
        )


@dataclass
class Redis:
    base: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(server).exists():
            raise RuntimeError("Redis is not installed: apt-get install redis-server")
        self.base.mkdir(parents=True, exist_ok=True)
        log = open(self.base / "redis.log", "wb")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.base), "--daemonize", "no", "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


class Services:
    """Both peers in one temporary folder; a context manager that always stops them."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="mailsetup-services-"))
        self.base.chmod(0o755)  # the postgres user must reach its folder inside
        self.postgres = Postgres(self.base / "postgres")
        self.redis = Redis(self.base / "redis")

    def __enter__(self) -> Services:
        try:
            self.postgres.start()
            self.redis.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.redis.stop()
        self.postgres.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.postgres.url,
            "CELERY_BROKER_URL": self.redis.url,
            "MAILSETUP_TEST_PROD": "1",
        }


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "run" or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    with Services() as services:
        env = {**os.environ, **services.env()}
        print(f"test-prod: PostgreSQL on 127.0.0.1:{services.postgres.port}, Redis on 127.0.0.1:{services.redis.port}",
              flush=True)
        child = subprocess.Popen(argv[2:], env=env)

        def forward(signum: int, _frame: object) -> None:
            child.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
