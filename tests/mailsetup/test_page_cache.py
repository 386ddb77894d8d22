"""The page cache's machinery (mailsetup/page_cache.py): who is asking, CSRF tokens, flash messages, what is never
stored, the setting that turns it off, and the authentication backend that loads the user with their teams."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY
from django.core.cache import caches
from django.db import connection
from django.http import HttpResponse
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credentials.services import credential_issue
from domains.models import DkimKeyType, Domain
from domains.services import domain_create
from mailsetup import page_cache, services
from mailsetup.backends import ModelBackendWithMemberships, user_with_memberships
from mailsetup.models import Membership, Role, Team, User
from mailsetup.permissions import TeamAccess
from tests.conftest import make_user
from tests.credentials.conftest import make_domain

pytestmark = pytest.mark.django_db

# A page served from the cache costs the session and the user loaded with their memberships and teams
# (mailsetup/backends.py): no query of the page's own.
CACHED_HIT_QUERIES = 2
DOMAINS = "/t/acme/domains/"
CREDENTIALS = "/t/acme/credentials/"
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"')


def get(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    text = response.content.decode()
    assert page_cache.CSRF_SLOT not in text
    return text


def stored() -> int:
    """How many pages the cache holds."""
    return len(caches["pages"]._cache)


def cached_get(client: Client, url: str, django_assert_num_queries) -> str:  # noqa: ANN001 - the pytest-django fixture
    with django_assert_num_queries(CACHED_HIT_QUERIES):
        return get(client, url)


def warm(client: Client, url: str, django_assert_num_queries) -> str:  # noqa: ANN001
    get(client, url)
    return cached_get(client, url, django_assert_num_queries)


def access_of(user: User, team: Team) -> TeamAccess:
    return TeamAccess(team=team, membership=Membership.objects.select_related("team", "user").get(user=user, team=team))


@pytest.fixture
def domain(team: Team, owner: User) -> Domain:
    return domain_create(team=team, name="example.com", actor=owner, dkim_key_type=DkimKeyType.RSA1024)


@pytest.fixture
def credential(team: Team, owner: User):  # noqa: ANN201
    make_domain(team, "acme.test")
    credential, _ = credential_issue(team=team, actor=owner, label="Payroll system", all_domains=True, domains=[])
    return credential


# ---- serve(), with a render function of our own


class Render:
    """A view's render function that counts its calls and says how long its page is right."""

    def __init__(self, fresh_for: timedelta | None = None, status: int = 200, page_cache: bool = True) -> None:
        self.calls = 0
        self.fresh_for, self.status, self.page_cache = fresh_for, status, page_cache

    def __call__(self) -> HttpResponse:
        self.calls += 1
        response = HttpResponse(f"<p>rendered {self.calls}</p>", status=self.status)
        response.page_cache = self.page_cache
        if self.fresh_for is not None:
            response.fresh_until = timezone.now() + self.fresh_for
        return response


def asking(rf, user: User, team: Team, method: str = "get"):  # noqa: ANN001, ANN201 - RequestFactory, a request
    request = getattr(rf, method)(DOMAINS)
    request.user = user
    access = access_of(user, team)
    user.loaded_memberships = [access.membership]
    return request, access


def test_a_page_is_served_until_its_fresh_until_and_rendered_again_after(rf, owner, team) -> None:
    render = Render(fresh_for=timedelta(seconds=1.5))

    page_cache.serve(*asking(rf, owner, team), ("t",), render)
    again = page_cache.serve(*asking(rf, owner, team), ("t",), render)

    assert render.calls == 1
    assert again.content == b"<p>rendered 1</p>"
    (kept_until,) = caches["pages"]._expire_info.values()
    assert kept_until <= time.time() + 1.5

    time.sleep(1.2)  # past the whole second the entry was kept for (1.5 s, rounded down)
    later = page_cache.serve(*asking(rf, owner, team), ("t",), render)

    assert render.calls == 2
    assert later.content == b"<p>rendered 2</p>"


