"""The DNS records a domain must publish: a pure function of the domain, its keys and the operator's settings.

Knows nothing of Django models: callers pass plain values, so it is testable without a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
    # DKIM key rotation: "next" (a new key to publish now), "retiring" (an old key to remove later), else "".
    rotation: str = ""


@dataclass(frozen=True)
class DkimPublic:
    selector: str
    algorithm: str  # "rsa" or "ed25519"
    public_key: str  # base64: SubjectPublicKeyInfo (RSA) or the raw 32-byte key (Ed25519)
    state: str = "active"  # domains.models.DkimKeyState: "next", "active" or "retiring" (retired keys are not passed)
    retire_after: datetime | None = None  # retiring keys: when their record may go


DKIM_WHY = "Receivers use this public key to check the DKIM signature we add to every message you send."
DKIM_NEXT_WHY = (
    "New key (rotation): publish this new key now, beside the current one; we switch signing to it once we find "
    "it in DNS. Until then it is not required."
)
DKIM_RETIRING_WHY = (
    "Previous key (rotation): we no longer sign with it, but mail signed before the switch still needs it. "
    "Keep it until {until}, then remove it."
)
RETURN_PATH_WHY = (
    "Bounces come back to us through this name, and it aligns the envelope sender with your domain for SPF."
)
SPF_WHY = "Tells receivers that our servers may send mail for your domain; publish exactly one SPF record."
DMARC_WHY = "Tells receivers what to do when a message fails DKIM and SPF, and where to send reports."


def _fqdn(host: str, domain: str) -> str:
    return domain if host == "@" else f"{host}.{domain}"


def spf_merge(existing: str, include: str) -> str:
    """One SPF record with `include:<include>` added: before the `all` term or `redirect=`, never a second record.

    A value that is not an SPF record is replaced by ours; a record that already includes us is kept as it is
    (only its spacing tidied).
    """
    include = include.strip().rstrip(".").lower()
    terms = existing.split()
    if not terms or terms[0].lower() != "v=spf1":
        return f"v=spf1 include:{include} ~all"
    ours = f"include:{include}"
    if any(term.lower().lstrip("+") == ours for term in terms[1:]):
        return " ".join(terms)
    for position, term in enumerate(terms[1:], start=1):
        bare = term.lower().lstrip("+-~?")
        # Nothing after "all" is ever evaluated, and redirect= only applies when no mechanism matched.
        if bare == "all" or term.lower().startswith("redirect="):
            return " ".join([*terms[:position], ours, *terms[position:]])
    return " ".join([*terms, ours])


def expected_records(
    *,
    domain: str,
    dkim: list[DkimPublic],
    return_path_label: str,
    return_path_host: str,
    spf_include: str,
    dmarc_rua: str,
    existing_spf: str | None = None,
) -> list[ExpectedRecord]:
    """Every record the domain must (or should) publish, in the order a person would add them."""
    domain = domain.rstrip(".").lower()
    records = []
    # Signing keys first, then a rotation's new keys, then the keys on their way out.
    order = {"active": 0, "next": 1, "retiring": 2}
    for key in sorted(dkim, key=lambda k: order.get(k.state, 0)):
        host = f"{key.selector}._domainkey"
        why = DKIM_WHY if key.algorithm == "rsa" else DKIM_WHY + " (Ed25519, beside RSA: RFC 8463)"
        if key.state == "next":
            why = DKIM_NEXT_WHY
        elif key.state == "retiring":
            until = f"{key.retire_after.day} {key.retire_after:%b %Y}" if key.retire_after else "the rotation ends"
            why = DKIM_RETIRING_WHY.format(until=until)
        records.append(
            ExpectedRecord(
                key=f"dkim:{key.selector}",
                purpose="DKIM",
                rtype="TXT",
                host=host,
                fqdn=_fqdn(host, domain),
                value=f"v=DKIM1; k={key.algorithm}; p={key.public_key}",
                # Only signing keys decide the domain's status: a new key not found yet never degrades it.
                required=key.state == "active",
                why=why,
                rotation=key.state if key.state in ("next", "retiring") else "",
            )
        )
    records.append(
        ExpectedRecord(
            key="return_path",
            purpose="Return path",
            rtype="CNAME",
            host=return_path_label,
            fqdn=_fqdn(return_path_label, domain),
            value=return_path_host.rstrip(".").lower(),
            required=True,
            why=RETURN_PATH_WHY,
        )
    )
    if spf_include:
        include = spf_include.rstrip(".").lower()
        if existing_spf and existing_spf.split()[:1] and existing_spf.split()[0].lower() == "v=spf1":
            value = spf_merge(existing_spf, include)
            if value == f"v=spf1 include:{include} ~all":
                why = SPF_WHY
            elif value == " ".join(existing_spf.split()):
                why = SPF_WHY + " Your domain's SPF record already includes ours: keep it as it is."
            else:
                why = SPF_WHY + " Your domain already has one: this is it with our include merged in; replace it."
        else:
            value = f"v=spf1 include:{include} ~all"
            why = SPF_WHY
        records.append(
            ExpectedRecord(key="spf", purpose="SPF", rtype="TXT", host="@", fqdn=domain, value=value, required=True, why=why)
        )
    dmarc = "v=DMARC1; p=none" + (f"; rua=mailto:{dmarc_rua}" if dmarc_rua else "")
    records.append(
        ExpectedRecord(
            key="dmarc",
            purpose="DMARC",
            rtype="TXT",
            host="_dmarc",
            fqdn=_fqdn("_dmarc", domain),
            value=dmarc,
            required=False,
            why=DMARC_WHY + " Recommended: an existing DMARC record at your domain or its parent domain also passes.",
        )
    )
    return records
