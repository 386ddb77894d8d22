"""Benchmark: how fast the verifier checks domains, beside raw dnspython queries against the same BIND9.

    .venv/bin/python bench/verify.py [--domains 1000] [--concurrency 128] [--rounds 3]

Starts its own `named` on loopback serving N domains with every record (DKIM RSA-2048, return-path CNAME, SPF,
DMARC), checks them all through the worker's code path (domains.checks.check_all over the asyncio Resolver,
including the DKIM signing proof), then sends the very same queries raw (dns.asyncquery) to the same server,
with about as many in flight.
One figure per line; the last line is ratio=<verified domains/s × queries per domain / raw queries/s>: the share
of the raw query rate the verifier keeps (1.0 would mean the checks cost nothing beyond their DNS queries).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsetup.settings")

import dns.asyncquery  # noqa: E402
import dns.exception  # noqa: E402
import dns.message  # noqa: E402

from domains import dkim  # noqa: E402
from domains.checks import check_all  # noqa: E402
from domains.dns import Resolver  # noqa: E402
from domains.records import DkimPublic, expected_records  # noqa: E402
from tests.dns.bind import BindServer, named_available, rdata_text  # noqa: E402

INCLUDE = "spf.mailsetup.test"
RETURN_PATH = "bounces.mailsetup.test"
KEY_POOL = 8  # distinct RSA-2048 keys, reused round-robin: generating 1000 would take minutes


def build(n: int) -> tuple[list[str], dict[str, list], dict[str, bytes], list[str]]:
    keys = [dkim.generate_key("rsa", 2048) for _ in range(KEY_POOL)]
    domains, records, private, lines = [], {}, {}, []
    for i in range(n):
        domain = f"d{i}.bench.test"
        key = keys[i % KEY_POOL]
        expected = expected_records(
            domain=domain,
            dkim=[DkimPublic(selector="s1", algorithm="rsa", public_key=key.public_key)],
            return_path_label="bounces",
            return_path_host=RETURN_PATH,
            spf_include=INCLUDE,
            dmarc_rua="dmarc@mailsetup.test",
        )
        for record in expected:
            value = record.value + "." if record.rtype == "CNAME" else record.value
            lines.append(f"{record.fqdn}. IN {record.rtype} {rdata_text(record.rtype, value)}")
        domains.append(domain)
        records[domain] = expected
        private[domain] = key.private_pem
    lines += [f'{INCLUDE}. IN TXT "v=spf1 ip4:192.0.2.0/24 -all"', f"{RETURN_PATH}. IN A 192.0.2.10"]
    return domains, records, private, lines


class RecordingResolver(Resolver):
    """The verifier's resolver, noting each (name, type) it looks up, for the raw side to replay."""

    asked: list[tuple[str, str]]

    async def lookup(self, name: str, rtype: str):  # noqa: ANN201
        self.asked.append((name, rtype))
        return await super().lookup(name, rtype)


async def verify_all(resolver: Resolver, domains: list[str], records: dict, private: dict, concurrency: int) -> int:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(domain: str) -> bool:
        async with semaphore:
            results = await check_all(
                records[domain],
                resolver,
                domain=domain,
                org_domain=domain,
                private_keys={"s1": private[domain]},
                spf_include=INCLUDE,
            )
        return all(result.status == "pass" for result in results)

    return sum(await asyncio.gather(*(one(domain) for domain in domains)))


async def raw_queries(port: int, queries: list[tuple[str, str]], in_flight: int) -> int:
    semaphore = asyncio.Semaphore(in_flight)

    async def one(name: str, rtype: str) -> bool:
        async with semaphore:
            query = dns.message.make_query(name, rtype, use_edns=0, payload=1232)
            try:
                response, _ = await dns.asyncquery.udp_with_fallback(query, "127.0.0.1", timeout=5, port=port)
            except dns.exception.Timeout:
                return False
            return bool(response.answer)

    return sum(await asyncio.gather(*(one(name, rtype) for name, rtype in queries)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=128, help="domains checked at once")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs of each side")
    args = parser.parse_args()
    if not named_available():
        sys.exit("bench/verify.py needs bind9's named (apt-get install bind9)")

    import django

    django.setup()
    domains, records, private, lines = build(args.domains)
    with tempfile.TemporaryDirectory(prefix="bench-bind-") as workdir:
        server = BindServer.start(Path(workdir), zones={"test": lines})
        try:
            verify_seconds = raw_seconds = float("inf")
            # Best of a few rounds each, so that another process's burst of CPU does not decide the figures.
            for _ in range(args.rounds):
                resolver = RecordingResolver(servers=[("127.0.0.1", server.port)], timeout=5)
                resolver.asked = []
                started = time.perf_counter()
                verified = asyncio.run(verify_all(resolver, domains, records, private, args.concurrency))
                verify_seconds = min(verify_seconds, time.perf_counter() - started)
                queries_per_domain = resolver.queries / len(domains)
                # Raw queries: the very queries the verifier asked, with about as many in flight, to the same server.
                # (Above a few hundred, UDP queries get dropped by the kernel; the raw rate is flat well below that.)
                in_flight = max(1, min(256, round(args.concurrency * queries_per_domain)))
                started = time.perf_counter()
                answered = asyncio.run(raw_queries(server.port, resolver.asked, in_flight))
                raw_seconds = min(raw_seconds, time.perf_counter() - started)
        finally:
            server.stop()
    verified_per_s = verified / verify_seconds
    raw_per_s = answered / raw_seconds
    print(f"domains={len(domains)}")
    print(f"domains_verified={verified}")
    print(f"queries_per_domain={queries_per_domain:.2f}")
    print(f"verify_seconds={verify_seconds:.2f}")
    print(f"verified_domains_per_s={verified_per_s:.1f}")
    print(f"raw_queries_per_s={raw_per_s:.1f}")
    print(f"ratio={verified_per_s * queries_per_domain / raw_per_s:.3f}")


if __name__ == "__main__":
    main()
