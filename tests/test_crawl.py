"""Tenant isolation, crawled: every URL pattern of the project, as every role of team A, a stranger and an anonymous
visitor, with team A's own objects, with team B's objects under team A's slug, and under team B's slug.

Team B's every object carries MARKER. Whatever the URL, the marker never appears in a response to someone outside
team B, nothing answers 500, and a URL that names team B's team or objects answers 404 to team A's members. New URL
patterns join by themselves (read from the resolver); their parameters are filled by name (see `fill`).
Every HTML page it gets also holds nothing the Content-Security-Policy would block (inline script, handler, style).

The same walk is then made with POST (many views take POST only and answer GET with 405): every pattern, with team
B's ids under team A's slug (all of them, and one at a time beside team A's other objects), and under team B's slug,
as the same visitors, once empty and once with plausible form data; public URLs (sign up, log in and out, password
reset, bogus invitation and share tokens) with both too. Nothing answers 500, the marker never shows, a URL naming
team B's team or objects answers 404 (or the 403/405 a nonexistent object gets), and team B's rows (and team A's)
are the same afterwards. A control shows the same POSTs by team B's owner do change the rows compared.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, fields
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from django.utils import timezone

from credentials.models import Credential
from domains.models import CheckStatus, DkimKey, Domain, DomainStatus, RecordCheck, RecordHistory, ShareLink
from mailsetup.models import AuditEvent, Invitation, Membership, Role, Team, User

pytestmark = pytest.mark.django_db

MARKER = "qzmark7x"  # lowercase letters and digits: fits a domain label, a slug, an email and a label


@dataclass
class Objects:
    team: Team
    domain: Domain
    dkim: DkimKey
    credential: Credential
    membership: Membership
    invitation: Invitation
    share_link: ShareLink
    audit: AuditEvent
    user: User


def plant(team: Team, tag: str, owner: User) -> Objects:
    """One of every kind of team object, each with `tag` in every text field a page may show."""
    member = User.objects.create_user(email=f"{tag}-member@{tag}.test", password="x-pass-123456", name=f"Member {tag}")
    membership = Membership.objects.create(team=team, user=member, role=Role.MEMBER)
    domain = Domain.objects.create(team=team, name=f"{tag}.example", unicode_name=f"{tag}.example",
                                   status=DomainStatus.VERIFIED, return_path_label=f"{tag}-bounces",
                                   created_by=owner, verified_at=timezone.now(), last_checked_at=timezone.now(),
                                   next_check_at=timezone.now() + timedelta(days=1))
    dkim = DkimKey.objects.create(domain=domain, selector=f"{tag}1", algorithm="rsa", bits=2048,
                                  public_key=f"MIIB{tag}AQAB", private_key_encrypted=b"not-a-real-token")
    for key in (f"dkim:{tag}1", "return_path", "spf", "dmarc"):
        RecordCheck.objects.create(domain=domain, key=key, status=CheckStatus.MISMATCH, found=[f"v=spf1 {tag}"],
                                   message=f"found {tag}", server="127.0.0.1", checked_at=timezone.now(),
                                   changed_at=timezone.now())
        RecordHistory.objects.create(domain=domain, key=key, status=CheckStatus.MISMATCH, found=[f"{tag} found"],
                                     message=f"history {tag}")
    credential = Credential.objects.create(team=team, label=f"Payroll {tag}", username=f"{tag}-{secrets.token_hex(4)}",
                                           secret_prefix=f"ms_{tag}"[:16], secret_hash="0" * 64, all_domains=False,
                                           allowed_ips=["192.0.2.7"], created_by=owner)
    credential.domains.add(domain)
    invitation = Invitation.objects.create(team=team, email=f"invitee-{tag}@{tag}.test", role=Role.VIEWER,
                                           token_hash=secrets.token_hex(32), invited_by=owner)
    share_link = ShareLink.objects.create(domain=domain, token_hash=secrets.token_hex(32), created_by=owner)
    audit = AuditEvent.objects.create(team=team, actor=owner, actor_email=owner.email, action="domain.created",
                                      target=f"{tag}.example", details={"note": tag})
    return Objects(team, domain, dkim, credential, membership, invitation, share_link, audit, member)


@pytest.fixture
def world(db: None) -> dict:
    team_b = Team.objects.create(name=f"Team {MARKER}", slug=f"{MARKER}-team")
    owner_b = User.objects.create_user(email=f"owner@{MARKER}.test", password="x-pass-123456", name=f"Owner {MARKER}")
    Membership.objects.create(team=team_b, user=owner_b, role=Role.OWNER)
    b = plant(team_b, MARKER, owner_b)

    team_a = Team.objects.create(name="Team Alpha", slug="alpha")
    users = {}
    for role in Role:
        users[role.value] = User.objects.create_user(email=f"{role.value}@alpha.test", password="x-pass-123456",
                                                     name=f"Alpha {role.label}")
        Membership.objects.create(team=team_a, user=users[role.value], role=role)
    a = plant(team_a, "alphaown", users["owner"])

    elsewhere = Team.objects.create(name="Elsewhere", slug="elsewhere")
    users["stranger"] = User.objects.create_user(email="stranger@elsewhere.test", password="x-pass-123456")
    Membership.objects.create(team=elsewhere, user=users["stranger"], role=Role.OWNER)
    return {"a": a, "b": b, "users": users}


@dataclass(frozen=True)
class Pattern:
    route: str  # the whole route, e.g. "t/<slug:team_slug>/domains/<int:domain_id>/"
    params: tuple[str, ...]
    name: str | None


def patterns(resolver: URLResolver | None = None, prefix: str = "", ns: str = "") -> list[Pattern]:
    """Every path() pattern of the project (Django's admin, written with regexes, is skipped), in order."""
    found: list[Pattern] = []
    for entry in (resolver or get_resolver()).url_patterns:
        if not isinstance(entry.pattern, RoutePattern):
            continue
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                continue
            found += patterns(entry, route, f"{ns}{entry.namespace}:" if entry.namespace else ns)
        elif isinstance(entry, URLPattern):
            params = tuple(re.findall(r"<(?:\w+:)?(\w+)>", route))
            found.append(Pattern(route, params, f"{ns}{entry.name}" if entry.name else None))
    return found


# What a parameter name refers to. A new kind of object joins here (and in `plant`).
KINDS = [
    ("team_slug", "team"), ("domain", "domain"), ("credential", "credential"), ("membership", "membership"),
    ("member", "membership"), ("invitation", "invitation"), ("link", "share_link"), ("share", "share_link"),
    ("dkim", "dkim"), ("key", "dkim"), ("event", "audit"), ("audit", "audit"), ("user", "user"),
]


# Values for parameters that name no object: a snippet's client, say.
OTHER_VALUES = {"client": "python"}


def kind_of(param: str, before: str = "") -> str | None:
    """The kind of object `param` names, by its name, or for a bare <pk>/<id> by the path segment before it
    ("credentials/<int:pk>" is a credential)."""
    for name in (param, before if param in ("pk", "id", "object_id") else ""):
        for fragment, kind in KINDS:
            if name and fragment in name:
                return kind
    return None


def fill(param: str, objects: Objects, before: str = "") -> str:
    """The value for `param`: the object of its kind (see `kind_of`), or a made-up value."""
    kind = kind_of(param, before)
    if kind is not None:
        obj = getattr(objects, kind)
        return obj.slug if kind == "team" else str(obj.pk)
    if param in ("token", "uidb64"):
        return secrets.token_urlsafe(24)  # a guess: it must be refused, never crash
    return OTHER_VALUES.get(param, "x")  # unknown values must give 404, not 500


def url_for(pattern: Pattern, slug_of: Objects, ids_of: Objects) -> str:
    url = "/" + pattern.route
    for param in pattern.params:
        source = slug_of if param == "team_slug" else ids_of
        match = re.search(rf"([\w-]*)/<(?:\w+:)?{param}>", url)
        before = match.group(1) if match else ""
        url = re.sub(rf"<(?:\w+:)?{param}>", fill(param, source, before), url, count=1)
    return url


def csp_problems(html: str) -> list[str]:
    """What the Content-Security-Policy (script-src 'self'; style-src 'self') would block in a page."""
    problems = [f"inline script {tag[:60]}" for tag in re.findall(r"<script\b[^>]*>", html) if " src=" not in tag]
    problems += [f"inline event handler {m[:40]}" for m in re.findall(r"<[^>]*\son[a-z]+=[^>]*>", html)]
    problems += [f"inline style {m[:60]}" for m in re.findall(r"<[^>]*\sstyle=[^>]*>", html)]
    problems += ["<style> element" for _ in re.findall(r"<style\b", html)]
    return problems


def test_the_crawl_sees_the_team_scoped_views(world: dict) -> None:
    # If the walk broke, the crawl below would pass by visiting nothing.
    names = {p.name for p in patterns()}
    assert {"home", "login", "signup", "team_home", "members", "domains:list", "credentials:list"} <= names
    assert len([p for p in patterns() if "team_slug" in p.params]) >= 5
    # Every object parameter is filled with a real object (an "x" would only ever test a 404).
    a: Objects = world["a"]
    unfilled = [p.route for p in patterns() if "/x/" in url_for(p, a, a) or url_for(p, a, a).endswith("/x")]
    assert unfilled == []


def personas(world: dict) -> tuple[dict[str, Client], dict[str, User]]:
    """A client for each role of team A, the stranger, an anonymous visitor and team A's owner sending htmx
    requests (they get fragments, named partials: the same rules hold for them); and who each is logged in as."""
    clients: dict[str, Client] = {"anonymous": Client()}
    logged_in: dict[str, User] = dict(world["users"])
    for persona, user in world["users"].items():
        clients[persona] = Client()
        clients[persona].force_login(user)
    clients["owner-htmx"] = Client(headers={"HX-Request": "true"})
    clients["owner-htmx"].force_login(world["users"]["owner"])
    logged_in["owner-htmx"] = world["users"]["owner"]
    return clients, logged_in


def body_of(response) -> bytes:  # noqa: ANN001
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_no_page_leaks_another_teams_objects(world: dict) -> None:
    a: Objects = world["a"]
    b: Objects = world["b"]
    clients, _ = personas(world)

    failures: list[str] = []
    visited = 0
    for pattern in patterns():
        has_ids = any(p not in ("team_slug", "token", "uidb64") for p in pattern.params)
        variants = [("own", a, a)]
        if has_ids:
            variants.append(("b-ids", a, b))  # team A's slug, team B's object ids
        if "team_slug" in pattern.params:
            variants.append(("b-team", b, b))  # team B's slug and ids
        own_status: dict[str, int] = {}
        for variant, slug_of, ids_of in variants:
            url = url_for(pattern, slug_of, ids_of)
            for persona, client in clients.items():
                response = client.get(url)
                visited += 1
                status = response.status_code
                where = f"GET {url} ({pattern.name or pattern.route}) as {persona}: {status}"
                body = body_of(response)
                if status >= 500:
                    failures.append(where)
                # A login redirect repeats the URL asked for (?next=...): that is the visitor's own input, not a leak.
                location = response.headers.get("Location", "").replace(quote(url), "").replace(url, "")
                if MARKER.encode() in body or MARKER in location:
                    failures.append(f"{where}, team B's marker in the response")
                if status == 200 and response.get("Content-Type", "").startswith("text/html"):
                    failures += [f"{where}: {problem}" for problem in csp_problems(body.decode())]
                if variant == "own":
                    own_status[persona] = status
                    if persona == "stranger" and "team_slug" in pattern.params and status not in (404, 405):
                        failures.append(f"{where}, expected 404 for a non-member")
                elif persona != "anonymous" and status != 404 and not (status in (403, 405) and own_status[persona] == status):
                    # Team B's slug or ids: 404 for everyone outside team B. A 403 (the role may not) or 405 (the
                    # method) only where it is the same answer as for team A's own object: it says nothing of B's.
                    failures.append(f"{where}, expected 404")
                if persona == "anonymous" and "team_slug" in pattern.params and status not in (302, 404, 405):
                    failures.append(f"{where}, expected a redirect to log in")
    assert visited > 100
    assert not failures, "\n".join(failures)


def test_team_b_sees_its_own_marker(world: dict) -> None:
    """The control: the planted values do show on team B's own pages, so their absence above means something."""
    b: Objects = world["b"]
    client = Client()
    client.force_login(b.team.memberships.get(role=Role.OWNER).user)
    shown = set()
    for pattern in patterns():
        if "team_slug" not in pattern.params:
            continue
        response = client.get(url_for(pattern, b, b))
        body = body_of(response)
        if response.status_code == 200 and MARKER.encode() in body:
            shown.add(pattern.name)
    assert {"team_home", "members", "audit_log", "domains:list", "domains:detail", "credentials:list",
            "credentials:detail"} <= shown, shown


# ---- The same walk with POST: many views take POST only, and answer GET with 405 whoever asks.


@dataclass(frozen=True)
class Ghost:
    """An object that does not exist. A URL with team B's objects must answer as one with ghosts does: 404, or the
    same 403 (the role may not) or 405 (the method) when that comes before any lookup and so says nothing of B."""

    pk: int = 2_000_000_000
    slug: str = "no-such-team"
    name: str = "nothing"


GHOSTS = Objects(**{f.name: Ghost() for f in fields(Objects)})


def kinds_in(pattern: Pattern) -> list[str]:
    """The kinds of object the URL names, in order ("team" first for a team-scoped one)."""
    kinds = []
    for param in pattern.params:
        match = re.search(rf"([\w-]*)/<(?:\w+:)?{param}>", "/" + pattern.route)
        kind = kind_of(param, match.group(1) if match else "")
        if kind is not None:
            kinds.append(kind)
    return kinds


def mix(base: Objects, other: Objects, kind: str) -> Objects:
    """`base`'s objects but one kind, taken from `other`: team A's domain with team B's share link, say."""
    return Objects(**{f.name: getattr(other if f.name == kind else base, f.name) for f in fields(Objects)})


def confirm_value(pattern: Pattern, objects: Objects) -> str | None:
    """The name of the most specific object the URL names: what a "type its name to confirm" field asks for."""
    kinds = kinds_in(pattern)
    if not kinds:
        return None
    obj = getattr(objects, kinds[-1])
    return next((str(getattr(obj, attr)) for attr in ("name", "label", "selector", "email") if hasattr(obj, attr)), str(obj))


def form_data(pattern: Pattern, objects: Objects) -> dict[str, str]:
    """Plausible form data for any view, from generic field names only (no view is named here): enough to pass the
    forms that confirm, rename, relabel, change a role, share for some days or invite someone."""
    data = {"name": "x", "role": "viewer", "label": "x", "days": "7", "scope": "all", "email": "newcomer@example.test"}
    confirm = confirm_value(pattern, objects)
    if confirm is not None:
        data["confirm"] = confirm
    return data


def snapshot(team: Team) -> dict[str, list[tuple]]:
    """A team's rows, with the fields a POST could change."""
    rows = {
        "team": Team.objects.filter(pk=team.pk).values_list("pk", "name", "slug"),
        "memberships": Membership.objects.filter(team=team).values_list("pk", "user_id", "role"),
        "invitations": Invitation.objects.filter(team=team).values_list(
            "pk", "email", "role", "token_hash", "expires_at", "accepted_at", "revoked_at"),
        "domains": Domain.objects.filter(team=team).values_list(
            "pk", "name", "status", "status_changed_at", "dkim_key_type", "return_path_label", "verified_at",
            "next_check_at", "last_checked_at", "check_now_requested_at", "claimed_at", "trouble_since"),
        "dkim_keys": DkimKey.objects.filter(domain__team=team).values_list(
            "pk", "domain_id", "selector", "state", "retire_after", "public_key"),
        "record_checks": RecordCheck.objects.filter(domain__team=team).values_list("pk", "key", "status", "checked_at"),
        "share_links": ShareLink.objects.filter(domain__team=team).values_list(
            "pk", "domain_id", "token_hash", "expires_at", "revoked_at"),
        "credentials": Credential.objects.filter(team=team).values_list(
            "pk", "label", "username", "secret_prefix", "secret_hash", "all_domains", "expires_at", "allowed_ips",
            "rotated_at", "revoked_at"),
        "credential_domains": Credential.domains.through.objects.filter(credential__team=team).values_list(
            "credential_id", "domain_id"),
        "audit_events": AuditEvent.objects.filter(team=team).values_list("pk", "action", "target"),
    }
    return {kind: sorted(query, key=lambda row: row[:2]) for kind, query in rows.items()}


def changes(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> dict[str, tuple[list, list]]:
    return {kind: (before[kind], after[kind]) for kind in before if before[kind] != after[kind]}


def test_no_post_touches_another_teams_objects(world: dict) -> None:
    a: Objects = world["a"]
    b: Objects = world["b"]
    clients, logged_in = personas(world)
    teams = {"B": b.team, "A": a.team}
    before = {name: snapshot(team) for name, team in teams.items()}
    assert all(before["B"].values()), "every kind of team B's rows is planted, so a change to any would show"

    failures: list[str] = []
    sent = 0
    ghost_status: dict[tuple[str, str], int] = {}  # by (URL with ghosts, persona)

    def check(method: str, url: str, pattern: Pattern, persona: str, response) -> str:  # noqa: ANN001
        where = f"{method} {url} ({pattern.name or pattern.route}) as {persona}: {response.status_code}"
        if response.status_code >= 500:
            failures.append(where)
        location = response.headers.get("Location", "").replace(quote(url), "").replace(url, "")
        if MARKER.encode() in body_of(response) or MARKER in location:
            failures.append(f"{where}, team B's marker in the response")
        return where

    for pattern in patterns():
        scoped = "team_slug" in pattern.params
        has_ids = any(p not in ("team_slug", "token", "uidb64") for p in pattern.params)
        # (variant, slug from, ids from, the same URL with ghosts)
        variants: list[tuple[str, Objects, Objects, Objects | None, Objects | None]] = []
        if has_ids:
            variants.append(("b-ids", a, b, a, GHOSTS))  # team A's slug, team B's object ids
            object_kinds = [kind for kind in kinds_in(pattern) if kind != "team"]
            if len(object_kinds) > 1:
                # Team A's objects but one of team B's: a lookup must be scoped by its parent, not only by the team.
                variants += [(f"b-{kind}", a, mix(a, b, kind), a, mix(a, GHOSTS, kind)) for kind in object_kinds]
        if scoped:
            variants.append(("b-team", b, b, GHOSTS, GHOSTS))  # team B's slug and ids
        if not variants:
            variants.append(("public", a, a, None, None))  # signup, login, logout, password reset, tokens...
        for variant, slug_of, ids_of, ghost_slug_of, ghost_ids_of in variants:
            url = url_for(pattern, slug_of, ids_of)
            for persona, client in clients.items():
                targets = [url]
                if variant == "public" and ("token" in pattern.params or "uidb64" in pattern.params):
                    # Follow the (bogus) link first, as its recipient would: it may keep the token in the session
                    # and lead on to a page taking POST (an invitation's /invite/).
                    response = client.get(url)
                    check("GET", url, pattern, persona, response)
                    if response.status_code in (301, 302, 303) and response["Location"].startswith("/"):
                        targets.append(response["Location"])
                for target in targets:
                    status = 0
                    for data in ({}, form_data(pattern, ids_of)):
                        if data and status == 405:
                            break  # the method was refused: it is, whatever the data
                        response = client.post(target, data)
                        sent += 1
                        where = check("POST", target, pattern, persona, response)
                        status = response.status_code
                        if variant == "public":
                            if persona in logged_in and client.session.get("_auth_user_id") != str(logged_in[persona].pk):
                                client.force_login(logged_in[persona])  # after a POST to logout/
                        elif persona == "anonymous":
                            if scoped and status not in (302, 404, 405):
                                failures.append(f"{where}, expected a redirect to log in")
                        elif status != 404:
                            # Outside team B: 404, or the answer a ghost gets when the role or method is refused first.
                            ghost_url = url_for(pattern, ghost_slug_of, ghost_ids_of)
                            if (ghost_url, persona) not in ghost_status:
                                ghost_status[ghost_url, persona] = client.post(ghost_url).status_code
                            if not (status in (403, 405) and ghost_status[ghost_url, persona] == status):
                                failures.append(f"{where}, expected 404 (a ghost gets {ghost_status[ghost_url, persona]})")
    # Team B's rows are as they were; team A's too (team B's ids under team A's slug must reach nothing of A's).
    for name, team in teams.items():
        for kind, (was, now) in changes(before[name], snapshot(team)).items():
            failures.append(f"team {name}'s {kind} changed:\n  before {was}\n  after  {now}")
    assert sent > 500
    assert not failures, "\n".join(failures)


def test_the_post_data_does_change_team_bs_rows_for_its_owner(world: dict) -> None:
    """The control: the same POSTs, by team B's owner on team B's URLs, each rolled back after, do change the rows
    the snapshot compares, so that their staying the same above means something."""
    b: Objects = world["b"]
    client = Client()
    client.force_login(b.team.memberships.get(role=Role.OWNER).user)
    before = snapshot(b.team)
    changed = set()
    for pattern in patterns():
        if "team_slug" not in pattern.params:
            continue
        with transaction.atomic():
            client.post(url_for(pattern, b, b), form_data(pattern, b))
            if changes(before, snapshot(b.team)):
                changed.add(pattern.name)
            transaction.set_rollback(True)
    assert {"domains:delete", "domains:share_create", "domains:share_revoke", "domains:check_now", "domains:dkim_rotate",
            "credentials:issue", "credentials:edit", "credentials:rotate", "credentials:revoke", "member_change_role",
            "member_remove", "invitations", "invitation_revoke", "invitation_resend", "team_settings",
            "team_delete"} <= changed, changed
