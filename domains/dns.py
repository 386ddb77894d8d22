"""A small DNS client over dnspython's asyncio resolver (dns.asyncresolver), for the record checks.

Every lookup ends in one of three outcomes, which the checks map onto record statuses:
``ok`` (records found), ``missing`` (NXDOMAIN, or the name exists without records of that type) and
``error`` (timeout, SERVFAIL, REFUSED, no nameserver configured: temporary, says nothing about the record).
The answering server is recorded, TXT character-strings are joined without separators (RFC 7208 §3.3,
RFC 6376 §3.6.2.2) and CNAME chains are followed, also across zones when the server answers only part of one.
Knows nothing of Django models; `Resolver.from_settings()` reads the two settings it needs.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver

T = TypeVar("T")

OK = "ok"
MISSING = "missing"
ERROR = "error"

MAX_CNAME_HOPS = 8


@dataclass(frozen=True)
class Answer:
    name: str  # the name asked for, lowercase, no trailing dot
    rtype: str
    status: str  # OK, MISSING or ERROR
    values: tuple[str, ...] = ()  # TXT joined, CNAME/MX/PTR targets without the trailing dot, addresses
    server: str = ""  # "ip:port" of the server that answered (or last tried, on error)
    error: str = ""  # why, when status is ERROR (or why a name cannot exist)
    cnames: tuple[str, ...] = ()  # the CNAME chain followed from `name`, in order

    @property
    def ok(self) -> bool:
        return self.status == OK


def parse_server(text: str) -> tuple[str, int]:
    """`ip`, `ip:port`, `[ipv6]:port` or a bare IPv6 address -> (ip, port). Raises ValueError."""
    text = text.strip()
    port = 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"bad DNS server address {text!r}")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text)
    else:
        host = text
    ipaddress.ip_address(host)  # raises ValueError
    if not 0 < port < 65536:
        raise ValueError(f"bad port in DNS server address {text!r}")
    return host, port


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, also where this thread already runs an event loop
    (Playwright's sync API does, in browser tests): then it runs on a loop of its own in a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _normal(name: str) -> str:
    return name.rstrip(".").lower()


def _rdata_text(rtype: str, rdata: object) -> str:
    if rtype == "TXT":
        return b"".join(rdata.strings).decode("utf-8", "replace")  # type: ignore[attr-defined]
    if rtype == "CNAME" or rtype == "PTR":
        return _normal(rdata.target.to_text())  # type: ignore[attr-defined]
    if rtype == "MX":
        return _normal(rdata.exchange.to_text())  # type: ignore[attr-defined]
    return rdata.to_text()  # type: ignore[attr-defined]


@dataclass
class Resolver:
    """Asks the configured servers in order; the first that gives a definite answer wins."""

    servers: list[tuple[str, int]]
    timeout: float = 3.0
    queries: int = field(default=0)  # how many queries were sent (the benchmark reads it)
    _by_server: list[tuple[str, dns.asyncresolver.Resolver]] | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(cls) -> Resolver:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        if settings.MAILSETUP_DNS_RESOLVERS:
            try:
                servers = [parse_server(item) for item in settings.MAILSETUP_DNS_RESOLVERS]
            except ValueError:
                raise ImproperlyConfigured(
                    "MAILSETUP_DNS_RESOLVERS must be IP addresses with optional ports (1.2.3.4, 1.2.3.4:5353, "
                    f"[2001:db8::1]:53), not {settings.MAILSETUP_DNS_RESOLVERS!r}"
                ) from None
        else:
            servers = system_nameservers()
        return cls(servers=servers, timeout=settings.MAILSETUP_DNS_TIMEOUT)

    async def lookup(self, name: str, rtype: str) -> Answer:
        """Records of type `rtype` at `name`, following CNAMEs (unless rtype is CNAME)."""
        name = _normal(name)
        try:
            qname = dns.name.from_text(name)
        except (dns.exception.DNSException, UnicodeError) as exc:  # too long, empty label, bad IDNA, bad escape
            return Answer(name, rtype, MISSING, error=f"{name} is not a valid DNS name ({exc.__class__.__name__})")
        if not self.servers:
            return Answer(name, rtype, ERROR, error="no DNS server is configured")
        chain: list[str] = []
        for _ in range(MAX_CNAME_HOPS):
            outcome = await self._ask(qname, rtype)
            if isinstance(outcome, Answer):  # an error
                return Answer(name, rtype, ERROR, server=outcome.server, error=outcome.error, cnames=tuple(chain))
            response, result, server = outcome
            if response.rcode() == dns.rcode.NXDOMAIN and rtype == "CNAME":
                return Answer(name, rtype, MISSING, server=server, cnames=tuple(chain))
            try:
                result = result or response.resolve_chaining()
            except (dns.message.ChainTooLong, dns.message.AnswerForNXDOMAIN, dns.exception.FormError) as exc:
                return Answer(name, rtype, ERROR, server=server, error=f"malformed answer: {exc}")
            chain += [_normal(rrset[0].target.to_text()) for rrset in result.cnames]
            if result.answer is not None:
                values = tuple(sorted(_rdata_text(rtype, rdata) for rdata in result.answer))
                return Answer(name, rtype, OK, values=values, server=server, cnames=tuple(chain))
            if response.rcode() == dns.rcode.NXDOMAIN or not result.cnames:
                return Answer(name, rtype, MISSING, server=server, cnames=tuple(chain))
            # The server gave part of a CNAME chain (its target lives in a zone it does not serve): go on asking.
            qname = result.canonical_name
        return Answer(name, rtype, ERROR, error=f"CNAME chain longer than {MAX_CNAME_HOPS} links", cnames=tuple(chain))

    def _resolvers(self) -> list[tuple[str, dns.asyncresolver.Resolver]]:
        """One dnspython asyncio resolver per server, so that every answer is known to come from that server."""
        if self._by_server is None:
            self._by_server = []
            for host, port in self.servers:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port)]
                resolver.timeout = resolver.lifetime = self.timeout
                resolver.retry_servfail = False
                resolver.use_edns(0, 0, 1232)
                self._by_server.append((f"[{host}]:{port}" if ":" in host else f"{host}:{port}", resolver))
        return self._by_server

    async def _ask(
        self, qname: dns.name.Name, rtype: str
    ) -> tuple[dns.message.Message, dns.message.ChainingResult | None, str] | Answer:
        """The first definite response (NOERROR or NXDOMAIN) of the servers in order, or the last error."""
        last = Answer(qname.to_text(), rtype, ERROR, error="no DNS server answered")
        for server, resolver in self._resolvers():
            self.queries += 1
            try:
                answer = await resolver.resolve(qname, rtype, raise_on_no_answer=False, search=False)
                return answer.response, answer.chaining_result, server  # chained once, by dnspython
            except dns.resolver.NXDOMAIN as exc:
                return exc.response(exc.qnames()[0]), None, server
            except dns.exception.Timeout:
                why = f"{server} did not answer within {self.timeout:g} s"
            except dns.resolver.NoNameservers as exc:
                why = f"{server} failed"
                for error in exc.kwargs.get("errors") or []:
                    response = error[4] if len(error) > 4 else None
                    if isinstance(response, dns.message.Message):
                        why = f"{server} answered {dns.rcode.to_text(response.rcode())}"
                    elif isinstance(error[3], BaseException):
                        why = f"{server} failed: {error[3].__class__.__name__}"
            except (OSError, dns.exception.DNSException, EOFError) as exc:
                why = f"{server} failed: {exc.__class__.__name__}"
            last = Answer(qname.to_text(), rtype, ERROR, server=server, error=why)
        return last

    def lookup_sync(self, name: str, rtype: str) -> Answer:
        return run_sync(self.lookup(name, rtype))

    def dkim_dnsfunc(self) -> Callable[..., bytes | None]:
        """A `dnsfunc` for dkimpy (called as dnsfunc(name, timeout=...)) that asks our servers (blocking)."""

        def dnsfunc(name: bytes | str, timeout: float = 5) -> bytes | None:
            text = name.decode() if isinstance(name, bytes) else name
            answer = self.lookup_sync(text, "TXT")
            return answer.values[0].encode() if answer.ok and answer.values else None

        return dnsfunc


def system_nameservers() -> list[tuple[str, int]]:
    """The nameservers of /etc/resolv.conf (empty when there is none)."""
    try:
        system = dns.resolver.Resolver(configure=True)
    except dns.resolver.NoResolverConfiguration:
        return []
    return [(str(ns), 53) for ns in system.nameservers]
