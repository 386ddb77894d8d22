"""Rendered team pages, cached under a key that says everything the page shows.

The busiest pages (the domain list, a domain's page, the credential list) are read far more often than what they
show changes. A view hands `serve` the parts of its key that come from its data: the team's versions, which the
services raise in the same transaction as every change (Team.domains_version: anything of any of the team's
domains, a check included; Team.credentials_version: its credentials), and the page number. `serve` adds who is
asking: the user, their teams and roles (the team switcher, the buttons a role sees), the path, and this release
of the code. The versions come with the team, which the request loads anyway with the user (mailsetup/backends.py),
so a page served from the cache costs no query of its own.

Keys are built from values read from the database on this request, so no cache can serve a stale page: the cache
lives in each process's memory (settings.CACHES["pages"]), never invalidated, only outgrown.

What depends on the time and not on the data (a credential that expires, "checked 3 minutes ago") is the view's to
say: `response.fresh_until`, until when the page is right. Never cached: a page shown with flash messages (they are
consumed once), any response but a plain 200, a page whose view says `response.page_cache = False` (e.g. ?page=x).
CSRF tokens in the cached HTML are replaced by a slot, filled on each response with a token of that request,
masked afresh, as Django renders it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import _unmask_cipher_token, get_token
from django.utils import timezone

from .models import Team
from .permissions import TeamAccess, user_memberships

# Unguessable, so that no text a user typed (a label, a TXT record found in DNS) is ever taken for the slot.
CSRF_SLOT = f"__mailsetup_csrf_token_{secrets.token_hex(16)}__"
_TOKEN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])")


def team_changed(*team_ids: int, domains: bool = False, credentials: bool = False) -> None:
    """Raise the teams' versions: something their domain pages (domains) or credential list (credentials) show
    changed. Call it in the transaction that makes the change, so that whoever reads the new version sees it."""
    updates = {}
    if domains:
        updates["domains_version"] = F("domains_version") + 1
    if credentials:
        updates["credentials_version"] = F("credentials_version") + 1
    if updates and team_ids:
        Team.objects.filter(pk__in=team_ids).update(**updates)


@cache
def release() -> str:
    """A digest of the code and templates this process runs: a deployment never serves the previous one's pages."""
    digest = hashlib.sha256()
    root = Path(settings.BASE_DIR)
    for folder in ("mailsetup", "domains", "credentials", "templates"):
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in {".py", ".html", ".txt"} and "migrations" not in path.parts:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _has_messages(request: HttpRequest) -> bool:
    session = getattr(request, "session", None)
    # An emptied cookie (Django deletes it with an empty value) holds none.
    return bool(request.COOKIES.get("messages")) or bool(session is not None and session.get("_messages"))


def _key(request: HttpRequest, access: TeamAccess, parts: tuple) -> str:
    user = request.user
    teams = tuple((m.team_id, m.team.slug, m.team.name, m.role) for m in user_memberships(request))
    whole = (
        release(),
        request.path,
        bool(getattr(request, "htmx", False)),
        (user.pk, user.email, user.name, user.is_staff),
        teams,
        access.team.pk,
        parts,
    )
    return "page:" + hashlib.sha256(repr(whole).encode()).hexdigest()


def _with_slots(request: HttpRequest, html: str) -> str:
    """The HTML with each CSRF token of this request's secret replaced by the slot."""
    secret = request.META.get("CSRF_COOKIE")
    if not secret:
        return html
    return _TOKEN.sub(lambda match: CSRF_SLOT if _unmask_cipher_token(match.group()) == secret else match.group(), html)


def serve(request: HttpRequest, access: TeamAccess, parts: tuple, render: Callable[[], HttpResponse]) -> HttpResponse:
    """The page rendered by `render`, or the copy cached under the key of `parts` and the asker."""
    seconds = settings.MAILSETUP_PAGE_CACHE_SECONDS
    if seconds <= 0 or request.method != "GET" or _has_messages(request):
        return render()
    key = _key(request, access, parts)
    pages = caches["pages"]
    cached = pages.get(key)
    if cached is not None:
        content_type, html = cached
        return HttpResponse(html.replace(CSRF_SLOT, get_token(request)), content_type=content_type)
    response = render()
    if response.status_code != 200 or response.streaming or not getattr(response, "page_cache", True):
        return response
    fresh_until: datetime | None = getattr(response, "fresh_until", None)
    if fresh_until is not None:
        seconds = min(seconds, int((fresh_until - timezone.now()).total_seconds()))
    if seconds > 0:
        html = _with_slots(request, response.content.decode(response.charset))
        pages.set(key, (response["Content-Type"], html), seconds)
    return response
