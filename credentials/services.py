"""SMTP credentials: issue, rotate, revoke, and the two checks the SMTP side makes (authenticate, authorized_sender).

`authenticate` is the one entry point for the SMTP server. It is cheap on purpose (one indexed query and one
HMAC) and takes about the same path for every refusal: unknown user, wrong secret, revoked, expired, wrong IP.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q
from django.utils import timezone

from domains.models import Domain
from mailsetup import page_cache
from mailsetup.audit import audit

from . import tokens
from .models import Credential

if TYPE_CHECKING:
    from mailsetup.models import Team, User

# last_used_at is written at most this often per credential: a busy sender must not cost a write per login.
LAST_USED_RESOLUTION = timedelta(minutes=1)

# Compared against when the username is unknown, so that case costs the same HMAC and compare as any other.
_UNKNOWN_USER_HASH = "0" * 64


def _domains_detail(*, all_domains: bool, domains: list[Domain]) -> str | list[str]:
    return "all verified domains" if all_domains else sorted(d.name for d in domains)


@transaction.atomic
def credential_issue(
    *,
    team: Team,
    actor: User,
    label: str,
    all_domains: bool,
    domains: list[Domain],
    expires_at: datetime | None = None,
    allowed_ips: list[str] | None = None,
) -> tuple[Credential, str]:
    """A new credential and its secret. The secret is returned once and stored only as a keyed hash."""
    secret = tokens.generate_secret()
    username = tokens.generate_username(team.slug)
    while Credential.objects.filter(username=username).exists():  # 36^8 makes this all but impossible
        username = tokens.generate_username(team.slug)
    credential = Credential.objects.create(
        team=team,
        label=label,
        username=username,
        secret_prefix=tokens.display_prefix(secret),
        secret_hash=tokens.secret_hash(secret),
        all_domains=all_domains,
        expires_at=expires_at,
        allowed_ips=list(allowed_ips or []),
        created_by=actor,
    )
    if not all_domains:
        credential.domains.set(domains)
    page_cache.team_changed(team.pk, credentials=True)
    audit(
        team=team,
        actor=actor,
        action="credential.issued",
        target=f"{label} ({username})",
        domains=_domains_detail(all_domains=all_domains, domains=domains),
        expires_at=expires_at.isoformat() if expires_at else None,
        allowed_ips=list(allowed_ips or []),
    )
    return credential, secret


@transaction.atomic
def credential_update(
    *,
    credential: Credential,
    actor: User,
    label: str,
    all_domains: bool,
    domains: list[Domain],
    expires_at: datetime | None,
    allowed_ips: list[str],
) -> list[str]:
    """Change what a credential may do, keeping its secret. Returns the names of the fields that changed."""
    before = {
        "label": credential.label,
        "domains": _domains_detail(all_domains=credential.all_domains, domains=list(credential.domains.all())),
        "expires_at": credential.expires_at.isoformat() if credential.expires_at else None,
        "allowed_ips": list(credential.allowed_ips),
    }
    after = {
        "label": label,
        "domains": _domains_detail(all_domains=all_domains, domains=domains),
        "expires_at": expires_at.isoformat() if expires_at else None,
        "allowed_ips": list(allowed_ips),
    }
    changed = [name for name in before if before[name] != after[name]]
    if not changed:
        return []
    credential.label = label
    credential.all_domains = all_domains
    credential.expires_at = expires_at
    credential.allowed_ips = list(allowed_ips)
    credential.save(update_fields=["label", "all_domains", "expires_at", "allowed_ips"])
    credential.domains.set([] if all_domains else domains)
    page_cache.team_changed(credential.team_id, credentials=True)
    audit(
        team=credential.team,
        actor=actor,
        action="credential.updated",
        target=str(credential),
        **{name: {"from": before[name], "to": after[name]} for name in changed},
    )
    return changed


@transaction.atomic
def credential_rotate(*, credential: Credential, actor: User) -> str:
    """A new secret for the same username; the old secret stops working at once."""
    secret = tokens.generate_secret()
    credential.secret_prefix = tokens.display_prefix(secret)
    credential.secret_hash = tokens.secret_hash(secret)
    credential.rotated_at = timezone.now()
    credential.save(update_fields=["secret_prefix", "secret_hash", "rotated_at"])
    page_cache.team_changed(credential.team_id, credentials=True)
    audit(team=credential.team, actor=actor, action="credential.rotated", target=str(credential))
    return secret


@transaction.atomic
def credential_revoke(*, credential: Credential, actor: User) -> None:
    """Stop the credential at once. Revoking twice changes nothing and logs nothing."""
    updated = Credential.objects.filter(pk=credential.pk, revoked_at=None).update(revoked_at=timezone.now())
    credential.refresh_from_db(fields=["revoked_at"])
    if updated:
        page_cache.team_changed(credential.team_id, credentials=True)
        audit(team=credential.team, actor=actor, action="credential.revoked", target=str(credential))


@lru_cache(maxsize=4096)
def _networks(allowed: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for entry in allowed:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except (ValueError, TypeError):
            continue  # the form never stores one; a hand-edited row must not let everyone in
    return tuple(networks)


def ip_allowed(allowed: list[str], peer_ip: str | None) -> bool:
    """True when the allow-list is empty or holds the peer's address (single addresses or CIDR ranges)."""
    if not allowed:
        return True
    address = _peer_address(peer_ip or "")
    if address is None:
        return False
    return any(address in network for network in _networks(tuple(allowed)))


