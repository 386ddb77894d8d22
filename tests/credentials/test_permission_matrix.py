"""Every credential view against every persona: everyone in the team sees credentials and snippets; members and
above issue, rotate, revoke and see the reveal; strangers get 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from credentials import services
from credentials.models import Credential
from domains.models import Domain
from tests.matrix import EDITORS, EVERYONE, Ctx, Route, cases, check_route

pytestmark = pytest.mark.django_db


def domain(ctx: Ctx) -> Domain:
    return Domain.objects.create(team=ctx.team, name="matrix.example", status="verified")


def credential(ctx: Ctx) -> Credential:
    ctx.obj("domain", domain)
    issued, _ = services.credential_issue(team=ctx.team, actor=ctx.users["owner"], label="Matrix", all_domains=True, domains=[])
    return issued


def base(ctx: Ctx) -> str:
    ctx.obj("domain", domain)
    return f"/t/{ctx.team.slug}/credentials/"


def credential_url(suffix: str = ""):  # noqa: ANN201
    return lambda ctx: f"{base(ctx)}{ctx.obj('credential', credential).pk}/{suffix}"


ROUTES = [
    Route("list", "GET", base, EVERYONE, ok=(200,)),
    Route("issue-page", "GET", lambda ctx: base(ctx) + "new/", EDITORS, ok=(200,)),
    Route("issue", "POST", lambda ctx: base(ctx) + "new/", EDITORS, data=lambda ctx: {"label": "New", "scope": "all"}, ok=(302,)),
    Route(
        "issue-htmx-invalid",
        "POST",
        lambda ctx: base(ctx) + "new/",
        EDITORS,
        data=lambda ctx: {"label": ""},
        ok=(200,),
        htmx=True,
    ),
    Route("detail", "GET", credential_url(), EVERYONE, ok=(200,)),
    Route("detail-tab", "GET", lambda ctx: credential_url()(ctx) + "?client=python", EVERYONE, ok=(200,), htmx=True),
    Route("download", "GET", credential_url("snippets/python/"), EVERYONE, ok=(200,)),
    Route("edit-page", "GET", credential_url("edit/"), EDITORS, ok=(200,)),
    Route(
        "edit",
        "POST",
        credential_url("edit/"),
        EDITORS,
        data=lambda ctx: {"label": "Renamed", "scope": "all"},
        ok=(302,),
    ),
    Route("edit-htmx-invalid", "POST", credential_url("edit/"), EDITORS, data=lambda ctx: {"label": ""}, ok=(200,), htmx=True),
    Route("reveal", "GET", credential_url("reveal/"), EDITORS, ok=(200,)),
    Route("rotate", "POST", credential_url("rotate/"), EDITORS, ok=(302,)),
    Route("revoke", "POST", credential_url("revoke/"), EDITORS, ok=(302,)),
]


@pytest.mark.parametrize(("route", "persona"), cases(ROUTES))
def test_permission_matrix(route: Route, persona: str) -> None:
    check_route(route, persona)


def test_a_viewer_cannot_issue_rotate_or_revoke(login, viewer, teammate, team, verified_domain):
    issued, secret = services.credential_issue(team=team, actor=teammate, label="Payroll", all_domains=True, domains=[])
    client = login(viewer)
    assert client.post(reverse("credentials:issue", args=[team.slug]), {"label": "x", "scope": "all"}).status_code == 403
    assert client.post(reverse("credentials:rotate", args=[team.slug, issued.pk])).status_code == 403
    assert client.post(reverse("credentials:revoke", args=[team.slug, issued.pk])).status_code == 403
    edit = client.post(reverse("credentials:edit", args=[team.slug, issued.pk]), {"label": "Mine now", "scope": "all"})
    assert edit.status_code == 403
    assert Credential.objects.count() == 1
    issued.refresh_from_db()
    assert issued.status == "active" and issued.rotated_at is None and issued.label == "Payroll"
    assert services.authenticate(issued.username, secret, "127.0.0.1") is not None
