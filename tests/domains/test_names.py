"""Domain name normalisation and refusals, table-driven; and no input makes the form raise or the view fail."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domains.forms import DomainCreateForm
from domains.models import Domain
from domains.names import DomainNameError, normalize_domain

pytestmark = pytest.mark.django_db

ACCEPTED = [
    ("example.com", "example.com", "example.com"),
    ("Example.COM", "example.com", "example.com"),
    ("example.com.", "example.com", "example.com"),
    ("  example.com  ", "example.com", "example.com"),
    ("\texample.com\n", "example.com", "example.com"),
    ("mail.example.com", "mail.example.com", "mail.example.com"),
    ("a.b.c.example.co.uk", "a.b.c.example.co.uk", "a.b.c.example.co.uk"),
    ("example.co.uk", "example.co.uk", "example.co.uk"),
    ("someone.github.io", "someone.github.io", "someone.github.io"),
    ("Bücher.Example", "xn--bcher-kva.example", "bücher.example"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example", "bücher.example"),
    ("XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example", "bücher.example"),
    ("faß.de", "xn--fa-hia.de", "faß.de"),  # IDNA 2008: ß is kept, not mapped to "ss" as IDNA 2003 did
    ("ＥＸＡＭＰＬＥ.com", "example.com", "example.com"),  # UTS 46 maps fullwidth letters
    ("例え。テスト", "xn--r8jz45g.xn--zckzah", "例え.テスト"),  # ideographic full stop
    ("食狮.公司.cn", "xn--85x722f.xn--55qx5d.cn", "食狮.公司.cn"),
    ("https://example.com/", "example.com", "example.com"),
    ("http://Mail.Example.com/some/path?q=1", "mail.example.com", "mail.example.com"),
    ("https://user:pw@example.com:8443/", "example.com", "example.com"),
    ("example.com/", "example.com", "example.com"),
    ("postmaster@example.com", "example.com", "example.com"),
    ("mailto-less@Bücher.example", "xn--bcher-kva.example", "bücher.example"),
    ("1example.com", "1example.com", "1example.com"),
    ("ex-ample.com", "ex-ample.com", "ex-ample.com"),
    ("a" * 63 + ".com", "a" * 63 + ".com", "a" * 63 + ".com"),
    (".".join(["a" * 61] * 4) + ".com", ".".join(["a" * 61] * 4) + ".com", ".".join(["a" * 61] * 4) + ".com"),
    ("mailsetup.test", "mailsetup.test", "mailsetup.test"),
]

REFUSED = [
    ("", "Enter a domain name."),
    ("   ", "Enter a domain name."),
    (".", "Enter a domain name."),
    ("192.0.2.1", "That is an IP address"),
    ("2001:db8::1", "That is an IP address"),
    ("[2001:db8::1]", "That is an IP address"),
    ("https://192.0.2.1/", "That is an IP address"),
    ("10.0.0", "looks like an IP address"),
    ("localhost", "single label"),
    ("example", "single label"),
    ("com", "single label"),
    ("co.uk", "public suffix"),
    ("github.io", "public suffix"),
    ("CO.UK.", "public suffix"),
    ("kyoto.jp", "public suffix"),
    ("公司.cn", "public suffix"),
    ("a" * 64 + ".com", "64 characters long"),
    (".".join(["a" * 62] * 4) + ".com", "at most 253"),
    ("ex ample.com", "cannot contain spaces"),
    ("ex_ample.com", "cannot contain “_”"),
    ("ex!ample.com", "cannot contain “!”"),
    ("exa*mple.com", "cannot contain “*”"),
    ("*.example.com", "cannot contain “*”"),
    ("example.com:25", "without a port number"),
    ("-example.com", "cannot start or end with a hyphen"),
    ("example-.com", "cannot start or end with a hyphen"),
    ("ab--cd.com", "third and fourth positions"),
    ("xn--zz.com", "not a valid internationalised"),
    ("example..com", "two dots in a row"),
    (".example.com", "cannot start with a dot"),
    ("example.com..", "empty part"),
    ("ftp://example.com/", "not a link"),
    ("user@", "without a domain"),
    ("example.123", "cannot be all digits"),
    ("😀.com", "cannot contain “😀”"),
    ("exam\x00ple.com", "control character"),
    ("a/b", "cannot contain “/”"),
]


@pytest.mark.parametrize(("raw", "a_label", "u_label"), ACCEPTED, ids=[a[0][:30] for a in ACCEPTED])
def test_it_normalises(raw: str, a_label: str, u_label: str) -> None:
    assert normalize_domain(raw) == (a_label, u_label)


@pytest.mark.parametrize(("raw", "message"), REFUSED, ids=[r[0][:30] or "empty" for r in REFUSED])
def test_it_refuses_with_a_clear_message(raw: str, message: str) -> None:
    with pytest.raises(DomainNameError) as error:
        normalize_domain(raw)
    assert message in str(error.value)


def test_there_are_enough_cases() -> None:
    assert len(ACCEPTED) + len(REFUSED) >= 30


def test_the_form_shows_the_message_beside_the_field(team) -> None:
    form = DomainCreateForm({"name": "co.uk", "dkim_key_type": "rsa2048", "return_path_label": "bounces"}, team=team)
    assert form.is_valid() is False
    assert "public suffix" in form.errors["name"][0]


# Letters, marks, digits, punctuation, dots of several scripts, controls, surrogate-free unicode.
domainish = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.sampled_from(list("abcxyzäß食狮0123456789-._.:/@ \t。．[]*ＡＢ\u200d\u0301xn--")), max_size=80),
    st.builds(lambda a, b: f"{a}.{b}", st.text(max_size=70), st.sampled_from(["com", "co.uk", "example", "中国", ""])),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=domainish)
def test_no_input_makes_the_form_raise(team, raw: str) -> None:
    form = DomainCreateForm({"name": raw, "dkim_key_type": "rsa2048", "return_path_label": "bounces"}, team=team)
    if form.is_valid():
        a_label = form.cleaned_data["name"]
        assert a_label == a_label.lower() and a_label.isascii() and len(a_label) <= 253
        assert normalize_domain(a_label)[0] == a_label  # normalising is idempotent
    else:
        assert form.errors["name"]


# Names of which many are valid (some internationalised, some repeated), so the add view really creates domains.
valid_domainish = st.builds(
    lambda label, suffix: f"{label}.{suffix}",
    st.text(alphabet=st.sampled_from(list("abcxyz019-äß食")), min_size=1, max_size=12),
    st.sampled_from(["com", "co.uk", "example", "中国", "test"]),
)
valid_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


def test_no_input_makes_the_add_view_fail(team, teammate, login) -> None:
    client = login(teammate)
    outcomes = []

    # RSA 1024 keeps the examples that do create a domain quick to generate.
    @settings(max_examples=80, deadline=None)
    @given(raw=st.one_of(domainish, *[valid_domainish] * 3),  # weighted towards names that can be valid
           label=st.one_of(valid_label, st.just("bounces"), st.text(max_size=80)), htmx=st.booleans())
    def post(raw: str, label: str, htmx: bool) -> None:
        before = Domain.objects.count()
        response = client.post(
            "/t/acme/domains/add/",
            {"name": raw, "return_path_label": label, "dkim_key_type": "rsa1024"},
            headers={"HX-Request": "true"} if htmx else {},
        )
        assert response.status_code in (200, 204, 302)  # never a 500
        if response.status_code == 200:
            assert Domain.objects.count() == before  # refused: nothing written
            outcomes.append("refused")
            return
        domain = Domain.objects.latest("pk")
        location = response["HX-Redirect"] if htmx else response["Location"]
        assert location == f"/t/acme/domains/{domain.pk}/"
        assert Domain.objects.count() == before + 1
        assert (domain.team, domain.name) == (team, normalize_domain(raw)[0])
        assert domain.return_path_label == label.strip().lower().rstrip(".")
        assert [(key.algorithm, key.bits) for key in domain.dkim_keys.all()] == [("rsa", 1024)]
        outcomes.append("created")

    post()
    assert "created" in outcomes and "refused" in outcomes
    assert not Domain.objects.filter(dkim_keys__isnull=True).exists()  # every domain got its key