@pytest.mark.parametrize(
    "render",
    [
        Render(fresh_for=timedelta(seconds=0.9)),  # right for less than a second
        Render(fresh_for=timedelta(seconds=-5)),  # already wrong
        Render(status=404),
        Render(page_cache=False),  # the view says so: ?page=x
    ],
    ids=["fresh-under-a-second", "stale", "not-200", "opted-out"],
)
def test_these_pages_are_never_stored(rf, owner, team, render: Render) -> None:
    page_cache.serve(*asking(rf, owner, team), ("t",), render)
    page_cache.serve(*asking(rf, owner, team), ("t",), render)

    assert render.calls == 2
    assert stored() == 0


def test_a_post_is_never_answered_from_the_cache(rf, owner, team) -> None:
    render = Render()
    page_cache.serve(*asking(rf, owner, team), ("t",), render)

    page_cache.serve(*asking(rf, owner, team, "post"), ("t",), render)

    assert render.calls == 2


def test_the_views_key_parts_tell_pages_apart(rf, owner, team) -> None:
    render = Render()
    page_cache.serve(*asking(rf, owner, team), ("domains", 1, "1"), render)

    page_cache.serve(*asking(rf, owner, team), ("domains", 2, "1"), render)  # a version raised

    assert render.calls == 2


def test_team_changed_raises_only_the_versions_asked_for(team) -> None:
    page_cache.team_changed(team.pk, domains=True)
    page_cache.team_changed(team.pk, credentials=True)
    page_cache.team_changed(team.pk, domains=True, credentials=True)

    team.refresh_from_db()
    assert (team.domains_version, team.credentials_version) == (2, 2)


# ---- who is asking


def test_a_viewer_and_an_owner_each_get_their_own_domain_list(team, owner, viewer, login, django_assert_num_queries) -> None:
    as_viewer, as_owner = login(viewer), login(owner)

    for _ in range(2):  # rendered, then from the cache: each their own
        assert 'id="add-domain-form"' not in get(as_viewer, DOMAINS)
        assert 'id="add-domain-form"' in get(as_owner, DOMAINS)

    assert 'id="add-domain-form"' not in cached_get(as_viewer, DOMAINS, django_assert_num_queries)
    assert 'id="add-domain-form"' in cached_get(as_owner, DOMAINS, django_assert_num_queries)


def test_a_viewer_and_an_owner_each_get_their_own_credential_list(
    team, owner, viewer, credential, login, django_assert_num_queries
) -> None:
    as_viewer, as_owner = login(viewer), login(owner)
    get(as_viewer, CREDENTIALS)
    get(as_owner, CREDENTIALS)

    seen_by_viewer = cached_get(as_viewer, CREDENTIALS, django_assert_num_queries)
    seen_by_owner = cached_get(as_owner, CREDENTIALS, django_assert_num_queries)

    assert ">Rotate</button>" not in seen_by_viewer
    assert 'id="credential-action"' not in seen_by_viewer
    assert ">Rotate</button>" in seen_by_owner
    assert ">Revoke</button>" in seen_by_owner


def test_two_members_with_the_same_role_each_see_their_own_name(team, teammate, login, django_assert_num_queries) -> None:
    other = make_user("second@acme.test", "Sid Second")
    Membership.objects.create(team=team, user=other, role=Role.MEMBER)
    as_teammate, as_other = login(teammate), login(other)
    warm(as_teammate, DOMAINS, django_assert_num_queries)

    html = get(as_other, DOMAINS)

    assert "<summary>Sid Second</summary>" in html
    assert "Mia Member" not in html


def test_a_user_in_two_teams_sees_each_teams_own_list(team, owner, domain, login, django_assert_num_queries) -> None:
    second = services.team_create(name="Beta Mail", owner=owner)
    # The same versions as the new team's, before any page is cached: only the team tells the two lists apart.
    Team.objects.filter(pk=team.pk).update(domains_version=0, credentials_version=0)
    client = login(owner)
    assert 'data-domain="example.com"' in warm(client, DOMAINS, django_assert_num_queries)

    html = get(client, f"/t/{second.slug}/domains/")

    assert "No domains yet." in html
    assert 'data-testid="current-team">Beta Mail<' in html


