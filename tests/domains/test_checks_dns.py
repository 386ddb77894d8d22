"""The record checks against a real BIND9, with records published by RFC 2136 updates as a DNS admin would."""

from __future__ import annotations

from functools import lru_cache

import pytest

from domains import dkim
from domains.checks import CheckResult, check_all
from domains.dns import Resolver, run_sync
from domains.records import DkimPublic, ExpectedRecord, expected_records
from tests.dns.bind import BindServer, free_port
from tests.dns.fixtures import SERVFAIL_ZONE

INCLUDE = "spf.mailsetup.test"
RETURN_PATH = "bounces.mailsetup.test"


@lru_cache(maxsize=4)
def key(algorithm: str = "rsa", bits: int | None = 2048) -> dkim.GeneratedKey:
    return dkim.generate_key(algorithm, bits if algorithm == "rsa" else None)


def records_of(domain: str, *keys: tuple[str, dkim.GeneratedKey]) -> list[ExpectedRecord]:
    keys = keys or (("s1", key()),)
    return expected_records(
        domain=domain,
        dkim=[DkimPublic(selector=s, algorithm=k.algorithm, public_key=k.public_key) for s, k in keys],
        return_path_label="bounces",
        return_path_host=RETURN_PATH,
        spf_include=INCLUDE,
        dmarc_rua="dmarc@mailsetup.test",
    )


def publish(server: BindServer, records: list[ExpectedRecord], skip: tuple[str, ...] = ()) -> None:
    for record in records:
        if record.key not in skip:
            server.publish(record.fqdn, record.rtype, record.value + ("." if record.rtype == "CNAME" else ""))


def check(
    domain: str,
    records: list[ExpectedRecord],
    *,
    private_keys: dict[str, bytes] | None = None,
    org_domain: str | None = None,
    resolver: Resolver | None = None,
) -> dict[str, CheckResult]:
    resolver = resolver or Resolver.from_settings()
    results = run_sync(
        check_all(records, resolver, domain=domain, org_domain=org_domain, private_keys=private_keys, spf_include=INCLUDE)
    )
    return {result.key: result for result in results}


def test_a_domain_with_every_record_published_passes_every_check(dns_server, fresh_domain) -> None:
    domain = fresh_domain("complete")
    rsa, ed = key(), key("ed25519")
    records = records_of(domain, ("s1", rsa), ("e1", ed))
    publish(dns_server, records)

    results = check(domain, records, private_keys={"s1": rsa.private_pem, "e1": ed.private_pem})

    assert {k: r.status for k, r in results.items()} == {
        "dkim:s1": "pass",
        "dkim:e1": "pass",
        "return_path": "pass",
        "spf": "pass",
        "dmarc": "pass",
    }
    assert "verifies (dkimpy)" in results["dkim:s1"].message
    assert results["dkim:s1"].server == dns_server.address
    assert results["spf"].found == [f"v=spf1 include:{INCLUDE} ~all"]
    assert "1 of 10 DNS lookups" in results["spf"].message  # our include; it lists addresses only
    assert results["dmarc"].message == "DMARC policy p=none."


def test_nothing_published_is_missing_and_says_where(dns_server, fresh_domain) -> None:
    domain = fresh_domain("empty")
    results = check(domain, records_of(domain))

    assert {r.status for r in results.values()} == {"missing"}
    assert results["dkim:s1"].message == f"No TXT record at s1._domainkey.{domain}."
    assert results["dmarc"].message.startswith(
        "No DMARC record. Recommended (it does not block sending): publish v=DMARC1; p=none"
    )


def test_a_dkim_key_split_over_several_strings_passes(dns_server, fresh_domain) -> None:
    domain = fresh_domain("split")
    record = records_of(domain)[0]
    value = record.value
    dns_server.publish(record.fqdn, "TXT", [value[:100], value[100:200], value[200:]])

    result = check(domain, [record], private_keys={"s1": key().private_pem})["dkim:s1"]

    assert result.status == "pass"
    assert result.found == [value]  # joined without separators (RFC 6376 §3.6.2.2)