@lru_cache(maxsize=4096)
def _peer_address(peer_ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(peer_ip)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:192.0.2.1 from a dual-stack listener is 192.0.2.1
    return address


# The columns authenticate() reads, in one hand-written query: the ORM's query compilation costs ten times the
# SQLite lookup itself, and this runs on every SMTP login. The returned Credential defers the other fields.
_AUTH_FIELDS = (
    "id",
    "team",
    "username",
    "secret_hash",
    "all_domains",
    "revoked_at",
    "expires_at",
    "allowed_ips",
    "last_used_at",
    "last_used_ip",
)
_SECRET_HASH_INDEX = [f.name for f in Credential._meta.concrete_fields if f.name in _AUTH_FIELDS].index("secret_hash")
_Converters = list[tuple[list[Callable[..., Any]], Any]]
_auth_queries: dict[str, tuple[str, list[str], _Converters]] = {}


def _auth_query(connection: BaseDatabaseWrapper) -> tuple[str, list[str], _Converters]:
    cached = _auth_queries.get(connection.alias)
    if cached is None:
        # In model order, as Model.from_db() expects for a partial row.
        fields = [f for f in Credential._meta.concrete_fields if f.name in _AUTH_FIELDS]
        quote = connection.ops.quote_name
        # Only our own model's quoted names go into the text; the username is a parameter.
        sql = "SELECT {} FROM {} WHERE {} = %s".format(  # noqa: S608
            ", ".join(quote(f.column) for f in fields),
            quote(Credential._meta.db_table),
            quote(Credential._meta.get_field("username").column),
        )
        converters = []
        for f in fields:
            col = f.get_col(Credential._meta.db_table)
            converters.append(([*connection.ops.get_db_converters(col), *f.get_db_converters(connection)], col))
        cached = _auth_queries[connection.alias] = (sql, [f.attname for f in fields], converters)
    return cached


def _fetch_for_auth(username: str) -> tuple[Any, ...] | None:
    connection = connections[Credential.objects.db]
    sql, _, _ = _auth_query(connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [username])
        return cursor.fetchone()


def _credential_from_row(row: tuple[Any, ...]) -> Credential:
    connection = connections[Credential.objects.db]
    _, attnames, converters = _auth_query(connection)
    values = []
    for value, (field_converters, col) in zip(row, converters, strict=True):
        for convert in field_converters:
            value = convert(value, col, connection)
        values.append(value)
    return Credential.from_db(Credential.objects.db, attnames, values)


def authenticate(username: str, password: str, peer_ip: str | None) -> Credential | None:
    """The credential for this SMTP login, or None. Refuses unknown, wrong-secret, revoked, expired and wrong-IP
    logins alike, and records the last use (at most once a minute)."""
    row = _fetch_for_auth(username) if username and len(username) <= 80 else None
    # The HMAC is computed whether or not the user exists, so an unknown user costs the same time.
    secret_ok = tokens.secret_matches(password or "", row[_SECRET_HASH_INDEX] if row else _UNKNOWN_USER_HASH)
    if row is None or not secret_ok:
        return None
    credential = _credential_from_row(row)
    now = timezone.now()
    if (
        credential.revoked_at is not None
        or (credential.expires_at is not None and credential.expires_at <= now)
        or not ip_allowed(credential.allowed_ips, peer_ip)
    ):
        return None
    if credential.last_used_at is None or now - credential.last_used_at >= LAST_USED_RESOLUTION:
        # Conditional, so that concurrent logins of the same credential write once between them.
        credential.last_used_at, credential.last_used_ip = now, _clean_ip(peer_ip)
        written = (
            Credential.objects.filter(pk=credential.pk)
            .filter(Q(last_used_at=None) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION))
            .update(last_used_at=now, last_used_ip=credential.last_used_ip)
        )
        if written:  # the credential list shows when it was last used
            page_cache.team_changed(credential.team_id, credentials=True)
    return credential