def test_a_member_made_viewer_loses_the_add_form_at_once(team, owner, teammate, login, django_assert_num_queries) -> None:
    client = login(teammate)
    assert 'id="add-domain-form"' in warm(client, DOMAINS, django_assert_num_queries)

    services.member_change_role(access=access_of(owner, team), membership=Membership.objects.get(user=teammate), role=Role.VIEWER)

    assert 'id="add-domain-form"' not in get(client, DOMAINS)


def test_a_removed_member_gets_404_not_the_cached_page(team, owner, teammate, domain, login, django_assert_num_queries) -> None:
    client = login(teammate)
    urls = [DOMAINS, f"/t/acme/domains/{domain.pk}/", CREDENTIALS]
    for url in urls:
        warm(client, url, django_assert_num_queries)

    services.member_remove(access=access_of(owner, team), membership=Membership.objects.get(user=teammate))

    assert [client.get(url).status_code for url in urls] == [404, 404, 404]


def test_a_stranger_gets_404_for_a_domain_of_another_team_after_its_owner_saw_it(
    team, owner, stranger, domain, login, django_assert_num_queries
) -> None:
    warm(login(owner), f"/t/acme/domains/{domain.pk}/", django_assert_num_queries)
    client = login(stranger)

    assert client.get(f"/t/other/domains/{domain.pk}/").status_code == 404  # under their own team's slug
    assert client.get(f"/t/acme/domains/{domain.pk}/").status_code == 404
    assert client.get(DOMAINS).status_code == 404


def test_a_renamed_team_shows_its_new_name_in_the_switcher(team, owner, login, django_assert_num_queries) -> None:
    client = login(owner)
    assert 'data-testid="current-team">Acme Mail<' in warm(client, DOMAINS, django_assert_num_queries)

    services.team_rename(access=access_of(owner, team), name="Acme Post")

    html = get(client, DOMAINS)
    assert 'data-testid="current-team">Acme Post<' in html
    assert "<title>Domains · Acme Post · mailsetup</title>" in html


def test_renaming_another_of_the_users_teams_shows_in_the_switcher(team, owner, login, django_assert_num_queries) -> None:
    second = services.team_create(name="Beta Mail", owner=owner)
    client = login(owner)
    assert "Beta Mail <span" in warm(client, DOMAINS, django_assert_num_queries)

    services.team_rename(access=access_of(owner, second), name="Gamma Mail")

    html = get(client, DOMAINS)
    assert "Gamma Mail <span" in html
    assert "Beta Mail" not in html


def test_joining_a_team_shows_it_in_the_switcher(team, owner, teammate, login, django_assert_num_queries) -> None:
    client = login(teammate)
    warm(client, DOMAINS, django_assert_num_queries)

    other = services.team_create(name="Zed Mail", owner=owner)
    Membership.objects.create(team=other, user=teammate, role=Role.MEMBER)

    assert "Zed Mail <span" in get(client, DOMAINS)


# ---- CSRF tokens


def unmasked(token: str) -> str:
    return _unmask_cipher_token(token)


def test_a_cached_page_carries_a_fresh_token_that_works(team, owner, credential) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    first = get(client, CREDENTIALS)
    with CaptureQueriesContext(connection) as queries:
        second = get(client, CREDENTIALS)
    assert len(queries) == CACHED_HIT_QUERIES  # from the cache

    secret = client.cookies["csrftoken"].value
    first_tokens, second_tokens = TOKEN.findall(first), TOKEN.findall(second)
    assert len(second_tokens) == len(first_tokens) == 2  # the rows' shared form, and the log-out form
    assert first_tokens[0] != second_tokens[0]  # masked afresh for each response...
    assert {unmasked(t) for t in first_tokens + second_tokens} == {secret}  # ...from the cookie's secret
    header = re.search(r'hx-headers=\'\{"x-csrftoken": "([A-Za-z0-9]{64})"\}\'', second)
    assert header is not None and unmasked(header.group(1)) == secret

    assert client.post(f"/t/acme/credentials/{credential.pk}/revoke/").status_code == 403  # the check is on
    response = client.post(f"/t/acme/credentials/{credential.pk}/revoke/", {"csrfmiddlewaretoken": second_tokens[0]})

    assert response.status_code == 302
    credential.refresh_from_db()
    assert credential.revoked_at is not None


