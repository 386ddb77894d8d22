"""DMARC records (RFC 7489): recognise one and read its policy. Pure; no DNS here."""

from __future__ import annotations

from dataclasses import dataclass

POLICIES = ("none", "quarantine", "reject")


@dataclass(frozen=True)
class DmarcRecord:
    policy: str
    subdomain_policy: str
    tags: dict[str, str]


def is_dmarc(text: str) -> bool:
    """A DMARC record starts with the version tag v=DMARC1 (RFC 7489 §6.3); other TXT records are ignored."""
    head = text.strip().split(";", 1)[0].replace(" ", "").replace("\t", "")
    return head.lower() == "v=dmarc1"


def parse_dmarc(text: str) -> DmarcRecord:
    """Parse a record that is_dmarc(); raises ValueError saying what is wrong."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, eq, value = part.partition("=")
        name = name.strip().lower()
        if not eq or not name:
            raise ValueError(f"{part!r} is not a tag=value pair")
        if name in tags:
            raise ValueError(f"the tag {name}= appears twice")
        tags[name] = value.strip()
    if tags.get("v", "").upper() != "DMARC1":
        raise ValueError("it does not start with v=DMARC1")
    policy = tags.get("p", "").lower()
    if policy not in POLICIES:
        if "p" not in tags:
            raise ValueError("it has no policy (p=none, p=quarantine or p=reject)")
        raise ValueError(f"p={tags['p']} is not a policy (none, quarantine or reject)")
    subdomain_policy = tags.get("sp", policy).lower()
    if subdomain_policy not in POLICIES:
        raise ValueError(f"sp={tags['sp']} is not a policy (none, quarantine or reject)")
    return DmarcRecord(policy=policy, subdomain_policy=subdomain_policy, tags=tags)
