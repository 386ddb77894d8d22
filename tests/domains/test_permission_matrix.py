"""Every domain view against every persona: viewers see, members and above change, strangers get 404."""

from __future__ import annotations

import pytest
from django.test import Client

from domains import services
from domains.models import DkimKey, Domain, DomainStatus, ShareLink
from tests.matrix import EDITORS, EVERYONE, Ctx, Route, cases, check_route, make_ctx

pytestmark = pytest.mark.django_db


def domain(ctx: Ctx) -> Domain:
    return Domain.objects.create(team=ctx.team, name="matrix.example", unicode_name="matrix.example")


def verified_domain(ctx: Ctx) -> Domain:
    """A verified domain with its key, so that a rotation starts (a pending one is refused with a message)."""
    target = services.domain_create(team=ctx.team, name="rotate.example", actor=ctx.users["owner"],
                                     dkim_key_type="rsa1024")
    Domain.objects.filter(pk=target.pk).update(status=DomainStatus.VERIFIED)
    return target


def share_link(ctx: Ctx) -> ShareLink:
    return services.share_link_create(domain=ctx.obj("domain", domain), actor=ctx.users["owner"]).link


def domain_url(suffix: str = ""):  # noqa: ANN201
    return lambda ctx: f"/t/{ctx.team.slug}/domains/{ctx.obj('domain', domain).pk}/{suffix}"


ROUTES = [
    Route("list", "GET", lambda ctx: f"/t/{ctx.team.slug}/domains/", EVERYONE, ok=(200,)),
    Route("add-page", "GET", lambda ctx: f"/t/{ctx.team.slug}/domains/add/", EDITORS, ok=(200,)),
    Route(
        "add",
        "POST",
        lambda ctx: f"/t/{ctx.team.slug}/domains/add/",
        EDITORS,
        data=lambda ctx: {"name": "new.example", "dkim_key_type": "rsa1024", "return_path_label": "bounces"},
        ok=(302,),
    ),
    Route("add-htmx-invalid", "POST", lambda ctx: f"/t/{ctx.team.slug}/domains/add/", EDITORS,
          data=lambda ctx: {"name": "co.uk"}, ok=(200,), htmx=True),
    Route("detail", "GET", domain_url(), EVERYONE, ok=(200,)),
    Route("records-panel", "GET", domain_url("records/"), EVERYONE, ok=(200,), htmx=True),
    Route("export-zone", "GET", domain_url("records.zone"), EVERYONE, ok=(200,)),
    Route("export-csv", "GET", domain_url("records.csv"), EVERYONE, ok=(200,)),
    Route("delete-page", "GET", domain_url("delete/"), EDITORS, ok=(200,)),
    Route("delete", "POST", domain_url("delete/"), EDITORS, data=lambda ctx: {"confirm": "matrix.example"}, ok=(302,)),
    Route("share-create", "POST", domain_url("share/"), EDITORS, data=lambda ctx: {"days": "7"}, ok=(200,)),
    Route(
        "share-revoke",
        "POST",
        lambda ctx: f"/t/{ctx.team.slug}/domains/{ctx.obj('domain', domain).pk}/share/{ctx.obj('link', share_link).pk}/revoke/",
        EDITORS,
        ok=(302,),
    ),
    Route("dkim-rotate", "POST",
          lambda ctx: f"/t/{ctx.team.slug}/domains/{ctx.obj('verified', verified_domain).pk}/dkim/rotate/", EDITORS,
          ok=(302,)),
    Route("dkim-rotate-refused", "POST", domain_url("dkim/rotate/"), EDITORS, ok=(302,)),  # pending: a message, no 500
    Route("dkim-rotation-cancel", "POST", domain_url("dkim/cancel/"), EDITORS, ok=(302,)),  # none waiting: a message
]


@pytest.mark.parametrize(("route", "persona"), cases(ROUTES))
def test_permission_matrix(route: Route, persona: str) -> None:
    check_route(route, persona)


def test_a_viewer_changes_nothing(db: None) -> None:
    ctx = make_ctx()
    target = ctx.obj("domain", domain)
    link = ctx.obj("link", share_link)
    client = Client()
    client.force_login(ctx.users["viewer"])
    base = f"/t/{ctx.team.slug}/domains/"
    client.post(f"{base}add/", {"name": "new.example", "dkim_key_type": "rsa1024", "return_path_label": "bounces"})
    client.post(f"{base}{target.pk}/delete/", {"confirm": "matrix.example"})
    client.post(f"{base}{target.pk}/share/", {"days": "7"})
    client.post(f"{base}{target.pk}/share/{link.pk}/revoke/")
    rotating = ctx.obj("verified", verified_domain)
    client.post(f"{base}{rotating.pk}/dkim/rotate/")
    assert list(Domain.objects.values_list("name", flat=True)) == ["matrix.example", "rotate.example"]
    assert list(DkimKey.objects.filter(domain=rotating).values_list("state", flat=True)) == ["active"]
    assert ShareLink.objects.count() == 1
    link.refresh_from_db()
    assert link.revoked_at is None
