"""The record checks: pure functions of an expected record and a resolver, one CheckResult each.

Each check says what DNS returned and why it is wrong, in words for the person who edits the zone: a host typed
with the domain twice, a second SPF record, an SPF record over 10 lookups, a DKIM key cut short, a CNAME hidden
behind a proxy. The lookups of one domain run concurrently (`check_all`), so a worker checking many domains
waits for DNS round trips side by side, not one after another.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .dkim_proof import dkim_proof
from .dmarc import is_dmarc, parse_dmarc
from .dns import ERROR, Answer, Resolver
from .records import ExpectedRecord, spf_merge
from .spf import LOOKUP_LIMIT, PERMERROR, TEMPERROR, has_permissive_all, spf_evaluate, spf_records

PASS, MISSING, MISMATCH = "pass", "missing", "mismatch"
WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class CheckResult:
    key: str
    status: str  # domains.models.CheckStatus values: pass, missing, mismatch, error
    found: list[str] = field(default_factory=list)
    message: str = ""
    server: str = ""


def _error(record: ExpectedRecord, answer: Answer) -> CheckResult:
    return CheckResult(
        record.key,
        ERROR,
        [],
        f"Could not check {answer.name}: {answer.error}. This is temporary and says nothing about the record; "
        "it is checked again shortly.",
        answer.server,
    )


async def _doubled_host(record: ExpectedRecord, resolver: Resolver, domain: str, rtype: str) -> Answer | None:
    """The record where a DNS host that appends the domain itself puts it when the full name was typed."""
    answer = await resolver.lookup(f"{record.fqdn}.{domain}", rtype)
    return answer if answer.ok else None


def _doubled_result(record: ExpectedRecord, doubled: Answer, domain: str) -> CheckResult:
    host = "@ (or leave the host empty)" if record.host == "@" else record.host
    return CheckResult(
        record.key,
        MISMATCH,
        [f"{doubled.name}: {value}" for value in doubled.values],
        f"Nothing at {record.fqdn}, but the record is at {doubled.name}: your DNS host adds {domain} to the "
        f"name itself. Edit the record and enter the host as {host} only.",
        doubled.server,
    )


# DKIM


def parse_tag_list(text: str) -> dict[str, str]:
    """RFC 6376 §3.2 tag=value list; raises ValueError for a malformed list or a repeated tag."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise ValueError(f"{part.strip()!r} is not a tag=value pair")
        if name in tags:
            raise ValueError(f"the tag {name}= appears twice")
        tags[name] = value.strip()
    return tags


def dkim_compare(expected_value: str, found_value: str) -> str | None:
    """None when the found record carries exactly the expected key, else why not."""
    if '"' in found_value:
        return "The value contains quote marks. Paste it without quotes (some DNS hosts add their own)."
    try:
        found = parse_tag_list(found_value)
    except ValueError as exc:
        return f"This is not a valid DKIM key record: {exc}."
    expected = parse_tag_list(expected_value)
    if "v" in found and (next(iter(found)) != "v" or found["v"] != "DKIM1"):
        return "v=DKIM1 must be the first tag when it is present."
    if found.get("k", "rsa").lower() != expected.get("k", "rsa").lower():
        return f"The key type is k={found.get('k', 'rsa')}; this key is k={expected.get('k', 'rsa')}."
    if "p" not in found:
        return "The record has no public key (p= tag)."
    found_key = WHITESPACE.sub("", found["p"])
    expected_key = WHITESPACE.sub("", expected["p"])
    if found_key == "":
        return "The key is revoked (p= is empty). Publish the key shown here."
    if found_key != expected_key:
        if expected_key.startswith(found_key):
            return (
                f"The key is cut short: DNS returned {len(found_key)} of its {len(expected_key)} characters. "
                "Your DNS host truncated it (often at 255 characters): enter the whole value, split into quoted "
                "strings if your host asks for that, or choose a 1024-bit key."
            )
        return "A different public key is published under this selector."
    return None


async def _dkim_proof(record: ExpectedRecord, resolver: Resolver, *, domain: str, private_key_pem: bytes) -> str | None | Answer:
    """Sign with the private key and have dkimpy verify, fetching the key itself through our resolver.
    An Answer back means that fetch failed (timeout, SERVFAIL): no verdict on the record."""
    failed: list[Answer] = []

    async def fetch_key(name: bytes) -> bytes | None:
        answer = await resolver.lookup(name.decode("ascii", "replace"), "TXT")
        if answer.status == ERROR:
            failed.append(answer)
        return answer.values[0].encode() if answer.ok else None

    selector = record.fqdn.split("._domainkey.", 1)[0]
    why = await dkim_proof(domain=domain, selector=selector, private_key_pem=private_key_pem, fetch_key=fetch_key)
    return failed[0] if failed else why


