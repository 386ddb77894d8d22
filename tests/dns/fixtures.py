"""pytest fixtures for the test BIND9: one `named` per session, on a free loopback port.

Registered in tests/conftest.py, so any test directory can use them:
- `bind_server` (session): the running server; also points the session Celery worker at it, with a short
  check back-off (celery_worker_process requests it first).
- `dns_server`: the same server, with MAILSETUP_DNS_RESOLVERS set to it for this test.
- `fresh_domain`: fresh_domain("lifecycle") -> a name under the `test` zone no other test uses.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from tests.dns.bind import BindServer, named_available

PLATFORM_SPF = "v=spf1 ip4:192.0.2.0/24 -all"
SERVFAIL_ZONE = "servfail.example"

TEST_ZONES: dict[str, list[str]] = {
    "test": [
        # The platform's own names (settings' defaults: MAILSETUP_SPF_INCLUDE, MAILSETUP_RETURN_PATH_HOST).
        f'spf.mailsetup.test. IN TXT "{PLATFORM_SPF}"',
        "bounces.mailsetup.test. IN A 192.0.2.10",
    ],
    "example.com": [],
    "in-addr.arpa": [],
}

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def bind_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BindServer]:
    from tests.conftest import _worker_extra_env, need

    need(named_available(), "bind9's named")
    workdir = tmp_path_factory.mktemp("bind")
    for attempt in range(3):
        try:
            server = BindServer.start(workdir, zones=TEST_ZONES, broken_zones=[SERVFAIL_ZONE])
            break
        except RuntimeError:
            # The free port may have been taken between choosing it and named binding it: choose another.
            if attempt == 2:
                raise
    _worker_extra_env["MAILSETUP_DNS_RESOLVERS"] = server.address
    # The session worker checks due domains every second with a short back-off, so that a test sees a domain
    # verified in seconds rather than minutes.
    _worker_extra_env.setdefault("MAILSETUP_DNS_TIMEOUT", "2")
    _worker_extra_env.setdefault("MAILSETUP_CHECK_BACKOFF", "1,2")
    _worker_extra_env.setdefault("MAILSETUP_CHECK_ENQUEUE_INTERVAL", "1")
    yield server
    server.stop()


@pytest.fixture
def dns_server(bind_server: BindServer, settings) -> BindServer:  # noqa: ANN001
    settings.MAILSETUP_DNS_RESOLVERS = [bind_server.address]
    settings.MAILSETUP_DNS_TIMEOUT = 2.0
    return bind_server


@pytest.fixture
def fresh_domain() -> Callable[[str], str]:
    def _fresh(prefix: str = "d") -> str:
        return f"{prefix}-{next(_counter)}.test"

    return _fresh