def _clean_ip(peer_ip: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(peer_ip or ""))
    except ValueError:
        return None


def domain_of(address: str) -> str:
    """The domain of an email address as stored for a Domain: A-label, lowercase, no trailing dot."""
    domain = address.strip().strip("<>").rpartition("@")[2].strip().rstrip(".").lower()
    if not domain.isascii():
        try:
            import idna

            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError:
            return ""
    return domain


def credential_domains(credential: Credential) -> list[Domain]:
    """The verified domains this credential may send from, by name."""
    verified = Domain.objects.for_team(credential.team).verified()
    if not credential.all_domains:
        verified = verified.filter(pk__in=credential.domains.values("pk"))
    return list(verified.order_by("name"))


def authorized_sender(credential: Credential, address: str) -> bool:
    """May this credential send as `address`? Its domain must be verified and in scope; a verified domain's
    subdomains are not included unless they are added as domains of their own."""
    if not credential.is_active:
        return False
    if "@" not in address:
        return False
    domain = domain_of(address)
    if not domain:
        return False
    verified = Domain.objects.filter(team_id=credential.team_id).verified().filter(name=domain)
    if not credential.all_domains:
        verified = verified.filter(credentials=credential)
    return verified.exists()


# ---- the list page


LIST_PAGE_SIZE = 50
_PK_SLOT = 987654321  # stands in for a pk in a URL reversed once per page


def _url_former(name: str, team_slug: str) -> Callable[[int], str]:
    """A function pk -> URL of `name` for this team: one reverse() per page instead of one per row."""
    from django.urls import reverse

    head, tail = reverse(name, args=[team_slug, _PK_SLOT]).rsplit(str(_PK_SLOT), 1)
    return lambda pk: f"{head}{pk}{tail}"


def _day(value: datetime | None, fmt: str = "j M Y") -> str:
    """What the template's |date:fmt shows (in the current time zone), computed in Python."""
    from django.utils import dateformat

    return "" if value is None else dateformat.format(timezone.localtime(value), fmt)


def credential_list_page(team: Team, page_number: str | None):  # noqa: ANN201 - a Paginator Page
    """One page of the team's credentials (newest first, by id within the same instant) with what each row shows
    computed once here: status, dates, URLs, the domains it sends from."""
    from django.core.paginator import Paginator

    credentials = Credential.objects.for_team(team).select_related("created_by").order_by("-created_at", "-id")
    page = Paginator(credentials, LIST_PAGE_SIZE).get_page(page_number)
    page.object_list = list(page.object_list)
    # The scoped credentials' domain names in one query of plain tuples, in the domains' order (by name).
    scoped = [credential.pk for credential in page.object_list if not credential.all_domains]
    names: dict[int, list[str]] = {pk: [] for pk in scoped}
    if scoped:
        through = Credential.domains.through.objects.filter(credential_id__in=scoped)
        for credential_id, name in through.order_by("domain__name", "domain_id").values_list("credential_id", "domain__name"):
            names[credential_id].append(name)
    detail = _url_former("credentials:detail", team.slug)
    rotate = _url_former("credentials:rotate", team.slug)
    revoke = _url_former("credentials:revoke", team.slug)
    for credential in page.object_list:
        pk = credential.pk
        credential.row_status = status = credential.status
        credential.row_status_label = status[:1].upper() + status[1:]  # |capfirst
        credential.detail_url = detail(pk)
        credential.rotate_url = rotate(pk)
        credential.revoke_url = revoke(pk)
        credential.until = _day(credential.expires_at) if credential.expires_at and status == "active" else ""
        credential.ip_rules = len(credential.allowed_ips or ())
        credential.sends_from = "" if credential.all_domains else ", ".join(names[pk])
        credential.created_on = _day(credential.created_at)
        credential.creator = credential.created_by.display_name if credential.created_by else ""
        if credential.last_used_at:
            credential.last_used_on = _day(credential.last_used_at, "j M Y, H:i")
            # The exact time, not "3 minutes ago": the page is cached (mailsetup/page_cache.py) until it changes.
            credential.last_used_exactly = _day(credential.last_used_at, "j M Y, H:i:s T")
    return page
