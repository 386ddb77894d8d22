"""Sign up, log in by email (rate limited per account and per address), password change and reset."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from mailsetup.models import Membership, Role, Team, User
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def signup(client: Client, **fields: str):  # noqa: ANN201
    data = {"email": "jane@example.test", "name": "", "team_name": "", "password1": PASSWORD, "password2": PASSWORD}
    return client.post("/signup/", {**data, **fields})


def test_signup_creates_the_user_a_team_and_an_owner_membership(client) -> None:  # noqa: ANN001
    response = signup(client, email="Jane@Example.test", name="Jane Doe", team_name="Acme Mail")
    assert response.status_code == 302
    assert response["Location"] == "/t/acme-mail/"
    user = User.objects.get(email="jane@example.test")
    membership = Membership.objects.get(user=user)
    assert (membership.team.name, membership.team.slug, membership.role) == ("Acme Mail", "acme-mail", Role.OWNER)
    assert client.get("/t/acme-mail/").status_code == 200  # logged in


def test_a_team_name_is_derived_when_left_empty(client) -> None:  # noqa: ANN001
    signup(client, email="jane@example.test", name="")
    assert Team.objects.get().name == "jane's team"


def test_slugs_stay_unique(client, team) -> None:  # noqa: ANN001
    Team.objects.create(name="x", slug="acme-mail")
    signup(client, team_name="Acme Mail")
    signup(Client(), email="john@example.test", team_name="Acme  Mail!")
    assert set(Team.objects.values_list("slug", flat=True)) == {"acme", "acme-mail", "acme-mail-2", "acme-mail-3"}


def test_signup_errors_are_shown_beside_the_fields(client, owner) -> None:  # noqa: ANN001
    response = signup(client, email="OWNER@acme.test", password1="short", password2="different")
    assert response.status_code == 200
    assert b"An account with this email already exists" in response.content
    assert b"The two passwords differ" in response.content
    assert User.objects.count() == 1


def test_a_weak_password_is_refused(client) -> None:  # noqa: ANN001
    response = signup(client, password1="12345678", password2="12345678")
    assert b"This password is entirely numeric." in response.content
    assert not User.objects.exists()


def test_login_asks_for_email_and_logs_in_case_insensitively(owner, client) -> None:  # noqa: ANN001
    page = client.get("/login/")
    assert b'<label for="id_username">Email</label>' in page.content
    response = client.post("/login/", {"username": "Owner@Acme.test", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").headers["Location"] == "/t/acme/"


def test_a_wrong_password_says_so_beside_the_form(owner, client) -> None:  # noqa: ANN001
    response = client.post("/login/", {"username": owner.email, "password": "nope"})
    assert response.status_code == 200
    assert b"That email and password do not match an account" in response.content


def test_login_locks_an_account_after_five_failures_from_any_address(owner) -> None:  # noqa: ANN001
    for n in range(4):
        client = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
        # Changing the case of the address does not make it another account.
        username = owner.email.upper() if n % 2 else owner.email
        assert client.post("/login/", {"username": username, "password": "wrong"}).status_code == 200
    fifth = Client(REMOTE_ADDR="198.51.100.5").post("/login/", {"username": owner.email, "password": "wrong"})
    assert fifth.status_code == 429
    # Now even the right password from a fresh address is refused, with our page rather than an error page.
    client = Client(REMOTE_ADDR="203.0.113.77")
    locked = client.post("/login/", {"username": owner.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert b"Too many failed log-in attempts" in locked.content
    assert b"15 minutes" in locked.content
    assert "_auth_user_id" not in client.session


def test_login_locks_an_address_after_five_failures_on_any_accounts(owner) -> None:  # noqa: ANN001
    other = make_user("other@acme.test")
    client = Client(REMOTE_ADDR="192.0.2.10")
    for n in range(5):
        response = client.post("/login/", {"username": f"nobody{n}@example.test", "password": "wrong"})
    assert response.status_code == 429
    locked = client.post("/login/", {"username": other.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    # The same account from another address is fine: the lock was on the address.
    elsewhere = Client(REMOTE_ADDR="192.0.2.11")
    assert elsewhere.post("/login/", {"username": other.email, "password": PASSWORD}).status_code == 302


def test_logout_needs_a_post_and_ends_the_session(owner, login) -> None:  # noqa: ANN001
    client = login(owner)
    assert client.post("/logout/").status_code == 302
    assert client.get("/t/acme/").status_code == 302  # to the login page


def test_password_change(owner, login) -> None:  # noqa: ANN001
    client = login(owner)
    assert client.get("/password/change/").status_code == 200
    new = "another long passphrase 77"
    response = client.post("/password/change/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(new)


def test_password_reset_by_email(owner, client, mailoutbox) -> None:  # noqa: ANN001
    response = client.post("/password/reset/", {"email": owner.email})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == "Reset your mailsetup password"
    path = re.search(r"https?://[^/]+(/password/reset/\S+/)", mailoutbox[0].body).group(1)
    form = client.get(path, follow=True)
    assert b"Choose a new password" in form.content
    new = "brand new passphrase 99"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(new)


def test_home_sends_a_user_without_a_team_to_create_one(login) -> None:  # noqa: ANN001
    user = make_user("lonely@example.test")
    assert login(user).get("/").headers["Location"] == "/teams/new/"


def test_behind_a_proxy_the_address_lock_is_per_client_not_per_proxy(owner, settings) -> None:  # noqa: ANN001
    settings.MAILSETUP_PROXY_COUNT = 1
    other = make_user("other@acme.test")
    # Every request reaches Django from the proxy's address; the proxy appends the client's address.
    attacker = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.66")
    for n in range(5):
        response = attacker.post("/login/", {"username": f"nobody{n}@example.test", "password": "wrong"})
    assert response.status_code == 429
    # A forged left-most entry does not help the attacker: the proxy's own entry is the right-most one.
    forged = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.9.9.9, 192.0.2.66")
    assert forged.post("/login/", {"username": other.email, "password": PASSWORD}).status_code == 429
    # Another client behind the same proxy is not locked out.
    colleague = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.20")
    assert colleague.post("/login/", {"username": other.email, "password": PASSWORD}).status_code == 302


def test_without_a_proxy_setting_x_forwarded_for_is_ignored(owner, settings) -> None:  # noqa: ANN001
    settings.MAILSETUP_PROXY_COUNT = 0
    for n in range(5):
        spoofing = Client(REMOTE_ADDR="192.0.2.70", HTTP_X_FORWARDED_FOR=f"198.51.100.{n + 1}")
        response = spoofing.post("/login/", {"username": f"nobody{n}@example.test", "password": "wrong"})
    assert response.status_code == 429
