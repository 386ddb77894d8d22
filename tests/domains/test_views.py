"""Domain views: the list with its add form (plain and htmx), the records page, deletion, exports, share links."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from domains import services
from domains.models import CheckStatus, DkimKey, DkimKeyType, Domain, RecordCheck, ShareLink
from mailsetup.models import AuditEvent, Team

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _domain(team: Team, user, name: str = "example.com") -> Domain:
    return services.domain_create(team=team, name=name, actor=user, dkim_key_type=DkimKeyType.RSA1024)


def test_the_list_shows_the_add_form_to_members(team, teammate, login) -> None:
    response = login(teammate).get("/t/acme/domains/")
    assert response.status_code == 200
    assert b'id="add-domain-form"' in response.content
    assert b'hx-post="/t/acme/domains/add/"' in response.content


def test_the_list_hides_the_add_form_from_viewers(team, viewer, login) -> None:
    response = login(viewer).get("/t/acme/domains/")
    assert response.status_code == 200
    assert b'id="add-domain-form"' not in response.content


def test_adding_a_domain_redirects_to_its_records(team, teammate, login) -> None:
    response = login(teammate).post(
        "/t/acme/domains/add/",
        {"name": "  https://Bücher.Example./ ", "dkim_key_type": "rsa1024", "return_path_label": "Mail-Bounces"},
    )
    domain = Domain.objects.get(team=team)
    assert response.status_code == 302
    assert response["Location"] == f"/t/acme/domains/{domain.pk}/"
    assert (domain.name, domain.unicode_name, domain.return_path_label) == (
        "xn--bcher-kva.example",
        "bücher.example",
        "mail-bounces",
    )


def test_adding_under_htmx_sends_the_browser_to_the_records(team, teammate, login) -> None:
    response = login(teammate).post(
        "/t/acme/domains/add/", {"name": "example.com", "dkim_key_type": "rsa1024", "return_path_label": "bounces"}, headers=HTMX
    )
    domain = Domain.objects.get(team=team)
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/t/acme/domains/{domain.pk}/"


def test_an_invalid_htmx_add_re_renders_the_form_fragment_with_the_error(team, teammate, login) -> None:
    response = login(teammate).post(
        "/t/acme/domains/add/", {"name": "co.uk", "dkim_key_type": "rsa2048", "return_path_label": "bounces"}, headers=HTMX
    )
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b'id="add-domain-form"' in response.content
    assert "is a public suffix" in response.content.decode()
    assert Domain.objects.count() == 0


def test_an_invalid_plain_add_re_renders_the_whole_page_with_the_error(team, teammate, login) -> None:
    response = login(teammate).post(
        "/t/acme/domains/add/", {"name": "192.0.2.1", "dkim_key_type": "rsa2048", "return_path_label": "bounces"}
    )
    assert response.status_code == 200
    assert b"<html" in response.content
    assert "That is an IP address" in response.content.decode()


def test_a_domain_the_team_already_has_is_refused(team, teammate, login) -> None:
    _domain(team, teammate, "xn--bcher-kva.example")
    response = login(teammate).post(
        "/t/acme/domains/add/",
        {"name": "BÜCHER.example", "dkim_key_type": "rsa2048", "return_path_label": "bounces"},
        headers=HTMX,
    )
    assert "Your team already has bücher.example (xn--bcher-kva.example)." in response.content.decode()
    assert Domain.objects.count() == 1


def test_another_team_may_add_the_same_domain(team, teammate, stranger, login) -> None:
    _domain(team, teammate)
    response = login(stranger).post(
        "/t/other/domains/add/", {"name": "example.com", "dkim_key_type": "rsa1024", "return_path_label": "bounces"}
    )
    assert response.status_code == 302
    assert Domain.objects.filter(name="example.com").count() == 2


@pytest.mark.parametrize("label", ["bad label", "-x", "a.b", "x" * 64, "bo_unces", ""])
def test_a_bad_return_path_label_is_refused_beside_the_field(team, teammate, login, label) -> None:
    response = login(teammate).post(
        "/t/acme/domains/add/", {"name": "example.com", "dkim_key_type": "rsa2048", "return_path_label": label}, headers=HTMX
    )
    assert response.status_code == 200
    assert b'id="id_return_path_label_error"' in response.content
    assert Domain.objects.count() == 0


def test_an_unknown_key_type_is_refused(team, teammate, login) -> None:
    response = login(teammate).post(
        "/t/acme/domains/add/", {"name": "example.com", "dkim_key_type": "dsa", "return_path_label": "bounces"}, headers=HTMX
    )
    assert b'id="id_dkim_key_type_error"' in response.content
    assert Domain.objects.count() == 0


def test_the_list_shows_both_forms_status_and_summary(team, teammate, login) -> None:
    domain = _domain(team, teammate, "bücher.example")
    RecordCheck.objects.create(domain=domain, key="return_path", status=CheckStatus.PASS)
    RecordCheck.objects.create(domain=domain, key="dmarc", status=CheckStatus.PASS)
    RecordCheck.objects.create(domain=domain, key="spf", status=CheckStatus.MISSING)
    html = login(teammate).get("/t/acme/domains/").content.decode()
    assert "bücher.example" in html and "xn--bcher-kva.example" in html
    assert '<span class="badge pending">Pending</span>' in html
    assert "2/4 records pass" in html


def _seed_keys_and_checks(domains: list[Domain]) -> None:
    """Two DKIM keys (dummy encrypted blobs) and a check of every record for each domain, as a real list has."""
    DkimKey.objects.bulk_create(
        [
            DkimKey(
                domain=domain,
                selector=f"ms202612{suffix}",
                algorithm=algorithm,
                bits=bits,
                public_key="AAAA",
                private_key_encrypted=b"not-a-real-token",
            )
            for domain in domains
            for suffix, algorithm, bits in (("a", "rsa", 2048), ("e", "ed25519", None))
        ]
    )
    RecordCheck.objects.bulk_create(
        [
            RecordCheck(domain=domain, key=key, status=CheckStatus.PASS)
            for domain in domains
            for key in ("dkim:ms202612a", "dkim:ms202612e", "return_path", "spf", "dmarc")
        ]
    )


def test_the_list_runs_a_constant_number_of_queries(team, teammate, login, django_assert_max_num_queries, settings) -> None:
    settings.MAILSETUP_PAGE_CACHE_SECONDS = 0  # the queries of rendering the page, not of serving it from the cache
    client = login(teammate)
    _seed_keys_and_checks([Domain.objects.create(team=team, name="d0.example")])
    with django_assert_max_num_queries(12) as one:
        first = client.get("/t/acme/domains/")
    assert "5/5 records pass" in first.content.decode()  # two keys, return path, SPF, DMARC
    Domain.objects.bulk_create([Domain(team=team, name=f"d{i}.example") for i in range(1, 200)])
    _seed_keys_and_checks(list(Domain.objects.exclude(name="d0.example")))
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get("/t/acme/domains/")
    html = response.content.decode()
    assert html.count("data-domain=") == 50
    assert "Page 1 of 4" in html
    assert html.count("5/5 records pass") == 50  # the seeded keys and checks were really counted


def test_the_list_paginates(team, teammate, login) -> None:
    Domain.objects.bulk_create([Domain(team=team, name=f"d{i:03}.example") for i in range(120)])
    html = login(teammate).get("/t/acme/domains/?page=3").content.decode()
    assert re.findall(r'data-domain="([^"]+)"', html) == [f"d{i:03}.example" for i in range(100, 120)]
    assert login(teammate).get("/t/acme/domains/?page=zzz").status_code == 200


def test_the_detail_page_shows_each_record_with_host_value_and_copy_buttons(team, teammate, login) -> None:
    domain = _domain(team, teammate)
    selector = domain.dkim_keys.get().selector
    html = login(teammate).get(f"/t/acme/domains/{domain.pk}/").content.decode()
    assert f'data-record-key="dkim:{selector}"' in html
    assert f"{selector}._domainkey.example.com" in html
    record = next(r for r in services.records_for(domain) if r.key == f"dkim:{selector}")
    assert f'data-testid="record-value">{record.value}</code>' in html
    assert html.count('data-copy-target="#rec-') == 12  # host, full name and value of 4 records
    assert "grey cloud" in html
    assert "255 characters" in html
    assert "Not checked yet." in html
    assert "style=" not in html and "<script>" not in html


def test_the_records_panel_shows_the_latest_check(team, teammate, login) -> None:
    domain = _domain(team, teammate)
    RecordCheck.objects.create(
        domain=domain,
        key="spf",
        status=CheckStatus.MISMATCH,
        found=["v=spf1 -all"],
        message="Our include is missing.",
        checked_at=timezone.now(),
    )
    response = login(teammate).get(f"/t/acme/domains/{domain.pk}/records/", headers=HTMX)
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="records-panel"' in html
    spf_row = html.split('data-record-key="spf"')[1].split("</tr>")[0]
    assert '<span class="badge mismatch">Mismatch</span>' in spf_row
    assert "v=spf1 -all" in spf_row and "Our include is missing." in spf_row


def test_the_records_panel_url_without_htmx_is_the_whole_page(team, teammate, login) -> None:
    domain = _domain(team, teammate)
    response = login(teammate).get(f"/t/acme/domains/{domain.pk}/records/")
    assert b"<html" in response.content


def test_another_teams_domain_is_not_found(team, teammate, stranger, login) -> None:
    domain = _domain(team, teammate)
    for url in (
        f"/t/other/domains/{domain.pk}/",
        f"/t/other/domains/{domain.pk}/records.zone",
        f"/t/other/domains/{domain.pk}/delete/",
        f"/t/acme/domains/{domain.pk}/",
    ):
        assert login(stranger).get(url).status_code == 404


def test_an_id_beyond_the_database_integer_is_not_found(team, teammate, login) -> None:
    client = login(teammate)
    for url in ("/t/acme/domains/99999999999999999999999/", "/t/acme/domains/99999999999999999999999/records/"):
        assert client.get(url).status_code == 404, url


def test_deleting_needs_the_name_typed(team, teammate, login) -> None:
    domain = _domain(team, teammate, "bücher.example")
    client = login(teammate)
    response = client.post(f"/t/acme/domains/{domain.pk}/delete/", {"confirm": "example.com"})
    assert response.status_code == 200
    assert "That is not bücher.example" in response.content.decode()
    assert Domain.objects.filter(pk=domain.pk).exists()
    response = client.post(f"/t/acme/domains/{domain.pk}/delete/", {"confirm": " Bücher.Example "})
    assert response.status_code == 302
    assert response["Location"] == "/t/acme/domains/"
    assert not Domain.objects.filter(pk=domain.pk).exists()
    assert AuditEvent.objects.filter(action="domain.deleted", target="xn--bcher-kva.example").count() == 1


def test_the_zone_export_downloads_with_a_filename(team, teammate, login) -> None:
    domain = _domain(team, teammate)
    response = login(teammate).get(f"/t/acme/domains/{domain.pk}/records.zone")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="example.com.zone"'
    assert "_dmarc.example.com.\t3600\tIN\tTXT" in response.content.decode()


def test_the_csv_export_has_one_row_per_record(team, teammate, login) -> None:
    domain = _domain(team, teammate)
    response = login(teammate).get(f"/t/acme/domains/{domain.pk}/records.csv")
    assert response["Content-Disposition"] == 'attachment; filename="example.com-records.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["type", "host", "fqdn", "value", "required"]
    assert [row[:3] for row in rows[2:]] == [
        ["CNAME", "bounces", "bounces.example.com"],
        ["TXT", "@", "example.com"],
        ["TXT", "_dmarc", "_dmarc.example.com"],
    ]
    dkim_row = rows[1]
    assert dkim_row[3] == next(r.value for r in services.records_for(domain) if r.purpose == "DKIM")
    assert [row[4] for row in rows[1:]] == ["yes", "yes", "yes", "no"]


def test_a_share_link_is_shown_once_and_opens_the_records_without_an_account(team, teammate, login, client) -> None:
    domain = _domain(team, teammate)
    response = login(teammate).post(f"/t/acme/domains/{domain.pk}/share/", {"days": "7"}, headers=HTMX)
    html = response.content.decode()
    assert "<html" not in html
    url = re.search(r'data-testid="new-share-url">([^<]+)<', html).group(1)
    path = url.split("testserver", 1)[1]
    link = ShareLink.objects.get(domain=domain)
    assert path.split("/")[2] not in link.token_hash
    shared = client.get(path)
    assert shared.status_code == 200
    shared_html = shared.content.decode()
    assert "DNS records for example.com" in shared_html
    assert 'data-record-key="return_path"' in shared_html
    assert "/t/acme/" not in shared_html  # no team navigation or team links
    assert shared["Referrer-Policy"] == "no-referrer"
    assert client.get(path + "records.zone")["Content-Disposition"] == 'attachment; filename="example.com.zone"'
    assert client.get(path + "records.csv").status_code == 200
    # The page of the domain lists the link but never shows its URL again.
    assert path not in login(teammate).get(f"/t/acme/domains/{domain.pk}/").content.decode()


def test_a_revoked_share_link_says_it_has_expired(team, teammate, login, client) -> None:
    domain = _domain(team, teammate)
    new = services.share_link_create(domain=domain, actor=teammate)
    response = login(teammate).post(f"/t/acme/domains/{domain.pk}/share/{new.link.pk}/revoke/")
    assert response.status_code == 302
    gone = client.get(f"/share/{new.token}/")
    assert gone.status_code == 410
    assert "This link has expired" in gone.content.decode()
    assert client.get(f"/share/{new.token}/records.zone").status_code == 410


def test_an_expired_or_unknown_share_link_says_it_has_expired(team, teammate, client) -> None:
    domain = _domain(team, teammate)
    new = services.share_link_create(domain=domain, actor=teammate)
    ShareLink.objects.filter(pk=new.link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(f"/share/{new.token}/").status_code == 410
    assert client.get("/share/nonsense/").status_code == 410
    assert client.get("/share/" + "x" * 500 + "/").status_code == 410


def test_a_share_link_of_a_deleted_domain_stops_working(team, teammate, client) -> None:
    domain = _domain(team, teammate)
    new = services.share_link_create(domain=domain, actor=teammate)
    services.domain_delete(domain=domain, actor=teammate)
    assert client.get(f"/share/{new.token}/").status_code == 410


def test_a_bad_share_duration_is_refused_beside_the_field(team, teammate, login) -> None:
    domain = _domain(team, teammate)
    response = login(teammate).post(f"/t/acme/domains/{domain.pk}/share/", {"days": "400"}, headers=HTMX)
    assert response.status_code == 200
    assert b'id="id_days_error"' in response.content
    assert ShareLink.objects.count() == 0


def test_revoking_another_domains_link_is_not_found(team, teammate, login) -> None:
    one, two = _domain(team, teammate, "one.example"), _domain(team, teammate, "two.example")
    link = services.share_link_create(domain=two, actor=teammate).link
    assert login(teammate).post(f"/t/acme/domains/{one.pk}/share/{link.pk}/revoke/").status_code == 404
    link.refresh_from_db()
    assert link.revoked_at is None


def test_a_dead_share_link_is_not_written_to_the_log(team, teammate, client, caplog) -> None:
    domain = _domain(team, teammate)
    new = services.share_link_create(domain=domain, actor=teammate)
    services.share_link_revoke(link=new.link, actor=teammate)
    with caplog.at_level("DEBUG"):
        assert client.get(f"/share/{new.token}/").status_code == 410
    assert new.token not in caplog.text
