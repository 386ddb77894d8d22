"""The operator's admin: every accounts model listed, searchable, and no token hash anywhere."""

from __future__ import annotations

import pytest

from mailsetup import services
from mailsetup.models import AuditEvent, Invitation, User
from mailsetup.permissions import team_access

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db: None) -> User:
    return User.objects.create_superuser(email="root@ops.test", password="x-pass-123456")


@pytest.mark.parametrize("model", ["user", "team", "membership", "invitation", "auditevent"])
def test_each_model_has_a_working_searchable_list(operator, owner, team_admin, login, model: str) -> None:  # noqa: ANN001
    services.invitation_create(access=team_access(team_admin, "acme"), email="new@example.test", role="member")
    client = login(operator)
    assert client.get(f"/admin/mailsetup/{model}/").status_code == 200
    assert client.get(f"/admin/mailsetup/{model}/?q=acme").status_code == 200


def test_an_invitations_token_hash_never_shows(operator, team_admin, login) -> None:  # noqa: ANN001
    invitation, token = services.invitation_create(
        access=team_access(team_admin, "acme"), email="new@example.test", role="member"
    )
    client = login(operator)
    for url in ("/admin/mailsetup/invitation/", f"/admin/mailsetup/invitation/{invitation.pk}/change/"):
        page = client.get(url)
        assert page.status_code == 200
        assert invitation.token_hash.encode() not in page.content
        assert token.encode() not in page.content
    assert b"new@example.test" in client.get("/admin/mailsetup/invitation/").content


def test_the_audit_log_is_read_only_in_the_admin(operator, owner, team, login) -> None:  # noqa: ANN001
    from mailsetup.audit import audit

    event = audit(team=team, actor=owner, action="member.removed", target="x@example.test")
    client = login(operator)
    assert client.get("/admin/mailsetup/auditevent/add/").status_code == 403
    assert client.post(f"/admin/mailsetup/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    assert Invitation.objects.count() == 0


def test_the_operator_adds_and_edits_a_user_in_the_admin(operator, owner, login) -> None:  # noqa: ANN001
    client = login(operator)
    assert client.get("/admin/mailsetup/user/add/").status_code == 200
    password = "operator chosen pass 4411"
    response = client.post(
        "/admin/mailsetup/user/add/",
        {"email": "added@example.test", "name": "Added", "password1": password, "password2": password, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    added = User.objects.get(email="added@example.test")
    assert added.check_password(password)
    page = client.get(f"/admin/mailsetup/user/{owner.pk}/change/")
    assert page.status_code == 200
    assert owner.password.encode() not in page.content


def test_saving_a_team_in_the_admin_keeps_page_versions_raised_meanwhile(operator, team, rf) -> None:  # noqa: ANN001
    from django.contrib import admin

    from mailsetup import page_cache
    from mailsetup.models import Team

    model_admin = admin.site._registry[Team]
    request = rf.post("/admin/")
    request.user = operator
    stale = Team.objects.get(pk=team.pk)  # as the change form read it
    form = model_admin.get_form(request, stale)(data={"name": "Acme Renamed", "slug": "acme"}, instance=stale)
    assert form.is_valid(), form.errors
    page_cache.team_changed(team.pk, domains=True, credentials=True)  # a check lands while the operator types
    model_admin.save_model(request, form.save(commit=False), form, change=True)
    saved = Team.objects.get(pk=team.pk)
    assert saved.name == "Acme Renamed"
    assert (saved.domains_version, saved.credentials_version) == (1, 1)