def test_a_page_cached_for_one_browser_carries_the_other_browsers_token(team, owner, credential) -> None:
    first_browser = Client(enforce_csrf_checks=True)
    first_browser.force_login(owner)
    get(first_browser, CREDENTIALS)
    second_browser = Client(enforce_csrf_checks=True)
    second_browser.force_login(owner)

    with CaptureQueriesContext(connection) as queries:
        html = get(second_browser, CREDENTIALS)  # its first visit, and no CSRF cookie yet

    assert not any("credentials_credential" in q["sql"] for q in queries.captured_queries)  # from the cache
    secret = second_browser.cookies["csrftoken"].value
    assert secret != first_browser.cookies["csrftoken"].value
    tokens = TOKEN.findall(html)
    assert tokens and {unmasked(t) for t in tokens} == {secret}
    response = second_browser.post(f"/t/acme/credentials/{credential.pk}/revoke/", {"csrfmiddlewaretoken": tokens[0]})
    assert response.status_code == 302


def test_no_page_ever_shows_the_token_slot(team, owner, viewer, domain, credential, login) -> None:
    for user in (owner, viewer):
        client = login(user)
        for url in (DOMAINS, f"/t/acme/domains/{domain.pk}/", CREDENTIALS):
            for _ in range(2):
                html = get(client, url)  # get() asserts the slot is not there
                assert TOKEN.search(html) is not None


# ---- flash messages


def forget_expired_cookies(client: Client) -> None:
    """What a browser does with a cookie set to expire at once: the test client would send it back, empty."""
    for name in [name for name, morsel in client.cookies.items() if morsel["max-age"] == 0]:
        del client.cookies[name]


def test_a_message_after_a_revoke_shows_once_and_the_list_is_cached_again(
    team, owner, credential, login, django_assert_num_queries
) -> None:
    client = login(owner)
    warm(client, CREDENTIALS, django_assert_num_queries)
    entries = stored()

    response = client.post(f"/t/acme/credentials/{credential.pk}/revoke/")
    assert response.status_code == 302
    assert response["Location"] == CREDENTIALS

    assert "Revoked “Payroll system”: it no longer logs in." in get(client, CREDENTIALS)
    assert stored() == entries  # a page with a message is not stored
    forget_expired_cookies(client)

    assert "Revoked “Payroll system”" not in get(client, CREDENTIALS)
    assert stored() == entries + 1
    html = cached_get(client, CREDENTIALS, django_assert_num_queries)
    assert "Revoked “Payroll system”" not in html
    assert 'data-testid="credential-status">Revoked<' in html


def test_a_message_after_adding_a_domain_shows_on_its_page(team, owner, login, django_assert_num_queries) -> None:
    client = login(owner)

    response = client.post(DOMAINS + "add/", {"name": "new.example", "dkim_key_type": "rsa1024", "return_path_label": "bounces"})

    url = response["Location"]
    assert "Added new.example." in get(client, url)
    forget_expired_cookies(client)
    assert "Added new.example." not in get(client, url)
    assert "Added new.example." not in cached_get(client, url, django_assert_num_queries)


def test_a_message_that_changes_nothing_is_not_hidden_by_the_cached_page(
    team, owner, domain, login, django_assert_num_queries
) -> None:
    # A refused rotation (the domain is not verified) raises no version: the page's key is the one cached.
    client = login(owner)
    url = f"/t/acme/domains/{domain.pk}/"
    warm(client, url, django_assert_num_queries)

    response = client.post(url + "dkim/rotate/")

    assert response["Location"] == url + "#dkim-keys"
    assert "is not verified yet: its first DKIM keys are not in use" in get(client, url)


