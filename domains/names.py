"""Domain names as people type them, made into the one form we store: the IDNA 2008 A-label.

Pure: knows nothing of Django. `normalize_domain` turns "  https://Bücher.Example./ " into
("xn--bcher-kva.example", "bücher.example") or raises DomainNameError with a sentence fit to show beside
the field. The Public Suffix List (offline, from the `publicsuffixlist` package) decides what is a public
suffix (`com`, `co.uk`, `github.io`) and what a name's organizational domain is (for DMARC).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import urlsplit

import idna
from publicsuffixlist import PublicSuffixList

MAX_NAME_OCTETS = 253
MAX_LABEL_OCTETS = 63
# What may be typed in a label before IDNA mapping: letters of any script, digits, hyphens.
_BAD_CHAR = re.compile(r"[^\w.\-]|_", re.UNICODE)
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_LDH_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


class DomainNameError(ValueError):
    """A domain name we cannot accept; str(error) is a message for the person who typed it."""


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    # Built from the list shipped inside the package: no network. Unknown TLDs count as public suffixes
    # (the PSL's implicit "*" rule), so "example.test" is registrable and "test" is not.
    return PublicSuffixList()


def _plain(name: str) -> str | None:
    """Lowercase, without one trailing dot; None for what cannot be a name (empty, leading dot, empty label)."""
    if not isinstance(name, str):
        return None
    name = name.strip().lower()
    if name.endswith("."):
        name = name[:-1]
    if not name or any(label == "" for label in name.split(".")):
        return None
    return name


def is_public_suffix(name: str) -> bool:
    """True for `com`, `co.uk`, `github.io`, and any single label (an unlisted TLD is a public suffix)."""
    plain = _plain(name)
    if plain is None:
        return False
    return _psl().is_public(plain)


def registrable_domain(name: str) -> str | None:
    """The public suffix plus one label (`www.example.co.uk` -> `example.co.uk`); None for a public suffix."""
    plain = _plain(name)
    if plain is None:
        return None
    return _psl().privatesuffix(plain)


def organizational_domain(name: str) -> str:
    """The organizational domain of RFC 7489 (DMARC): the registrable domain, or the name itself for a suffix."""
    plain = _plain(name) or ""
    return registrable_domain(plain) or plain


def _strip_prefixes(raw: str) -> str:
    """Understand a pasted URL (`https://example.com/path`) or address (`user@example.com`)."""
    text = raw
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise DomainNameError("Enter just the domain name, like example.com, not a link.")
        # hostname drops the user, password and port; it is lowercased but keeps non-ASCII letters.
        text = parts.hostname
    elif "/" in text:
        host, _, _rest = text.partition("/")
        if not host or "." not in host:
            raise DomainNameError("A domain name cannot contain “/”. Enter just the domain name, like example.com.")
        text = host
    if "@" in text:
        text = text.rpartition("@")[2]
        if not text:
            raise DomainNameError("That looks like an email address without a domain. Enter the part after the @.")
    return text


def _refuse_ip(text: str) -> None:
    candidate = text.strip("[]")
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        pass
    else:
        raise DomainNameError("That is an IP address. Enter a domain name, like example.com.")
    # Also catches "192.168.1" and similar partial addresses, which DNS would refuse as a TLD anyway.
    if re.fullmatch(r"[0-9.]+", candidate) or ":" in candidate and re.fullmatch(r"[0-9a-fA-F:.]+", candidate):
        raise DomainNameError("That looks like an IP address. Enter a domain name, like example.com.")


def _check_characters(text: str) -> None:
    if any(ch.isspace() for ch in text):
        raise DomainNameError("A domain name cannot contain spaces.")
    bad = _BAD_CHAR.search(text)
    if bad:
        char = bad.group(0)
        if char == "_":
            raise DomainNameError("A domain name for sending cannot contain “_” (underscores are for service records).")
        if char == ":":
            raise DomainNameError("Enter the domain name without a port number (remove “:” and what follows).")
        raise DomainNameError(f"A domain name cannot contain “{char}”. Use letters, digits, hyphens and dots.")


def _check_lengths(a_label: str) -> None:
    for label in a_label.split("."):
        if len(label) > MAX_LABEL_OCTETS:
            raise DomainNameError(
                f"The part “{label[:20]}…” is {len(label)} characters long; each part between dots may have at most "
                f"{MAX_LABEL_OCTETS}."
            )
    if len(a_label) > MAX_NAME_OCTETS:
        raise DomainNameError(f"That name is {len(a_label)} characters long; a domain name may have at most {MAX_NAME_OCTETS}.")


def _to_a_label(text: str) -> str:
    """UTS 46 mapping (non-transitional, STD3 rules) then IDNA 2008, label by label for clear messages."""
    try:
        mapped = idna.uts46_remap(text, std3_rules=True, transitional=False)
    except idna.IDNAError:
        raise DomainNameError("That name contains a character that is not allowed in domain names.") from None
    labels = mapped.split(".")
    if any(label == "" for label in labels):
        raise DomainNameError("A domain name cannot have an empty part (two dots in a row, or a dot at the start).")
    a_labels = []
    for label in labels:
        if label.isascii():
            # Check ASCII labels ourselves: idna's messages are terse, and long ones must get our length message.
            if len(label) > MAX_LABEL_OCTETS:
                _check_lengths(label)
            if label.startswith("-") or label.endswith("-"):
                raise DomainNameError(f"The part “{label}” cannot start or end with a hyphen.")
            if not _LDH_LABEL.match(label):
                raise DomainNameError(f"The part “{label}” contains a character not allowed in domain names.")
            if label[2:4] == "--" and not label.startswith("xn--"):
                raise DomainNameError(f"The part “{label}” cannot have “--” in the third and fourth positions.")
            if label.startswith("xn--"):
                try:
                    idna.decode(label)
                except (idna.IDNAError, UnicodeError):
                    raise DomainNameError(f"The part “{label}” is not a valid internationalised (xn--) label.") from None
            a_labels.append(label)
            continue
        try:
            a_labels.append(idna.alabel(label).decode("ascii"))
        except idna.IDNAError as error:
            if "too long" in str(error).lower():
                raise DomainNameError(
                    f"The part “{label}” is too long once encoded for DNS (at most {MAX_LABEL_OCTETS} characters)."
                ) from None
            raise DomainNameError(f"The part “{label}” is not a valid internationalised domain label ({error}).") from None
        except UnicodeError:
            raise DomainNameError(f"The part “{label}” is not a valid internationalised domain label.") from None
    a_label = ".".join(a_labels)
    _check_lengths(a_label)
    return a_label


def normalize_domain(raw: str) -> tuple[str, str]:
    """The (A-label, U-label) of what a person typed, or DomainNameError saying what is wrong with it."""
    if not isinstance(raw, str):
        raise DomainNameError("Enter a domain name.")
    # Ideographic and fullwidth full stops are dots to UTS 46; map them first so the character check allows them.
    text = raw.strip().translate(_DOTS)
    if not text:
        raise DomainNameError("Enter a domain name.")
    if "\x00" in text or not text.isprintable():
        raise DomainNameError("That name contains a control character; enter just the domain name.")
    text = _strip_prefixes(text).strip()
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise DomainNameError("Enter a domain name.")
    if text.startswith("."):
        raise DomainNameError("A domain name cannot start with a dot.")
    if ".." in text:
        raise DomainNameError("A domain name cannot have two dots in a row.")
    _refuse_ip(text)
    _check_characters(text)
    # Quick refusal of absurd input before any IDNA work.
    if len(text) > 4 * MAX_NAME_OCTETS:
        raise DomainNameError(f"That name is too long; a domain name may have at most {MAX_NAME_OCTETS} characters.")
    a_label = _to_a_label(text)
    if "." not in a_label:
        raise DomainNameError(f"“{text}” is a single label. Enter a full domain name, like example.com.")
    if a_label.rsplit(".", 1)[1].isdigit():
        raise DomainNameError("The last part of a domain name cannot be all digits.")
    if is_public_suffix(a_label):
        raise DomainNameError(
            f"“{text}” is a public suffix: names under it belong to different owners. "
            f"Enter a domain you own under it, like yourcompany.{a_label}."
        )
    try:
        u_label = idna.decode(a_label)
    except (idna.IDNAError, UnicodeError):
        u_label = a_label
    return a_label, u_label