def test_upper_case_names_and_targets_still_match(dns_server, fresh_domain) -> None:
    domain = fresh_domain("upper")
    records = records_of(domain)
    for record in records:
        if record.rtype == "CNAME":
            dns_server.publish(record.fqdn.upper(), "CNAME", record.value.upper() + ".")
        else:
            dns_server.publish(record.fqdn.upper(), "TXT", record.value)

    results = check(domain.upper(), records, private_keys={"s1": key().private_pem})

    assert {k: r.status for k, r in results.items()} == {
        "dkim:s1": "pass",
        "return_path": "pass",
        "spf": "pass",
        "dmarc": "pass",
    }


def test_a_dkim_key_cut_short_by_the_dns_host_is_a_mismatch_that_says_so(dns_server, fresh_domain) -> None:
    domain = fresh_domain("cut")
    record = records_of(domain)[0]
    dns_server.publish(record.fqdn, "TXT", record.value[:255])

    result = check(domain, [record])["dkim:s1"]

    assert result.status == "mismatch"
    assert result.found == [record.value[:255]]
    assert "The key is cut short: DNS returned" in result.message
    assert "truncated it" in result.message


@pytest.mark.parametrize(
    ("published", "expected_message"),
    [
        ("v=DKIM1; k=rsa; p=", "The key is revoked (p= is empty). Publish the key shown here."),
        ("v=DKIM1; k=ed25519; p={p}", "The key type is k=ed25519; this key is k=rsa."),
        ("k=rsa; v=DKIM1; p={p}", "v=DKIM1 must be the first tag when it is present."),
        ("v=DKIM1; k=rsa", "The record has no public key (p= tag)."),
        ("v=DKIM1; k=rsa; p={other}", "A different public key is published under this selector."),
        ('"v=DKIM1; k=rsa; p={p}"', "The value contains quote marks. Paste it without quotes (some DNS hosts add their own)."),
        ("v=DKIM1; k=rsa; k=rsa; p={p}", "This is not a valid DKIM key record: the tag k= appears twice."),
    ],
)
def test_a_wrong_dkim_record_is_a_mismatch_saying_why(dns_server, fresh_domain, published, expected_message) -> None:
    domain = fresh_domain("dkimbad")
    record = records_of(domain)[0]
    other = key("rsa", 1024).public_key
    dns_server.publish(record.fqdn, "TXT", published.format(p=key().public_key, other=other))

    result = check(domain, [record])["dkim:s1"]

    assert result.status == "mismatch"
    assert result.message == expected_message


def test_a_dkim_key_with_tags_in_another_order_and_spaces_in_p_passes(dns_server, fresh_domain) -> None:
    domain = fresh_domain("spaced")
    record = records_of(domain)[0]
    p = key().public_key
    dns_server.publish(record.fqdn, "TXT", f"v=DKIM1;p={p[:50]} {p[50:120]}\t{p[120:]};k=rsa;t=s")

    assert check(domain, [record], private_keys={"s1": key().private_pem})["dkim:s1"].status == "pass"


def test_the_dkim_proof_fails_when_the_private_key_is_not_the_published_keys(dns_server, fresh_domain) -> None:
    domain = fresh_domain("proof")
    records = records_of(domain)
    publish(dns_server, records[:1])

    result = check(domain, records[:1], private_keys={"s1": key("rsa", 1024).private_pem})["dkim:s1"]

    assert result.status == "mismatch"
    assert result.message == "a message signed with this domain's private key does not verify against the published key"


