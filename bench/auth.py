"""How many SMTP logins credentials.services.authenticate checks per second, on one core.

Sets Django up on a throwaway SQLite database under var/bench (or $MAILSETUP_VAR_DIR/bench), creates 10,000
credentials, then times authenticate() on a mix of right and wrong secrets.
Run: .venv/bin/python bench/auth.py [--credentials 10000] [--logins 50000]
The last line is `auth_per_s=<number>`.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The caller's var dir if it names one (the smoke test gives each run its own), else the project's.
VAR = Path(os.environ.get("MAILSETUP_VAR_DIR") or ROOT / "var") / "bench"


def setup_django() -> None:
    VAR.mkdir(parents=True, exist_ok=True)
    db = VAR / "auth.sqlite3"
    for path in VAR.glob("auth.sqlite3*"):
        path.unlink()
    os.environ["MAILSETUP_VAR_DIR"] = str(VAR)
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsetup.settings")
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # As in production: no query log kept per request.
    settings.DEBUG = False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--credentials", type=int, default=10_000, help="credentials in the table")
    parser.add_argument("--logins", type=int, default=50_000, help="logins timed")
    args = parser.parse_args()
    if args.credentials < 1 or args.logins < 1:
        parser.error("--credentials and --logins must be at least 1")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    setup_django()

    from credentials import tokens
    from credentials.models import Credential
    from credentials.services import authenticate
    from domains.models import Domain
    from mailsetup.models import Team

    team = Team.objects.create(name="Bench", slug="bench")
    Domain.objects.create(team=team, name="bench.example", status="verified")
    logins: list[tuple[str, str]] = []
    rows = []
    key = tokens.server_key()
    for _ in range(args.credentials):
        secret = tokens.generate_secret()
        username = tokens.generate_username(team.slug)
        rows.append(
            Credential(
                team=team,
                label="bench",
                username=username,
                secret_prefix=tokens.display_prefix(secret),
                secret_hash=tokens.secret_hash(secret, key),
                allowed_ips=["127.0.0.0/8"],
            )
        )
        logins.append((username, secret))
    Credential.objects.bulk_create(rows, batch_size=1000)
    print(f"credentials={Credential.objects.count()}")

    rng = random.Random(42)
    # Nine right logins in ten, the rest wrong secrets or unknown users: both paths cost the same.
    sample = []
    wrong = 0
    for i in range(args.logins):
        username, secret = rng.choice(logins)
        if i % 20 == 0:
            secret = tokens.generate_secret()
            wrong += 1
        elif i % 20 == 1:
            username = tokens.generate_username("bench")
            wrong += 1
        sample.append((username, secret))

    # First logins write last_used_at once per credential; time them apart from the steady state.
    start = time.perf_counter()
    for username, secret in logins:
        assert authenticate(username, secret, "127.0.0.1") is not None
    first = time.perf_counter() - start
    print(f"first_login_per_s={args.credentials / first:.0f}")

    accepted = 0
    start = time.perf_counter()
    for username, secret in sample:
        if authenticate(username, secret, "127.0.0.1") is not None:
            accepted += 1
    elapsed = time.perf_counter() - start
    assert accepted == args.logins - wrong, accepted
    print(f"timed_logins={args.logins}")
    print(f"accepted={accepted}")
    print(f"seconds={elapsed:.3f}")
    print(f"auth_per_s={args.logins / elapsed:.0f}")


if __name__ == "__main__":
    main()