async def check_dkim(
    record: ExpectedRecord, resolver: Resolver, *, domain: str, private_key_pem: bytes | None = None
) -> CheckResult:
    answer = await resolver.lookup(record.fqdn, "TXT")
    if answer.status == ERROR:
        return _error(record, answer)
    if not answer.ok:
        doubled = await _doubled_host(record, resolver, domain, "TXT")
        if doubled:
            return _doubled_result(record, doubled, domain)
        return CheckResult(record.key, MISSING, [], f"No TXT record at {record.fqdn}.", answer.server)
    found = list(answer.values)
    keys = [value for value in found if "p=" in value] or found
    if len(keys) > 1:
        return CheckResult(
            record.key,
            MISMATCH,
            found,
            f"{len(keys)} TXT records at {record.fqdn}; a DKIM selector must have exactly one. "
            "Remove all but the one shown here.",
            answer.server,
        )
    why = dkim_compare(record.value, keys[0])
    if why is None and private_key_pem is not None:
        proof = await _dkim_proof(record, resolver, domain=domain, private_key_pem=private_key_pem)
        if isinstance(proof, Answer):
            return _error(record, proof)
        why = proof
    if why:
        return CheckResult(record.key, MISMATCH, found, why, answer.server)
    message = "The published key matches"
    message += ", and a test message signed with it verifies (dkimpy)." if private_key_pem else "."
    return CheckResult(record.key, PASS, found, message, answer.server)


# Return path


async def check_return_path(record: ExpectedRecord, resolver: Resolver, *, domain: str) -> CheckResult:
    target_host = record.value.rstrip(".").lower()
    answer = await resolver.lookup(record.fqdn, "CNAME")
    if answer.status == ERROR:
        return _error(record, answer)
    if answer.ok:
        chain = [answer.values[0]]
        # Follow a chain of CNAMEs (name -> intermediate -> ours) as receivers and our bounce handling would.
        while chain[-1] != target_host and len(chain) < 8:
            step = await resolver.lookup(chain[-1], "CNAME")
            if not step.ok or step.values[0] in chain:
                break
            chain.append(step.values[0])
        found = [f"CNAME {' → '.join(chain)}"]
        if target_host in chain:
            via = "" if len(chain) == 1 else f" (through {' → '.join(chain[:-1])})"
            return CheckResult(record.key, PASS, found, f"{record.fqdn} points to {target_host}{via}.", answer.server)
        return CheckResult(
            record.key, MISMATCH, found, f"{record.fqdn} points to {chain[-1]}, not to {target_host}.", answer.server
        )
    address, txt, doubled = await asyncio.gather(
        resolver.lookup(record.fqdn, "A"),
        resolver.lookup(record.fqdn, "TXT"),
        _doubled_host(record, resolver, domain, "CNAME"),
    )
    if address.ok:
        return CheckResult(
            record.key,
            MISMATCH,
            [f"A {value}" for value in address.values],
            f"{record.fqdn} has an address (A) record, not a CNAME to {target_host}. If your DNS host "
            "is Cloudflare, turn the proxy off (grey cloud) for this record.",
            address.server,
        )
    if txt.ok:
        return CheckResult(
            record.key,
            MISMATCH,
            [f"TXT {value}" for value in txt.values],
            f"{record.fqdn} has a TXT record; it needs a CNAME record to {target_host} instead.",
            txt.server,
        )
    if doubled:
        return _doubled_result(record, doubled, domain)
    return CheckResult(record.key, MISSING, [], f"No CNAME record at {record.fqdn}.", answer.server)


# SPF


