"""Tenant isolation, crawled: every URL pattern of the project, as every role of team A, a stranger and an anonymous
visitor, with team A's own objects, with team B's objects under team A's slug, and under team B's slug.

Team B's every object carries MARKER. Whatever the URL, the marker never appears in a response to someone outside
team B, nothing answers 500, and a URL that names team B's team or objects answers 404 to team A's members. New URL
patterns join by themselves (read from the resolver); their parameters are filled by name (see `fill`).
Every HTML page it gets also holds nothing the Content-Security-Policy would block (inline script, handler, style).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

import pytest
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


def fill(param: str, objects: Objects, before: str = "") -> str:
    """The value for `param`, by its name, or for a bare <pk>/<id> by the path segment before it
    ("credentials/<int:pk>" is a credential)."""
    for name in (param, before if param in ("pk", "id", "object_id") else ""):
        for fragment, kind in KINDS:
            if name and fragment in name:
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


def test_no_page_leaks_another_teams_objects(world: dict) -> None:
    a: Objects = world["a"]
    b: Objects = world["b"]
    clients: dict[str, Client] = {"anonymous": Client()}
    for persona, user in world["users"].items():
        clients[persona] = Client()
        clients[persona].force_login(user)
    # htmx requests get fragments (named partials): the same rules hold for them.
    clients["owner-htmx"] = Client(headers={"HX-Request": "true"})
    clients["owner-htmx"].force_login(world["users"]["owner"])

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
                body = b"".join(response.streaming_content) if response.streaming else response.content
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
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if response.status_code == 200 and MARKER.encode() in body:
            shown.add(pattern.name)
    assert {"team_home", "members", "audit_log", "domains:list", "domains:detail", "credentials:list",
            "credentials:detail"} <= shown, shown