def test_a_host_typed_with_the_domain_twice_is_found_and_named(dns_server, fresh_domain) -> None:
    domain = fresh_domain("twice")
    records = records_of(domain)
    for record in records:
        doubled = f"{record.fqdn}.{domain}"
        dns_server.publish(doubled, record.rtype, record.value + ("." if record.rtype == "CNAME" else ""))

    results = check(domain, records)

    assert {k: r.status for k, r in results.items()} == {
        "dkim:s1": "mismatch",
        "return_path": "mismatch",
        "spf": "mismatch",
        "dmarc": "mismatch",
    }
    dkim_result = results["dkim:s1"]
    assert dkim_result.message == (
        f"Nothing at s1._domainkey.{domain}, but the record is at s1._domainkey.{domain}.{domain}: your DNS host "
        f"adds {domain} to the name itself. Edit the record and enter the host as s1._domainkey only."
    )
    assert dkim_result.found == [f"s1._domainkey.{domain}.{domain}: {records[0].value}"]
    assert "enter the host as @ (or leave the host empty) only" in results["spf"].message


def test_return_path_problems_say_what_is_there(dns_server, fresh_domain) -> None:
    txt, address, elsewhere, chain = (fresh_domain(p) for p in ("rp-txt", "rp-a", "rp-else", "rp-chain"))
    dns_server.publish(f"bounces.{txt}", "TXT", RETURN_PATH)
    dns_server.publish(f"bounces.{address}", "A", "203.0.113.7")
    dns_server.publish(f"bounces.{elsewhere}", "CNAME", "bounces.other-esp.example.com.")
    dns_server.publish(f"bounces.{chain}", "CNAME", f"mail.{chain}.")
    dns_server.publish(f"mail.{chain}", "CNAME", "rp.example.com.")  # another zone: the chain crosses zones
    dns_server.publish("rp.example.com", "CNAME", RETURN_PATH.upper() + ".")

    def result(domain: str) -> CheckResult:
        return check(domain, [r for r in records_of(domain) if r.key == "return_path"])["return_path"]

    assert (result(txt).status, result(txt).found) == ("mismatch", [f"TXT {RETURN_PATH}"])
    assert result(txt).message == f"bounces.{txt} has a TXT record; it needs a CNAME record to {RETURN_PATH} instead."
    assert (result(address).status, result(address).found) == ("mismatch", ["A 203.0.113.7"])
    assert "turn the proxy off" in result(address).message
    assert result(elsewhere).status == "mismatch"
    assert result(elsewhere).message == f"bounces.{elsewhere} points to bounces.other-esp.example.com, not to {RETURN_PATH}."
    assert result(chain).status == "pass"
    assert result(chain).found == [f"CNAME mail.{chain} → rp.example.com → {RETURN_PATH}"]


def test_a_dkim_key_published_through_a_cname_chain_passes(dns_server, fresh_domain) -> None:
    domain = fresh_domain("dkimcname")
    record = records_of(domain)[0]
    dns_server.publish(record.fqdn, "CNAME", f"s1.keys.{domain}.")
    dns_server.publish(f"s1.keys.{domain}", "CNAME", f"s1.{domain}.dkim.example.com.")
    dns_server.publish(f"s1.{domain}.dkim.example.com", "TXT", record.value)

    result = check(domain, [record], private_keys={"s1": key().private_pem})["dkim:s1"]

    assert result.status == "pass"


def spf_record(domain: str) -> ExpectedRecord:
    return next(r for r in records_of(domain) if r.key == "spf")


def test_an_spf_record_without_our_include_shows_the_one_merged_record(dns_server, fresh_domain) -> None:
    domain = fresh_domain("spfmerge")
    dns_server.publish(domain, "TXT", "v=spf1 mx -all", "google-site-verification=abc")

    result = check(domain, [spf_record(domain)])["spf"]

    assert result.status == "mismatch"
    assert result.found == ["v=spf1 mx -all"]
    assert result.message == (
        f"It does not include our servers. Replace it with this single record: v=spf1 mx include:{INCLUDE} -all"
    )


def test_two_spf_records_are_a_mismatch_saying_to_merge_them(dns_server, fresh_domain) -> None:
    domain = fresh_domain("spftwo")
    dns_server.publish(domain, "TXT", f"v=spf1 include:{INCLUDE} ~all", "v=spf1 mx -all")

    result = check(domain, [spf_record(domain)])["spf"]

    assert result.status == "mismatch"
    assert sorted(result.found) == sorted([f"v=spf1 include:{INCLUDE} ~all", "v=spf1 mx -all"])
    assert "has 2 SPF records" in result.message
    assert "Merge them into one record and delete the others." in result.message


