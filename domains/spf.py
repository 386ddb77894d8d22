"""SPF (RFC 7208) as far as the dashboard needs it: find the record, and evaluate it counting DNS lookups.

`spf_evaluate(domain, lookup)` walks the record the way a receiver does, counting the terms that query DNS
(include, a, mx, ptr, exists, redirect) through every include: and redirect=, and the void lookups (NXDOMAIN or
no records), with RFC 7208 §4.6.4's limits of 10 and 2. Given a client `ip` it stops at the first match, as a
receiver would; without one it takes the worst case (no mechanism before `all` matches, which is what a
receiver sees for every server not listed), and keeps counting past the limit so the message can say by how much.
`lookup(name, rtype)` is any coroutine returning a domains.dns.Answer (the Resolver's `lookup`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .dns import ERROR, MISSING, Answer

LOOKUP_LIMIT = 10
VOID_LIMIT = 2
MX_PTR_LIMIT = 10
HARD_CAP = 60  # stop walking a tree this big: it is broken either way

Lookup = Callable[[str, str], Awaitable[Answer]]

PASS, FAIL, SOFTFAIL, NEUTRAL, NONE, PERMERROR, TEMPERROR = (
    "pass",
    "fail",
    "softfail",
    "neutral",
    "none",
    "permerror",
    "temperror",
)
QUALIFIERS = {"+": PASS, "-": FAIL, "~": SOFTFAIL, "?": NEUTRAL}
LOOKUP_TERMS = ("include", "a", "mx", "ptr", "exists", "redirect")
MODIFIER = re.compile(r"^([a-z][a-z0-9_.-]*)=(.*)$", re.IGNORECASE)


def is_spf(text: str) -> bool:
    """An SPF record starts with the version `v=spf1`, alone or followed by a space (RFC 7208 §4.5)."""
    lowered = text.lower()
    return lowered == "v=spf1" or lowered.startswith("v=spf1 ")


def spf_records(txt_values: tuple[str, ...] | list[str]) -> list[str]:
    return [value for value in txt_values if is_spf(value.strip())]


class _Stop(Exception):
    """A limit was passed while evaluating for a given client: the result is permerror at once."""


@dataclass
class SpfEvaluation:
    result: str = NONE
    lookups: int = 0
    voids: int = 0
    problems: list[str] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)  # every include:/redirect= target reached, lowercase

    @property
    def over_limit(self) -> bool:
        return self.lookups > LOOKUP_LIMIT or self.voids > VOID_LIMIT


@dataclass
class _Evaluator:
    lookup: Lookup
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    out: SpfEvaluation
    stack: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if text not in self.out.problems:
            self.out.problems.append(text)

    def count(self, term: str) -> None:
        self.out.lookups += 1
        if self.out.lookups > HARD_CAP:
            self.problem(f"more than {HARD_CAP} DNS lookups; stopped counting")
            raise _Stop
        if self.out.lookups > LOOKUP_LIMIT and self.ip is not None:
            raise _Stop

    def void(self, answer: Answer) -> None:
        if answer.status == MISSING:
            self.out.voids += 1
            if self.out.voids > VOID_LIMIT and self.ip is not None:
                raise _Stop

    async def addresses(self, name: str) -> Answer:
        rtype = "AAAA" if self.ip is not None and self.ip.version == 6 else "A"
        return await self.lookup(name, rtype)

    def matches(self, answer: Answer, cidr4: int | None, cidr6: int | None) -> bool:
        if self.ip is None or not answer.ok:
            return False
        for value in answer.values:
            try:
                address = ipaddress.ip_address(value)
            except ValueError:
                continue
            if address.version != self.ip.version:
                continue
            prefix = cidr4 if address.version == 4 else cidr6
            network = ipaddress.ip_network(f"{address}/{prefix if prefix is not None else address.max_prefixlen}", strict=False)
            if self.ip in network:
                return True
        return False

    async def check_host(self, domain: str, via: str, answer: Answer | None = None) -> str:
        """The SPF result for `domain`; `via` is "" at the top, else "include" or "redirect"."""
        domain = domain.rstrip(".").lower()
        if domain in self.stack:
            self.problem(f"{via}:{domain} loops back to a record already being evaluated")
            raise _Stop
        if answer is None:
            answer = await self.lookup(domain, "TXT")
        if answer.status == ERROR:
            self.problem(f"could not read SPF at {domain}: {answer.error}")
            return TEMPERROR
        if via:
            self.void(answer)
        records = spf_records(answer.values) if answer.ok else []
        if not records:
            return NONE
        if len(records) > 1:
            self.problem(f"{domain} has {len(records)} SPF records; there must be one")
            return PERMERROR
        self.stack.append(domain)
        try:
            return await self.evaluate(domain, records[0])
        finally:
            self.stack.pop()

    async def evaluate(self, domain: str, record: str) -> str:
        redirect = None
        for term in record.split()[1:]:
            modifier = MODIFIER.match(term)
            if modifier:
                name, value = modifier.group(1).lower(), modifier.group(2)
                if name == "redirect":
                    if redirect is not None:
                        self.problem(f"{domain} has more than one redirect=")
                        return PERMERROR
                    redirect = value
                continue  # exp= and unknown modifiers do not change the result
            qualifier = QUALIFIERS.get(term[0], None)
            body = term[1:] if qualifier else term
            qualifier = qualifier or PASS
            name, _, arg = body.partition(":")
            if "/" in name:  # a/24, mx/24//64
                name, slash, rest = name.partition("/")
                arg, cidr_text = "", slash + rest
            else:
                arg, _, cidr_text = arg.partition("/")
                cidr_text = "/" + cidr_text if cidr_text else ""
            name = name.lower()
            target = (arg or domain).lower()
            cidr4, cidr6 = _cidrs(cidr_text)
            if name == "all":
                return qualifier
            if name in ("ip4", "ip6"):
                if self.ip is not None and _ip_matches(self.ip, arg + cidr_text):
                    return qualifier
                continue
            if name not in LOOKUP_TERMS or name == "redirect":
                self.problem(f"{domain}: unknown mechanism {term!r}")
                return PERMERROR
            self.count(name)
            if "%" in target:
                continue  # a macro needs the sender's address: counted, not expanded
            if name == "include":
                self.out.includes.append(target)
                result = await self.check_host(target, "include")
                if result == PASS:
                    return qualifier
                if result == NONE:
                    self.problem(f"include:{target} has no SPF record")
                    return PERMERROR
                if result in (PERMERROR, TEMPERROR):
                    return result
            elif name == "a":
                answer = await self.addresses(target)
                self.void(answer)
                if self.matches(answer, cidr4, cidr6):
                    return qualifier
            elif name == "mx":
                answer = await self.lookup(target, "MX")
                self.void(answer)
                if len(answer.values) > MX_PTR_LIMIT:
                    self.problem(f"mx at {target} lists {len(answer.values)} mail servers; at most {MX_PTR_LIMIT} may be")
                    return PERMERROR
                if self.ip is not None:
                    for host in answer.values:
                        if self.matches(await self.addresses(host), cidr4, cidr6):
                            return qualifier
            elif name == "exists":
                answer = await self.lookup(target, "A")
                self.void(answer)
                if self.ip is not None and answer.ok:
                    return qualifier
            elif name == "ptr" and self.ip is not None:
                answer = await self.lookup(self.ip.reverse_pointer, "PTR")
                self.void(answer)
                for host in answer.values[:MX_PTR_LIMIT]:
                    if (host == target or host.endswith("." + target)) and self.matches(await self.addresses(host), None, None):
                        return qualifier
        if redirect is not None:
            self.count("redirect")
            target = redirect.lower()
            if "%" in target:
                return NEUTRAL
            self.out.includes.append(target)
            result = await self.check_host(target, "redirect")
            if result == NONE:
                self.problem(f"redirect={target} has no SPF record")
                return PERMERROR
            return result
        return NEUTRAL


def _cidrs(text: str) -> tuple[int | None, int | None]:
    """ "/24", "//64", "/24//64" -> (24, None), (None, 64), (24, 64)."""
    if not text:
        return None, None
    four, _, six = text.partition("//")
    try:
        return (int(four[1:]) if four.startswith("/") and len(four) > 1 else None), (int(six) if six else None)
    except ValueError:
        return None, None


def _ip_matches(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, network_text: str) -> bool:
    try:
        network = ipaddress.ip_network(network_text, strict=False)
    except ValueError:
        return False
    return ip.version == network.version and ip in network


async def spf_evaluate(domain: str, lookup: Lookup, *, ip: str | None = None, answer: Answer | None = None) -> SpfEvaluation:
    """Evaluate the SPF record of `domain`, counting lookups (see the module docstring).

    `answer` is the TXT answer at `domain` when the caller already has it (it saves a query).
    """
    out = SpfEvaluation()
    evaluator = _Evaluator(lookup=lookup, ip=ipaddress.ip_address(ip) if ip else None, out=out)
    try:
        out.result = await evaluator.check_host(domain, "", answer)
    except _Stop:
        out.result = PERMERROR
    if out.lookups > LOOKUP_LIMIT:
        evaluator.problem(f"it needs {out.lookups} DNS lookups; receivers allow {LOOKUP_LIMIT} (RFC 7208 §4.6.4)")
        out.result = PERMERROR
    if out.voids > VOID_LIMIT:
        evaluator.problem(
            f"{out.voids} of its lookups find nothing; receivers allow {VOID_LIMIT} such void lookups (RFC 7208 §4.6.4)"
        )
        out.result = PERMERROR
    return out


def has_permissive_all(record: str) -> bool:
    """`+all` (or a bare `all`) lets every server on the Internet pass SPF as the domain."""
    return any(term.lower() in ("all", "+all") for term in record.split()[1:])