# ---- what is served but never stored


@pytest.mark.parametrize("url", [DOMAINS, CREDENTIALS])
@pytest.mark.parametrize("page", ["x", "999", "01"])
def test_an_odd_page_number_is_served_but_not_stored(team, owner, domain, credential, login, url: str, page: str) -> None:
    client = login(owner)

    assert client.get(url, {"page": page}).status_code == 200
    assert client.get(url, {"page": page}).status_code == 200

    assert stored() == 0
    get(client, url)
    assert stored() == 1


def test_no_page_is_stored_when_the_setting_is_zero(team, owner, domain, credential, login, settings) -> None:
    settings.MAILSETUP_PAGE_CACHE_SECONDS = 0
    client = login(owner)
    for url in (DOMAINS, f"/t/acme/domains/{domain.pk}/", CREDENTIALS):
        get(client, url)  # the session learns the current team: not part of what follows
        counts = []
        for _ in range(2):
            with CaptureQueriesContext(connection) as queries:
                get(client, url)
            counts.append(len(queries))

        assert counts[0] == counts[1] > CACHED_HIT_QUERIES
    assert stored() == 0


# ---- the authentication backend (mailsetup/backends.py)


def orm_view(user: User) -> tuple[dict, list[tuple]]:
    """The user's fields, and each membership with its team's fields, as the ORM loads them."""
    memberships = Membership.objects.filter(user=user).select_related("team").order_by("team__name", "team_id")
    return fields_of(user), [(fields_of(m), fields_of(m.team)) for m in memberships]


def fields_of(obj: object) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def backend_view(user: User | None) -> tuple[dict, list[tuple]]:
    return fields_of(user), [(fields_of(m), fields_of(m.team)) for m in user.loaded_memberships]


def test_the_backend_loads_what_the_orm_loads_for_a_user_in_several_teams(team, owner) -> None:
    # Two teams of the same name (ordered by id then) and one that sorts first; a raised version on one.
    services.team_create(name="Acme Mail", owner=owner)
    services.team_create(name="Aardvark", owner=owner)
    page_cache.team_changed(team.pk, domains=True)
    owner.refresh_from_db()

    user = ModelBackendWithMemberships().get_user(owner.pk)

    assert backend_view(user) == orm_view(owner)
    assert [m.team.name for m in user.loaded_memberships] == ["Aardvark", "Acme Mail", "Acme Mail"]
    assert all(m.user is user for m in user.loaded_memberships)
    assert user.loaded_memberships[1].team.domains_version == 1


def test_the_backend_gives_a_user_in_no_team_no_memberships(db) -> None:
    loner = make_user("loner@example.test")

    user = ModelBackendWithMemberships().get_user(str(loner.pk))  # the session keeps the id as a string

    assert user == loner
    assert user.loaded_memberships == []
    assert user_with_memberships(loner.pk) == (None, [])


def test_a_user_in_no_team_logs_in_and_is_sent_to_make_one(db, login) -> None:
    client = login(make_user("loner@example.test", "Lou Loner"))

    response = client.get("/", follow=True)

    assert response.redirect_chain == [("/teams/new/", 302)]
    assert response.status_code == 200
    assert "Lou Loner" in response.content.decode()


def test_the_backend_refuses_an_inactive_user(team, owner) -> None:
    User.objects.filter(pk=owner.pk).update(is_active=False)

    assert ModelBackendWithMemberships().get_user(owner.pk) is None


def test_an_inactive_user_is_logged_out_not_shown_a_cached_page(team, owner, login, django_assert_num_queries) -> None:
    client = login(owner)
    warm(client, DOMAINS, django_assert_num_queries)

    User.objects.filter(pk=owner.pk).update(is_active=False)

    response = client.get(DOMAINS)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("user_id", [10**30, -(10**30), "99999999999999999999999", 123456789])
def test_the_backend_finds_no_user_for_an_id_no_row_has(db, user_id: object) -> None:
    assert ModelBackendWithMemberships().get_user(user_id) is None