def test_plus_all_is_flagged(dns_server, fresh_domain) -> None:
    domain = fresh_domain("spfall")
    dns_server.publish(domain, "TXT", f"v=spf1 include:{INCLUDE} +all")

    result = check(domain, [spf_record(domain)])["spf"]

    assert result.status == "mismatch"
    assert "+all, which lets every server on the Internet send as your domain" in result.message


def test_spf_with_eleven_lookups_through_nested_includes_is_a_mismatch(dns_server, fresh_domain) -> None:
    domain = fresh_domain("spf11")
    # ours (1) + a (2) + mx (3) + include:l1 (4) -> l1: a mx (6) include:l2 (7) -> l2: a a a (10) exists (11)
    dns_server.publish(domain, "TXT", f"v=spf1 include:{INCLUDE} a mx include:l1.{domain} -all")
    dns_server.publish(domain, "A", "192.0.2.1")
    dns_server.publish(domain, "MX", f"10 mx.{domain}.")
    dns_server.publish(f"l1.{domain}", "TXT", f"v=spf1 a mx include:l2.{domain} ~all")
    dns_server.publish(f"l1.{domain}", "A", "192.0.2.2")
    dns_server.publish(f"l1.{domain}", "MX", f"10 mx.{domain}.")
    dns_server.publish(f"l2.{domain}", "TXT", f"v=spf1 a a a exists:{domain} ~all")
    dns_server.publish(f"l2.{domain}", "A", "192.0.2.3")

    result = check(domain, [spf_record(domain)])["spf"]

    assert result.status == "mismatch"
    assert "it needs 11 DNS lookups; receivers allow 10 (RFC 7208 §4.6.4)" in result.message


def test_spf_with_three_void_lookups_is_a_mismatch(dns_server, fresh_domain) -> None:
    domain = fresh_domain("spfvoid")
    dns_server.publish(domain, "TXT", f"v=spf1 include:{INCLUDE} a:n1.{domain} a:n2.{domain} a:n3.{domain} -all")

    result = check(domain, [spf_record(domain)])["spf"]

    assert result.status == "mismatch"
    assert "3 of its lookups find nothing" in result.message


def test_dmarc_only_at_the_organizational_domain_passes_and_shows_its_policy(dns_server, fresh_domain) -> None:
    org = fresh_domain("org")
    domain = f"mail.{org}"
    dns_server.publish(f"_dmarc.{org}", "TXT", "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com")
    record = next(r for r in records_of(domain) if r.key == "dmarc")

    result = check(domain, [record], org_domain=org)["dmarc"]

    assert result.status == "pass"
    assert result.found == ["v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com"]
    assert result.message == (
        f"No record at _dmarc.{domain}; the record of the organizational domain {org} applies: "
        "subdomain policy quarantine (p=reject)."
    )


def test_an_invalid_dmarc_record_is_a_mismatch(dns_server, fresh_domain) -> None:
    domain = fresh_domain("dmarcbad")
    dns_server.publish(f"_dmarc.{domain}", "TXT", "v=DMARC1; p=maybe")
    record = next(r for r in records_of(domain) if r.key == "dmarc")

    result = check(domain, [record])["dmarc"]

    assert result.status == "mismatch"
    assert result.message == "The DMARC record is not valid: p=maybe is not a policy (none, quarantine or reject)."


def test_a_zone_that_answers_servfail_gives_errors_not_missing(dns_server) -> None:
    domain = f"shop.{SERVFAIL_ZONE}"

    results = check(domain, records_of(domain))

    assert {r.status for r in results.values()} == {"error"}
    assert f"{dns_server.address} answered SERVFAIL" in results["dkim:s1"].message
    assert "This is temporary and says nothing about the record" in results["dkim:s1"].message