async def check_spf(record: ExpectedRecord, resolver: Resolver, *, domain: str, include: str) -> CheckResult:
    include = include.rstrip(".").lower()
    answer = await resolver.lookup(domain, "TXT")
    if answer.status == ERROR:
        return _error(record, answer)
    records = spf_records(answer.values) if answer.ok else []
    if not records:
        doubled = await _doubled_host(record, resolver, domain, "TXT")
        if doubled and spf_records(doubled.values):
            return _doubled_result(record, doubled, domain)
        return CheckResult(record.key, MISSING, [], f"No SPF record at {domain}.", answer.server)
    if len(records) > 1:
        return CheckResult(
            record.key,
            MISMATCH,
            records,
            f"{domain} has {len(records)} SPF records; receivers then fail SPF for all your mail "
            "(RFC 7208 §4.5). Merge them into one record and delete the others.",
            answer.server,
        )
    existing = records[0]
    evaluation = await spf_evaluate(domain, resolver.lookup, answer=answer)
    problems = []
    if evaluation.result == PERMERROR or evaluation.over_limit:
        problems.append("Receivers reject it: " + "; ".join(evaluation.problems) + ".")
    if has_permissive_all(existing):
        problems.append("It ends in +all, which lets every server on the Internet send as your domain: use ~all or -all.")
    if include not in evaluation.includes:
        # Last, so that the record to copy ends the message.
        problems.append(f"It does not include our servers. Replace it with this single record: {spf_merge(existing, include)}")
    if problems:
        return CheckResult(record.key, MISMATCH, [existing], " ".join(problems), answer.server)
    if evaluation.result == TEMPERROR:
        return CheckResult(
            record.key,
            ERROR,
            [existing],
            "Could not follow every include: "
            + "; ".join(evaluation.problems)
            + ". This is temporary; it is checked again shortly.",
            answer.server,
        )
    return CheckResult(
        record.key,
        PASS,
        [existing],
        f"One SPF record, including {include}; {evaluation.lookups} of {LOOKUP_LIMIT} DNS lookups.",
        answer.server,
    )


# DMARC


async def _dmarc_at(name: str, resolver: Resolver) -> tuple[Answer, list[str]]:
    answer = await resolver.lookup(name, "TXT")
    return answer, [value for value in answer.values if is_dmarc(value)] if answer.ok else []


async def check_dmarc(record: ExpectedRecord, resolver: Resolver, *, domain: str, org_domain: str | None) -> CheckResult:
    answer, records = await _dmarc_at(record.fqdn, resolver)
    if answer.status == ERROR:
        return _error(record, answer)
    if len(records) > 1:
        return CheckResult(
            record.key,
            MISMATCH,
            records,
            f"{len(records)} DMARC records at {record.fqdn}; receivers then ignore DMARC. Keep one.",
            answer.server,
        )
    if records:
        try:
            parsed = parse_dmarc(records[0])
        except ValueError as exc:
            return CheckResult(record.key, MISMATCH, records, f"The DMARC record is not valid: {exc}.", answer.server)
        return CheckResult(record.key, PASS, records, f"DMARC policy p={parsed.policy}.", answer.server)
    if org_domain and org_domain != domain:
        org_answer, org_records = await _dmarc_at(f"_dmarc.{org_domain}", resolver)
        if len(org_records) == 1:
            try:
                parsed = parse_dmarc(org_records[0])
            except ValueError:
                pass
            else:
                return CheckResult(
                    record.key,
                    PASS,
                    org_records,
                    f"No record at {record.fqdn}; the record of the organizational domain {org_domain} "
                    f"applies: subdomain policy {parsed.subdomain_policy} (p={parsed.policy}).",
                    org_answer.server,
                )
    doubled = await _doubled_host(record, resolver, domain, "TXT")
    if doubled and any(is_dmarc(value) for value in doubled.values):
        return _doubled_result(record, doubled, domain)
    return CheckResult(
        record.key,
        MISSING,
        [],
        f"No DMARC record. Recommended (it does not block sending): publish {record.value}",
        answer.server,
    )


# One domain


async def check_record(
    record: ExpectedRecord,
    resolver: Resolver,
    *,
    domain: str,
    org_domain: str | None = None,
    private_keys: dict[str, bytes] | None = None,
    spf_include: str = "",
) -> CheckResult:
    if record.key.startswith("dkim:"):
        selector = record.key.split(":", 1)[1]
        return await check_dkim(record, resolver, domain=domain, private_key_pem=(private_keys or {}).get(selector))
    if record.key == "return_path":
        return await check_return_path(record, resolver, domain=domain)
    if record.key == "spf":
        return await check_spf(record, resolver, domain=domain, include=spf_include or _include_of(record))
    if record.key == "dmarc":
        return await check_dmarc(record, resolver, domain=domain, org_domain=org_domain)
    return CheckResult(record.key, ERROR, [], f"No check for a record of kind {record.key!r}.")


def _include_of(record: ExpectedRecord) -> str:
    for term in record.value.split():
        if term.lower().startswith("include:"):
            return term.split(":", 1)[1]
    return ""


async def check_all(
    records: Iterable[ExpectedRecord],
    resolver: Resolver,
    *,
    domain: str,
    org_domain: str | None = None,
    private_keys: dict[str, bytes] | None = None,
    spf_include: str = "",
) -> list[CheckResult]:
    """Check every record of one domain concurrently; results in the order of `records`."""
    domain = domain.rstrip(".").lower()
    return list(
        await asyncio.gather(
            *(
                check_record(
                    record, resolver, domain=domain, org_domain=org_domain, private_keys=private_keys, spf_include=spf_include
                )
                for record in records
            )
        )
    )
