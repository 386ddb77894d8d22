"""The records a domain must publish (a pure function) and the SPF merge."""

from __future__ import annotations

import pytest

from domains.records import DkimPublic, expected_records, spf_merge

RSA = DkimPublic(selector="ms202612a", algorithm="rsa", public_key="MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA")
ED = DkimPublic(selector="ms202612e", algorithm="ed25519", public_key="11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")


def _records(**overrides: object) -> list:
    args = {
        "domain": "example.com",
        "dkim": [RSA],
        "return_path_label": "bounces",
        "return_path_host": "bounces.mailsetup.test",
        "spf_include": "spf.mailsetup.test",
        "dmarc_rua": "dmarc@mailsetup.test",
    }
    args.update(overrides)
    return expected_records(**args)


def test_it_lists_dkim_return_path_spf_and_dmarc_in_order() -> None:
    records = _records()
    assert [(r.key, r.purpose, r.rtype, r.host, r.fqdn, r.required) for r in records] == [
        ("dkim:ms202612a", "DKIM", "TXT", "ms202612a._domainkey", "ms202612a._domainkey.example.com", True),
        ("return_path", "Return path", "CNAME", "bounces", "bounces.example.com", True),
        ("spf", "SPF", "TXT", "@", "example.com", True),
        ("dmarc", "DMARC", "TXT", "_dmarc", "_dmarc.example.com", False),
    ]
    assert [r.value for r in records] == [
        f"v=DKIM1; k=rsa; p={RSA.public_key}",
        "bounces.mailsetup.test",
        "v=spf1 include:spf.mailsetup.test ~all",
        "v=DMARC1; p=none; rua=mailto:dmarc@mailsetup.test",
    ]
    assert all(r.why.endswith(".") for r in records)


def test_each_dkim_key_gets_its_own_record() -> None:
    records = _records(dkim=[RSA, ED])
    assert [r.value for r in records[:2]] == [
        f"v=DKIM1; k=rsa; p={RSA.public_key}",
        "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    ]


def test_the_return_path_label_is_the_domains_own() -> None:
    record = next(r for r in _records(return_path_label="mta") if r.key == "return_path")
    assert (record.host, record.fqdn) == ("mta", "mta.example.com")


def test_no_spf_record_without_an_include() -> None:
    assert [r.key for r in _records(spf_include="")] == ["dkim:ms202612a", "return_path", "dmarc"]


def test_an_existing_spf_record_is_merged_never_a_second_one() -> None:
    records = _records(existing_spf="v=spf1 mx include:_spf.google.com -all")
    spf = [r for r in records if r.purpose == "SPF"]
    assert [r.value for r in spf] == ["v=spf1 mx include:_spf.google.com include:spf.mailsetup.test -all"]


def test_an_existing_value_that_is_not_spf_is_ignored() -> None:
    spf = next(r for r in _records(existing_spf="google-site-verification=x") if r.key == "spf")
    assert spf.value == "v=spf1 include:spf.mailsetup.test ~all"


def test_dmarc_without_a_report_address() -> None:
    assert _records(dmarc_rua="")[-1].value == "v=DMARC1; p=none"


@pytest.mark.parametrize(("existing", "merged"), [
    ("v=spf1 -all", "v=spf1 include:spf.x.test -all"),
    ("v=spf1 mx ~all", "v=spf1 mx include:spf.x.test ~all"),
    ("v=spf1 a mx ?all", "v=spf1 a mx include:spf.x.test ?all"),
    ("v=spf1 ip4:192.0.2.0/24 +all", "v=spf1 ip4:192.0.2.0/24 include:spf.x.test +all"),
    ("v=spf1 include:_spf.google.com all", "v=spf1 include:_spf.google.com include:spf.x.test all"),
    ("v=spf1 redirect=_spf.example.com", "v=spf1 include:spf.x.test redirect=_spf.example.com"),
    ("v=spf1 mx redirect=_spf.example.com", "v=spf1 mx include:spf.x.test redirect=_spf.example.com"),
    ("v=spf1 mx", "v=spf1 mx include:spf.x.test"),
    ("v=spf1 mx -all exp=explain.example.com", "v=spf1 mx include:spf.x.test -all exp=explain.example.com"),
    ("  v=spf1   mx    -all ", "v=spf1 mx include:spf.x.test -all"),
    ("V=SPF1 MX -ALL", "V=SPF1 MX include:spf.x.test -ALL"),
    ("v=spf1 include:spf.x.test -all", "v=spf1 include:spf.x.test -all"),
    ("v=spf1 +include:SPF.X.TEST ~all", "v=spf1 +include:SPF.X.TEST ~all"),
    ("v=spf1 include:spf.x.test.evil.test -all", "v=spf1 include:spf.x.test.evil.test include:spf.x.test -all"),
    ("v=spf10 -all", "v=spf1 include:spf.x.test ~all"),
    ("", "v=spf1 include:spf.x.test ~all"),
])
def test_spf_merge(existing: str, merged: str) -> None:
    assert spf_merge(existing, "spf.x.test.") == merged


@pytest.mark.parametrize(
    ("existing", "value", "says"),
    [
        ("v=spf1 include:spf.mailsetup.test ~all", "v=spf1 include:spf.mailsetup.test ~all", None),
        ("v=spf1 mx include:spf.mailsetup.test -all", "v=spf1 mx include:spf.mailsetup.test -all", "already includes ours"),
        ("v=spf1 mx -all", "v=spf1 mx include:spf.mailsetup.test -all", "merged in"),
    ],
)
def test_the_spf_explanation_says_merge_only_when_something_was_merged(existing, value, says) -> None:  # noqa: ANN001
    spf = next(r for r in _records(existing_spf=existing) if r.key == "spf")
    assert spf.value == value
    assert ("merged in" in spf.why) == (says == "merged in")
    assert ("already includes ours" in spf.why) == (says == "already includes ours")
