"""Throughput of the main pages on the production web stack, beside a bare Django view on the same server.

Starts PostgreSQL and Redis on loopback (tests/prod/services.py), migrates, seeds one team with 1,000 domains
(DKIM key, four record checks and a history each) and 100 credentials, starts gunicorn from deploy/Procfile
with the production settings (DEBUG off), then loads each page with `wrk` at 32 connections for a few seconds,
authenticated by a session cookie, as through the TLS proxy (X-Forwarded-Proto: https). Prints, one figure per
line, requests/s and p99 latency of each page and of /healthz (no session, no database, no template), each
page's ratio to /healthz, and last `min_ratio=<smallest ratio>`. Each page should reach at least 0.25.

Run: .venv/bin/python bench/web.py   (needs the Debian packages postgresql, redis-server and wrk; `make bench-web`)
BENCH_SECONDS (default 5) sets each wrk run's length; GUNICORN_WORKERS overrides deploy/gunicorn.conf.py's count.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.prod.services import Services, free_port  # noqa: E402

DOMAINS = 1000
CREDENTIALS = 100
CONNECTIONS = 32
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
VAR = ROOT / "var" / "bench-web"


def production_env(services: Services, port: int) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/root"),
        "PYTHON": sys.executable,
        "DJANGO_SETTINGS_MODULE": "mailsetup.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "MAILSETUP_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": services.postgres.url,
        "CELERY_BROKER_URL": services.redis.url,
        "CACHE_URL": services.redis.url.rsplit("/", 1)[0] + "/1",
        "MAILSETUP_VAR_DIR": str(VAR),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        # Access logging off: it would cost the pages and the bare view alike, and fill the disk.
        "GUNICORN_ACCESS_LOG": "",
        "GUNICORN_LOG_LEVEL": "warning",
        **({"GUNICORN_WORKERS": os.environ["GUNICORN_WORKERS"]} if os.environ.get("GUNICORN_WORKERS") else {}),
        **({"GUNICORN_MAX_REQUESTS": os.environ["GUNICORN_MAX_REQUESTS"]} if os.environ.get("GUNICORN_MAX_REQUESTS") else {}),
    }


def seed() -> tuple[str, dict[str, str]]:
    """One team, its owner, the domains and credentials; returns (session cookie value, page URLs)."""
    import django

    django.setup()
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils import timezone

    from credentials.services import credential_issue
    from domains import dkim
    from domains.crypto import encrypt_private_key
    from domains.models import CheckStatus, DkimKey, Domain, DomainStatus, RecordCheck, RecordHistory
    from mailsetup.models import Membership, Role, Team, User
    from mailsetup.views import BACKEND

    team = Team.objects.create(name="Bench Mail", slug="bench")
    owner = User.objects.create_user(email="owner@bench.test", password=secrets.token_urlsafe(16), name="Bench Owner")
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    key = dkim.generate_key(dkim.RSA, 2048)  # one key for all: generating 1,000 would take minutes
    encrypted = encrypt_private_key(key.private_pem)
    now = timezone.now()
    domains = Domain.objects.bulk_create(
        Domain(
            team=team,
            name=f"shop-{i:04d}.bench.example",
            unicode_name=f"shop-{i:04d}.bench.example",
            status=DomainStatus.VERIFIED if i % 3 else DomainStatus.PENDING,
            created_by=owner,
            last_checked_at=now,
            next_check_at=now + timedelta(hours=1 + i % 24),
            verified_at=now,
        )
        for i in range(DOMAINS)
    )
    DkimKey.objects.bulk_create(
        DkimKey(
            domain=d,
            selector="ms202612a",
            algorithm=dkim.RSA,
            bits=2048,
            public_key=key.public_key,
            private_key_encrypted=encrypted,
        )
        for d in domains
    )
    keys = ["dkim:ms202612a", "return_path", "spf", "dmarc"]
    RecordCheck.objects.bulk_create(
        RecordCheck(
            domain=d,
            key=k,
            status=CheckStatus.PASS if d.status == DomainStatus.VERIFIED else CheckStatus.MISSING,
            found=["v=spf1 include:spf.mailsetup.test ~all"] if k == "spf" else [],
            message="Checked.",
            server="127.0.0.1:53",
            checked_at=now,
            changed_at=now,
        )
        for d in domains
        for k in keys
    )
    # History: each record went missing -> pass, and a DKIM record once mismatched on the way.
    RecordHistory.objects.bulk_create(
        RecordHistory(domain=d, key=k, status=s, message=f"{k} {s}", at=now - timedelta(minutes=10 * n))
        for d in domains
        for k in keys
        for n, s in enumerate([CheckStatus.PASS, CheckStatus.MISMATCH, CheckStatus.MISSING])
    )
    verified = [d for d in domains if d.status == DomainStatus.VERIFIED]
    for i in range(CREDENTIALS):
        credential_issue(
            team=team,
            actor=owner,
            label=f"App {i:03d}",
            all_domains=i % 2 == 0,
            domains=[] if i % 2 == 0 else verified[i : i + 3],
        )

    session = import_module(settings.SESSION_ENGINE).SessionStore()  # as the server reads them
    session[SESSION_KEY] = str(owner.pk)
    session[BACKEND_SESSION_KEY] = BACKEND  # as a login through the sign-in page records it
    session[HASH_SESSION_KEY] = owner.get_session_auth_hash()
    session.create()
    middle = domains[DOMAINS // 2]
    pages = {
        "domain_list": f"/t/{team.slug}/domains/",
        "domain_page": f"/t/{team.slug}/domains/{middle.pk}/",
        "credential_list": f"/t/{team.slug}/credentials/",
    }
    return session.session_key, pages


class QueryTimer:
    """A database execute wrapper that counts queries and adds up their time."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):  # noqa: ANN001, ANN204 - Django's wrapper signature
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


