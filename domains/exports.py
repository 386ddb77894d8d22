"""The expected records as files a DNS admin can load: a BIND zone fragment and CSV. Pure."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from .records import ExpectedRecord

TTL = 3600
MAX_TXT_STRING = 255  # octets in one <character-string> (RFC 1035 3.3)
# DKIM key rotation, said in the zone's comments: which key to add now, which to remove later.
ROTATION_NOTE = {"next": "new key: publish now", "retiring": "previous key: keep for now, remove later"}


def _quote(chunk: bytes) -> str:
    out = []
    for byte in chunk:
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def txt_strings(value: str) -> list[str]:
    """A TXT value as quoted zone-file strings of at most 255 octets each (split by octets, before escaping)."""
    data = value.encode("utf-8")
    if not data:
        return ['""']
    return [_quote(data[i : i + MAX_TXT_STRING]) for i in range(0, len(data), MAX_TXT_STRING)]


def zone_fragment(domain: str, records: Iterable[ExpectedRecord], *, ttl: int = TTL) -> str:
    """Lines to paste into the zone of `domain` (names fully qualified, so $ORIGIN does not matter)."""
    lines = [f"; DNS records for {domain} from mailsetup. Fully qualified names; TTL {ttl}."]
    for record in records:
        owner = f"{record.fqdn}."
        note = ROTATION_NOTE.get(record.rotation) or ("required" if record.required else "recommended")
        comment = f"; {record.purpose} ({note})"
        if record.rtype == "TXT":
            data = " ".join(txt_strings(record.value))
        elif record.rtype == "CNAME":
            data = f"{record.value.rstrip('.')}."
        else:
            data = record.value
        lines.append(comment)
        lines.append(f"{owner}\t{ttl}\tIN\t{record.rtype}\t{data}")
    return "\n".join(lines) + "\n"


def records_csv(records: Iterable[ExpectedRecord]) -> str:
    """type, host, fqdn, value, required: one row per record, values whole."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["type", "host", "fqdn", "value", "required"])
    for record in records:
        writer.writerow([record.rtype, record.host, record.fqdn, _csv_safe(record.value), "yes" if record.required else "no"])
    return buffer.getvalue()


def _csv_safe(value: str) -> str:
    # A spreadsheet would run a value starting with "=" as a formula; our values never do, but an SPF record
    # merged from what DNS returned could.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
