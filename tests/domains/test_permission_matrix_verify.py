"""Permission matrix rows for the verification views: everyone sees the polling panel, editors may Check now."""

from __future__ import annotations

import pytest

from domains.models import Domain
from tests.matrix import EDITORS, EVERYONE, Ctx, Route, cases, check_route

pytestmark = pytest.mark.django_db


def domain(ctx: Ctx) -> Domain:
    return Domain.objects.create(team=ctx.team, name="matrix-verify.example", unicode_name="matrix-verify.example")


def domain_url(suffix: str = ""):  # noqa: ANN201
    return lambda ctx: f"/t/{ctx.team.slug}/domains/{ctx.obj('domain', domain).pk}/{suffix}"


ROUTES = [
    Route("records-poll", "GET", domain_url("records/"), EVERYONE, ok=(200,), htmx=True),
    Route("check-now", "POST", domain_url("check/"), EDITORS, ok=(302,)),
    Route("check-now-htmx", "POST", domain_url("check/"), EDITORS, ok=(200,), htmx=True),
]


@pytest.mark.parametrize(("route", "persona"), cases(ROUTES))
def test_permission_matrix(route: Route, persona: str) -> None:
    check_route(route, persona)


def test_check_now_is_post_only(login, teammate, team) -> None:  # noqa: ANN001
    target = Domain.objects.create(team=team, name="get.example")
    response = login(teammate).get(f"/t/{team.slug}/domains/{target.pk}/check/")
    assert response.status_code == 405