def server_side(pages: dict[str, str], cookie: str) -> dict[str, dict[str, float]]:
    """Per page, in this process (no HTTP, no contention): SQL queries, time in SQL and total time, in ms (median
    of 20). What tells whether a slow page waits on the database or renders."""
    from statistics import median

    from django.db import connection
    from django.test import Client

    client = Client(HTTP_X_FORWARDED_PROTO="https")
    client.cookies["sessionid"] = cookie
    figures = {}
    for name, path in pages.items():
        totals, sqls, count = [], [], 0
        for _ in range(20):
            timer = QueryTimer()
            with connection.execute_wrapper(timer):
                started = time.perf_counter()
                response = client.get(path, HTTP_HOST="127.0.0.1")
                totals.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (name, response.status_code)
            count = timer.count
            sqls.append(timer.seconds * 1000)
        figures[name] = {"queries": count, "sql_ms": median(sqls), "total_ms": median(totals)}
    return figures


def get(url: str, cookie: str | None) -> tuple[int, bytes]:
    headers = {"X-Forwarded-Proto": "https"}
    if cookie:
        headers["Cookie"] = f"sessionid={cookie}"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:  # loopback
        return response.status, response.read()


def wrk(url: str, cookie: str | None) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) of `url` under wrk at CONNECTIONS connections."""
    command = [
        "wrk",
        "-t2",
        f"-c{CONNECTIONS}",
        f"-d{SECONDS}s",
        "--latency",
        "--timeout",
        "10s",
        "-H",
        "X-Forwarded-Proto: https",
    ]
    if cookie:
        command += ["-H", f"Cookie: sessionid={cookie}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, timeout=SECONDS + 60, check=True).stdout
    if "Non-2xx or 3xx responses" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors on {url}:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
    p99_ms = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, p99_ms


def main() -> int:
    if shutil.which("wrk") is None:
        print("bench/web.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    shutil.rmtree(VAR, ignore_errors=True)
    VAR.mkdir(parents=True)
    port = free_port()
    with Services() as services:
        env = production_env(services, port)
        os.environ.update(env)
        procfile = dict(
            line.split(":", 1)
            for line in (ROOT / "deploy" / "Procfile").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        )
        subprocess.run([str(ROOT / "deploy" / "release.sh")], cwd=ROOT, env=env, check=True, capture_output=True)
        started = time.monotonic()
        cookie, pages = seed()
        print(f"seed_s={time.monotonic() - started:.1f}", flush=True)
        inside = server_side(pages, cookie)
        inside["healthz"] = server_side({"healthz": "/healthz"}, cookie)["healthz"]
        log = open(VAR / "gunicorn.log", "wb")  # noqa: SIM115 - closed with the process
        web = subprocess.Popen(
            ["sh", "-c", procfile["web"].strip()], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    get(f"{base}/healthz", None)
                    break
                except OSError:
                    if time.monotonic() > deadline or web.poll() is not None:
                        raise RuntimeError((VAR / "gunicorn.log").read_text()[-3000:]) from None
                    time.sleep(0.2)
            for name, path in pages.items():
                status, body = get(base + path, cookie)
                assert status == 200 and b"Bench Owner" in body, f"{name} is not the logged-in page"
                for _ in range(20):  # warm every worker's connection and caches
                    get(base + path, cookie)

            bare_rps, bare_p99 = wrk(f"{base}/healthz", None)
            print(f"healthz_rps={bare_rps:.0f}")
            print(f"healthz_p99_ms={bare_p99:.1f}")
            print(f"healthz_server_ms={inside['healthz']['total_ms']:.2f}")
            ratios = {}
            for name, path in pages.items():
                rps, p99 = wrk(base + path, cookie)
                ratios[name] = rps / bare_rps
                print(f"{name}_rps={rps:.0f}")
                print(f"{name}_p99_ms={p99:.1f}")
                print(f"{name}_queries={inside[name]['queries']}")
                print(f"{name}_server_ms={inside[name]['total_ms']:.2f}")
                print(f"{name}_sql_ms={inside[name]['sql_ms']:.2f}")
                print(f"{name}_ratio={ratios[name]:.3f}")
            # What stops a slow page, in words, on stderr: stdout stays one figure per line.
            sys.stdout.flush()
            for name, ratio in ratios.items():
                if ratio < 0.25:
                    figures = inside[name]
                    print(
                        f"{name} is below a quarter of the bare view: {figures['total_ms']:.1f} ms per request in "
                        f"the server, of which {figures['sql_ms']:.1f} ms in {figures['queries']} SQL queries; the "
                        "rest is Python (view and template rendering)",
                        file=sys.stderr,
                        flush=True,
                    )
            print(f"min_ratio={min(ratios.values()):.3f}")
        finally:
            web.terminate()
            try:
                web.wait(timeout=20)
            except subprocess.TimeoutExpired:
                web.kill()
            from django.db import connections

            connections.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
