"""The DNS records a domain must publish: a pure function of the domain, its keys and the operator's settings.

Knows nothing of Django models: callers pass plain values, so it is testable without a database.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExpectedRecord:
    key: str  # stable identity of the record within its domain: "dkim:<selector>", "return_path", "spf", "dmarc"
    purpose: str  # "DKIM", "Return path", "SPF", "DMARC"
    rtype: str  # "TXT" or "CNAME"
    host: str  # relative to the domain: "ms1._domainkey", "bounces", "@", "_dmarc"
    fqdn: str  # fully qualified, no trailing dot: "ms1._domainkey.example.com"
    value: str  # the whole value to publish (TXT as one unsplit string)
    required: bool
    why: str  # one sentence on why the record exists


@dataclass(frozen=True)
class DkimPublic:
    selector: str
    algorithm: str  # "rsa" or "ed25519"
    public_key: str  # base64: SubjectPublicKeyInfo (RSA) or the raw 32-byte key (Ed25519)
