"""Domain views: the team's list with the add form, a domain's records page, exports, deletion, share links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mailsetup import page_cache
from mailsetup.permissions import Perm, TeamAccess, get_team_object, get_team_row, team_view

from . import services, verification
from .exports import records_csv, zone_fragment
from .forms import DomainCreateForm, DomainDeleteForm, ShareLinkForm
from .models import DkimKeyState, Domain, DomainStatus, ShareLink

PAGE_SIZE = 50


_PK_SLOT = 987654321  # stands in for a pk in a URL reversed once per page


def _list_context(request: HttpRequest, access: TeamAccess, form: DomainCreateForm | None) -> dict:
    paginator = Paginator(services.domains_for_list(access.team), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    # What each row shows, computed once here rather than by tags and filters per row: the detail URL (reversed
    # once, the pk put in), the name shown, the status label, the day it was added.
    head, tail = reverse("domains:detail", args=[access.team.slug, _PK_SLOT]).rsplit(str(_PK_SLOT), 1)
    labels = dict(DomainStatus.choices)
    for domain in page.object_list:
        domain.expected_count = services.records_expected_count(domain.published_keys)
        domain.detail_url = f"{head}{domain.pk}{tail}"
        domain.shown_name = domain.unicode_name or domain.name
        domain.a_label_note = domain.name if domain.unicode_name and domain.unicode_name != domain.name else ""
        domain.status_label = labels.get(domain.status, domain.status)
        domain.added_on = dateformat.format(timezone.localtime(domain.created_at), "j M Y")
    return {"access": access, "team": access.team, "page": page, "form": form}


@require_GET
@team_view(Perm.VIEW)
def domain_list(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    def render_page() -> HttpResponse:
        form = DomainCreateForm(team=access.team) if access.can_edit else None
        context = _list_context(request, access, form)
        response = render(request, "domains/domain_list.html", context)
        response.page_cache = str(context["page"].number) == request.GET.get("page", "1")  # not ?page=x or 999
        return response

    return page_cache.serve(request, access, ("domains", access.team.domains_version, request.GET.get("page", "1")), render_page)


@require_http_methods(["GET", "POST"])
@team_view(Perm.EDIT)
def domain_add(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    form = DomainCreateForm(request.POST if request.method == "POST" else None, team=access.team)
    if request.method == "POST" and form.is_valid():
        try:
            domain = services.domain_create(
                team=access.team,
                name=form.cleaned_data["name"],
                actor=request.user,
                dkim_key_type=form.cleaned_data["dkim_key_type"],
                return_path_label=form.cleaned_data["return_path_label"],
            )
        except IntegrityError:
            # Someone added the same name between the form's check and the insert.
            form.add_error("name", "Your team already has this domain.")
        else:
            messages.success(request, f"Added {domain.display_name}. Publish the records below; we check them for you.")
            url = reverse("domains:detail", args=[access.team.slug, domain.pk])
            if request.htmx:
                return HttpResponse(status=204, headers={"HX-Redirect": url})
            return redirect(url)
    if request.htmx:
        return render(request, "domains/domain_list.html#add-form", {"access": access, "team": access.team, "form": form})
    return render(request, "domains/domain_list.html", _list_context(request, access, form))


def _detail_context(access: TeamAccess, domain: Domain, now: datetime | None = None, **extra: object) -> dict:
    links = list(domain.share_links.all()) if access.can_edit else []
    # Loaded once: services.records_for (the records table) reads the same keys from this cache.
    prefetch_related_objects([domain], "dkim_keys")
    keys = list(domain.dkim_keys.all())
    return {
        "dkim_keys": [key for key in keys if key.state != DkimKeyState.RETIRED],
        "previous_keys": [key for key in keys if key.state == DkimKeyState.RETIRED],
        "rotation_in_progress": any(key.state == DkimKeyState.NEXT for key in keys),
        "access": access,
        "team": access.team,
        "domain": domain,
        "rows": services.domain_record_rows(domain),
        "share_links": links,
        "share_form": ShareLinkForm(),
        **verification.domain_panel_context(domain, now),  # polling while a check is due, and the records' history
        **extra,
    }


def _domain(access: TeamAccess, domain_id: int) -> Domain:
    domain = get_team_object(Domain.objects.all(), access.team, pk=domain_id)
    domain.team = access.team  # the same row, already loaded: no join
    return domain


@require_GET
@team_view(Perm.VIEW)
def domain_detail(request: HttpRequest, access: TeamAccess, domain_id: int) -> HttpResponse:
    # Cached under the team's domains_version, raised by every change to any of its domains: served from the cache,
    # the page costs no query of its own. (Only a domain of this team was ever rendered under that key; deleting one
    # raises the version, so a deleted domain is a 404 again.)
    def render_page() -> HttpResponse:
        domain = get_team_row(Domain, access.team, domain_id)
        now = timezone.now()
        context = _detail_context(access, domain, now)
        response = render(request, "domains/domain_detail.html", context)
        # Right until the words about the time change (domain_clock_until) or an active share link expires.
        expiries = [link.expires_at for link in context["share_links"] if link.revoked_at is None and link.expires_at > now]
        response.fresh_until = min([verification.domain_clock_until(domain, now), *expiries])
        return response

    return page_cache.serve(request, access, ("domain", access.team.domains_version, domain_id), render_page)


@require_GET
@team_view(Perm.VIEW)
def domain_records(request: HttpRequest, access: TeamAccess, domain_id: int) -> HttpResponse:
    """The records panel alone (for htmx); without htmx, the whole page."""
    domain = _domain(access, domain_id)
    template = "domains/domain_detail.html#records-panel" if request.htmx else "domains/domain_detail.html"
    return render(request, template, _detail_context(access, domain))


def _download(content: str, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def zone_response(domain: Domain) -> HttpResponse:
    body = zone_fragment(domain.name, services.records_for(domain))
    return _download(body, f"{domain.name}.zone", "text/dns; charset=utf-8")


def csv_response(domain: Domain) -> HttpResponse:
    return _download(records_csv(services.records_for(domain)), f"{domain.name}-records.csv", "text/csv; charset=utf-8")


@require_GET
@team_view(Perm.VIEW)
def domain_export_zone(request: HttpRequest, access: TeamAccess, domain_id: int) -> HttpResponse:
    return zone_response(_domain(access, domain_id))


@require_GET
@team_view(Perm.VIEW)
def domain_export_csv(request: HttpRequest, access: TeamAccess, domain_id: int) -> HttpResponse:
    return csv_response(_domain(access, domain_id))


@require_http_methods(["GET", "POST"])
@team_view(Perm.EDIT)
def domain_delete(request: HttpRequest, access: TeamAccess, domain_id: int) -> HttpResponse:
    domain = _domain(access, domain_id)
    if request.method == "POST":
        form = DomainDeleteForm(request.POST, domain=domain)
        if form.is_valid():
            shown = domain.display_name
            services.domain_delete(domain=domain, actor=request.user)
            messages.success(request, f"Deleted {shown}.")
            url = reverse("domains:list", args=[access.team.slug])
            if request.htmx:
                return HttpResponse(status=204, headers={"HX-Redirect": url})
            return redirect(url)
    else:
        form = DomainDeleteForm(domain=domain)
    return render(request, "domains/domain_delete.html", {"access": access, "team": access.team, "domain": domain, "form": form})


@require_POST
@team_view(Perm.EDIT)
def share_link_create(request: HttpRequest, access: TeamAccess, domain_id: int) -> HttpResponse:
    domain = _domain(access, domain_id)
    form = ShareLinkForm(request.POST)
    extra: dict[str, object] = {}
    if form.is_valid():
        new = services.share_link_create(domain=domain, actor=request.user, days=form.cleaned_data["days"])
        # The token is in this response only: the database keeps its hash.
        extra["new_share_url"] = request.build_absolute_uri(reverse("share:records", args=[new.token]))
        extra["new_share_link"] = new.link
    context = _detail_context(access, domain, **extra)
    if not form.is_valid():
        context["share_form"] = form
    template = "domains/domain_detail.html#share-panel" if request.htmx else "domains/domain_detail.html"
    return render(request, template, context)


@require_POST
@team_view(Perm.EDIT)
def share_link_revoke(request: HttpRequest, access: TeamAccess, domain_id: int, link_id: int) -> HttpResponse:
    domain = _domain(access, domain_id)
    try:
        link = ShareLink.objects.select_related("domain__team").get(domain=domain, pk=link_id)
    except ShareLink.DoesNotExist:
        raise Http404("No such share link") from None
    services.share_link_revoke(link=link, actor=request.user)
    if request.htmx:
        return render(request, "domains/domain_detail.html#share-panel", _detail_context(access, domain))
    messages.success(request, "The share link is revoked: it no longer opens.")
    return redirect(reverse("domains:detail", args=[access.team.slug, domain.pk]) + "#share")


# ---- public, token-protected pages (share_urls.py)


def _gone(request: HttpRequest) -> HttpResponse:
    response = render(request, "domains/share_gone.html", {"current_team": None, "my_memberships": []}, status=410)
    # Django logs every 4xx with its path, and this path carries a token: keep it out of the log.
    response._has_been_logged = True
    return response


@require_GET
def shared_records(request: HttpRequest, token: str) -> HttpResponse:
    link = services.share_link_lookup(token)
    if link is None or not link.is_active:
        return _gone(request)
    domain = link.domain
    context = {
        "domain": domain,
        "rows": services.domain_record_rows(domain),
        "link": link,
        "token": token,
        "current_team": None,
        "my_memberships": [],
    }
    response = render(request, "domains/share.html", context)
    # The token is in the URL: keep it out of Referer headers and caches.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_GET
def shared_zone(request: HttpRequest, token: str) -> HttpResponse:
    link = services.share_link_lookup(token)
    if link is None or not link.is_active:
        return _gone(request)
    return zone_response(link.domain)


@require_GET
def shared_csv(request: HttpRequest, token: str) -> HttpResponse:
    link = services.share_link_lookup(token)
    if link is None or not link.is_active:
        return _gone(request)
    return csv_response(link.domain)


# ---- verification (the background checks): Check now


@require_POST
@team_view(Perm.EDIT)
def domain_check_now(request: HttpRequest, access: TeamAccess, domain_id: int) -> HttpResponse:
    """Check the domain at once (restart it when failed); refused with a message when asked again within seconds."""
    domain = _domain(access, domain_id)
    refused = ""
    try:
        verification.domain_check_now(domain=domain, actor=request.user)
    except verification.CheckNowRefused as exc:
        refused = str(exc)
    if request.htmx:
        return render(request, "domains/domain_detail.html#records-panel", _detail_context(access, domain, check_refused=refused))
    if refused:
        messages.warning(request, refused)
    else:
        messages.success(request, f"Checking {domain.name} now.")
    return redirect(reverse("domains:detail", args=[access.team.slug, domain.pk]) + "#records-panel")


# ---- DKIM key rotation


def _rotation_step(request: HttpRequest, access: TeamAccess, domain_id: int, step: Callable[[Domain], str]) -> HttpResponse:
    """Run a rotation service on the domain (`step` returns the message of success); back to the keys."""
    domain = _domain(access, domain_id)
    try:
        messages.success(request, step(domain))
    except Domain.DoesNotExist:  # deleted since it was read above
        raise Http404("Not found") from None
    except services.DkimRotationRefused as exc:
        messages.warning(request, str(exc))
    url = reverse("domains:detail", args=[access.team.slug, domain.pk]) + "#dkim-keys"
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return redirect(url)


@require_POST
@team_view(Perm.EDIT)
def dkim_rotate(request: HttpRequest, access: TeamAccess, domain_id: int) -> HttpResponse:
    """Start a rotation: new keys to publish beside the current ones; signing moves once DNS shows them."""

    def start(domain: Domain) -> str:
        keys = services.dkim_rotation_start(domain=domain, actor=request.user)
        s = "s" if len(keys) != 1 else ""
        return (
            f"New DKIM key{s} ({', '.join(key.selector for key in keys)}): publish the record{s} marked “New key” "
            "below. We switch signing once we find them; the current key keeps signing until then."
        )

    return _rotation_step(request, access, domain_id, start)


@require_POST
@team_view(Perm.EDIT)
def dkim_rotation_cancel(request: HttpRequest, access: TeamAccess, domain_id: int) -> HttpResponse:
    """Withdraw the new keys of a rotation that has not switched signing yet."""

    def cancel(domain: Domain) -> str:
        selectors = services.dkim_rotation_cancel(domain=domain, actor=request.user)
        many = len(selectors) != 1
        return (
            f"Rotation cancelled: the new key{'s' if many else ''} ({', '.join(selectors)}) {'are' if many else 'is'} "
            f"deleted and the current key{'s' if many else ''} go on signing. If you published the new record, you "
            "can remove it from DNS."
        )

    return _rotation_step(request, access, domain_id, cancel)
