"""The Django admin lists domains, keys, checks, history and share links, and never shows a secret."""

from __future__ import annotations

import pytest

from domains import services
from domains.crypto import decrypt_private_key
from domains.models import CheckStatus, DkimKeyType, RecordCheck, RecordHistory

pytestmark = pytest.mark.django_db


@pytest.fixture
def domain(team, owner):  # noqa: ANN001, ANN201
    domain = services.domain_create(team=team, name="example.com", actor=owner, dkim_key_type=DkimKeyType.RSA2048_ED25519)
    RecordCheck.objects.create(domain=domain, key="spf", status=CheckStatus.PASS, found=["v=spf1 -all"])
    RecordHistory.objects.create(domain=domain, key="spf", status=CheckStatus.PASS)
    return domain


@pytest.mark.parametrize("model", ["domain", "dkimkey", "recordcheck", "recordhistory", "sharelink"])
def test_each_model_has_a_searchable_filterable_list(admin_client, domain, owner, model: str) -> None:
    services.share_link_create(domain=domain, actor=owner)
    response = admin_client.get(f"/admin/domains/{model}/", {"q": "example"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "example.com" in html
    assert 'id="changelist-search"' in html
    assert 'id="changelist-filter"' in html


def test_the_key_pages_never_show_the_private_key(admin_client, domain) -> None:
    for key in domain.dkim_keys.all():
        html = admin_client.get(f"/admin/domains/dkimkey/{key.pk}/change/").content.decode()
        assert key.public_key in html
        token = bytes(key.private_key_encrypted)
        pem_body = b"".join(decrypt_private_key(token).splitlines()[1:-1]).decode()
        assert "PRIVATE" not in html
        assert pem_body[:30] not in html
        assert token.decode()[:30] not in html
    html = admin_client.get(f"/admin/domains/domain/{domain.pk}/change/").content.decode()
    assert "private_key" not in html and "PRIVATE" not in html


def test_the_share_link_pages_never_show_the_token_or_its_hash(admin_client, domain, owner) -> None:
    new = services.share_link_create(domain=domain, actor=owner)
    for url in ("/admin/domains/sharelink/", f"/admin/domains/sharelink/{new.link.pk}/change/"):
        html = admin_client.get(url).content.decode()
        assert new.link.token_hash not in html
        assert new.token not in html