def test_a_resolver_where_nothing_listens_gives_errors(dns_server, fresh_domain) -> None:
    domain = fresh_domain("silent")
    port = free_port()
    resolver = Resolver(servers=[("127.0.0.1", port)], timeout=0.5)

    results = check(domain, records_of(domain), resolver=resolver)

    assert {r.status for r in results.values()} == {"error"}
    assert results["spf"].server == f"127.0.0.1:{port}"


def test_a_second_resolver_answers_when_the_first_is_silent(dns_server, fresh_domain) -> None:
    domain = fresh_domain("failover")
    records = records_of(domain)
    publish(dns_server, records)
    resolver = Resolver(servers=[("127.0.0.1", free_port()), ("127.0.0.1", dns_server.port)], timeout=0.5)

    results = check(domain, records, resolver=resolver)

    assert {r.status for r in results.values()} == {"pass"}
    assert results["spf"].server == dns_server.address


def test_a_resolver_that_never_answers_times_out_into_an_error(fresh_domain) -> None:
    import socket

    domain = fresh_domain("timeout")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, but nobody reads it
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        resolver = Resolver(servers=[("127.0.0.1", port)], timeout=0.3)
        results = check(domain, records_of(domain), resolver=resolver)

    assert {r.status for r in results.values()} == {"error"}
    assert results["dkim:s1"].message.startswith(
        f"Could not check s1._domainkey.{domain}: 127.0.0.1:{port} did not answer within 0.3 s."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", ("192.0.2.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("::1", ("::1", 53)),
        ("[2001:db8::1]:5300", ("2001:db8::1", 5300)),
    ],
)
def test_resolver_addresses_take_an_optional_port(text, expected) -> None:
    from domains.dns import parse_server

    assert parse_server(text) == expected


@pytest.mark.parametrize("text", ["dns.example.com", "127.0.0.1:99999", "[::1]x", "1.2.3.4:port"])
def test_a_bad_resolver_setting_is_refused_clearly(settings, text) -> None:
    from django.core.exceptions import ImproperlyConfigured

    settings.MAILSETUP_DNS_RESOLVERS = [text]
    with pytest.raises(ImproperlyConfigured, match="MAILSETUP_DNS_RESOLVERS must be IP addresses"):
        Resolver.from_settings()


def test_garbage_records_are_mismatches_not_crashes(dns_server, fresh_domain) -> None:
    domain = fresh_domain("garbage")
    records = records_of(domain)
    dns_server.publish(f"s1._domainkey.{domain}", "TXT", "v=DKIM1; k=rsa; p=!!!not-base64===; =x; ;;")
    dns_server.publish(domain, "TXT", "v=spf1 include: a:/x ip4:bad ip6:: mx:bücher.例え include:%{d}.x exists: redirect=")
    dns_server.publish(f"_dmarc.{domain}", "TXT", "v=DMARC1; p")
    dns_server.publish(f"bounces.{domain}", "CNAME", f"bounces.{domain}.")  # a CNAME to itself

    results = check(domain, records)

    assert {k: r.status for k, r in results.items()} == {
        "dkim:s1": "mismatch",
        "return_path": "mismatch",
        "spf": "mismatch",
        "dmarc": "mismatch",
    }
    assert results["dkim:s1"].message == "This is not a valid DKIM key record: '=x' is not a tag=value pair."
    assert results["dmarc"].message == "The DMARC record is not valid: 'p' is not a tag=value pair."


def test_a_server_that_refuses_gives_errors(dns_server) -> None:
    domain = "shop.not-served.example"  # a zone the test BIND9 does not serve: with recursion off it REFUSES

    results = check(domain, records_of(domain))

    assert {r.status for r in results.values()} == {"error"}
    assert f"{dns_server.address} answered REFUSED" in results["spf"].message


def test_no_nameserver_at_all_gives_errors(fresh_domain) -> None:
    domain = fresh_domain("nowhere")

    results = check(domain, records_of(domain), resolver=Resolver(servers=[]))

    assert {r.status for r in results.values()} == {"error"}
    assert results["spf"].message.startswith(f"Could not check {domain}: no DNS server is configured.")