def test_a_session_with_a_malformed_user_id_is_logged_out_not_a_500(team, owner, login) -> None:
    client = login(owner)
    session = client.session
    session[SESSION_KEY] = str(10**30)
    assert session[BACKEND_SESSION_KEY] == "mailsetup.backends.ModelBackendWithMemberships"
    session.save()

    response = client.get(DOMAINS)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# ---- the operator's admin: a user's name shows on pages of teams they are no longer in


def change_in_admin(rf, operator: User, user: User, **fields: object) -> None:  # noqa: ANN001 - RequestFactory
    """What the admin's user change form does once valid: the form sets the fields, then save_model saves."""
    from django.contrib import admin

    request = rf.post(f"/admin/mailsetup/user/{user.pk}/change/")
    request.user = operator
    user = User.objects.get(pk=user.pk)
    for name, value in fields.items():
        setattr(user, name, value)
    admin.site._registry[User].save_model(request, user, None, True)


def test_renaming_a_former_member_in_the_admin_shows_on_the_credential_list_they_filled(
    team, owner, teammate, login, admin_user, rf, django_assert_num_queries
) -> None:
    make_domain(team, "acme.test")
    credential_issue(team=team, actor=teammate, label="Made by Mia", all_domains=True, domains=[])
    services.member_leave(access=access_of(teammate, team))
    client = login(owner)
    assert "by Mia Member" in warm(client, CREDENTIALS, django_assert_num_queries)

    change_in_admin(rf, admin_user, teammate, name="Mia Renamed")

    html = get(client, CREDENTIALS)
    assert "by Mia Renamed" in html
    assert "Mia Member" not in html


def test_a_former_members_new_email_shows_on_the_share_links_they_made(
    team, owner, teammate, domain, login, admin_user, rf, django_assert_num_queries
) -> None:
    from domains.services import share_link_create

    share_link_create(domain=domain, actor=teammate)
    services.member_leave(access=access_of(teammate, team))
    client = login(owner)
    url = f"/t/acme/domains/{domain.pk}/"
    assert "member@acme.test" in warm(client, url, django_assert_num_queries)

    change_in_admin(rf, admin_user, teammate, email="mia@elsewhere.test")

    html = get(client, url)
    assert "mia@elsewhere.test" in html
    assert "member@acme.test" not in html


def test_deleting_a_former_member_in_the_admin_drops_their_name_from_the_credential_list(
    team, owner, teammate, login, admin_user, rf, django_assert_num_queries
) -> None:
    from django.contrib import admin

    make_domain(team, "acme.test")
    credential_issue(team=team, actor=teammate, label="Made by Mia", all_domains=True, domains=[])
    services.member_leave(access=access_of(teammate, team))
    client = login(owner)
    assert "by Mia Member" in warm(client, CREDENTIALS, django_assert_num_queries)
    request = rf.post(f"/admin/mailsetup/user/{teammate.pk}/delete/")
    request.user = admin_user

    admin.site._registry[User].delete_model(request, User.objects.get(pk=teammate.pk))

    assert "Mia Member" not in get(client, CREDENTIALS)


def test_a_session_signed_in_before_the_backend_was_replaced_stays_signed_in(owner, team) -> None:  # noqa: ANN001
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import Client

    session = SessionStore()
    session[SESSION_KEY] = str(owner.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"  # what logins recorded until now
    session[HASH_SESSION_KEY] = owner.get_session_auth_hash()
    session.create()
    client = Client()
    client.cookies["sessionid"] = session.session_key
    response = client.get(f"/t/{team.slug}/domains/")
    assert response.status_code == 200
    assert owner.display_name in response.content.decode()


def test_logging_in_records_the_backend_that_loads_the_teams_with_the_user(owner) -> None:  # noqa: ANN001
    from django.contrib.auth import BACKEND_SESSION_KEY
    from django.test import Client

    from tests.conftest import PASSWORD

    client = Client()
    response = client.post("/login/", {"username": owner.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session[BACKEND_SESSION_KEY] == "mailsetup.backends.ModelBackendWithMemberships"
