"""Exports: the BIND zone fragment loads (dnspython and named-checkzone) with TXT split at 255 octets; CSV."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess

import dns.rdatatype
import dns.zone
import pytest

from domains.dkim import RSA, dkim_record, generate_key
from domains.exports import records_csv, txt_strings, zone_fragment
from domains.records import DkimPublic, expected_records
from tests.conftest import need


def _records(domain: str = "example.com", existing_spf: str | None = None) -> list:
    rsa = generate_key(RSA, 2048)
    return expected_records(
        domain=domain,
        dkim=[DkimPublic(selector="ms202612a", algorithm="rsa", public_key=rsa.public_key),
              DkimPublic(selector="ms202612e", algorithm="ed25519",
                         public_key="11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")],
        return_path_label="bounces",
        return_path_host="bounces.mailsetup.test",
        spf_include="spf.mailsetup.test",
        dmarc_rua="dmarc@mailsetup.test",
        existing_spf=existing_spf,
    )


def _zone(domain: str, fragment: str) -> str:
    return (
        f"$ORIGIN {domain}.\n$TTL 3600\n"
        f"@ IN SOA ns1.{domain}. hostmaster.{domain}. 1 7200 3600 1209600 3600\n"
        f"@ IN NS ns1.{domain}.\nns1 IN A 192.0.2.53\n" + fragment
    )


def test_txt_values_split_into_strings_of_at_most_255_octets() -> None:
    value = "v=DKIM1; k=rsa; p=" + "A" * 600
    strings = txt_strings(value)
    assert [len(s) - 2 for s in strings] == [255, 255, 108]
    assert "".join(s[1:-1] for s in strings) == value


def test_txt_quotes_and_backslashes_are_escaped() -> None:
    assert txt_strings('a"b\\c') == ['"a\\"b\\\\c"']
    assert txt_strings("é") == ['"\\195\\169"']


def test_the_zone_fragment_loads_in_dnspython_with_the_whole_values() -> None:
    records = _records(existing_spf="v=spf1 mx -all")
    zone = dns.zone.from_text(_zone("example.com", zone_fragment("example.com", records)), relativize=False)
    for record in records:
        rdataset = zone.find_rdataset(record.fqdn + ".", dns.rdatatype.from_text(record.rtype))
        assert rdataset.ttl == 3600
        (rdata,) = list(rdataset)
        if record.rtype == "TXT":
            assert all(len(s) <= 255 for s in rdata.strings)
            assert b"".join(rdata.strings).decode() == record.value
        else:
            assert rdata.target.to_text() == record.value + "."
    dkim = next(r for r in records if r.key == "dkim:ms202612a")
    assert len(dkim.value) > 255  # the split really happened


def test_named_checkzone_accepts_the_fragment_in_a_minimal_zone(tmp_path) -> None:
    need(shutil.which("named-checkzone") is not None, "named-checkzone (bind9-utils) is not installed")
    domain = "xn--bcher-kva.example"
    path = tmp_path / "zone.db"
    path.write_text(_zone(domain, zone_fragment(domain, _records(domain))))
    result = subprocess.run(["named-checkzone", domain, str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("OK")


def test_named_checkzone_refuses_a_broken_zone(tmp_path) -> None:
    # The check above can fail: a record outside the zone is an error for named-checkzone.
    need(shutil.which("named-checkzone") is not None, "named-checkzone (bind9-utils) is not installed")
    path = tmp_path / "zone.db"
    path.write_text(_zone("example.com", 'bad name here\tIN\tTXT\t"x"\n'))
    result = subprocess.run(["named-checkzone", "example.com", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0


def test_the_csv_has_the_whole_values() -> None:
    records = _records()
    rows = list(csv.reader(io.StringIO(records_csv(records))))
    assert rows[0] == ["type", "host", "fqdn", "value", "required"]
    assert rows[1:] == [[r.rtype, r.host, r.fqdn, r.value, "yes" if r.required else "no"] for r in records]


@pytest.mark.parametrize("value", ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(1)"])
def test_the_csv_never_starts_a_cell_with_a_formula(value: str) -> None:
    from domains.records import ExpectedRecord

    record = ExpectedRecord(key="x", purpose="X", rtype="TXT", host="@", fqdn="example.com", value=value,
                            required=True, why="")
    assert list(csv.reader(io.StringIO(records_csv([record]))))[1][3] == "'" + value


def test_a_dkim_record_value_round_trips() -> None:
    key = generate_key(RSA, 1024)
    assert dkim_record(RSA, key.public_key).startswith("v=DKIM1; k=rsa; p=MIGfMA0")
