"""SMTP credential pages: list, issue, the one-time reveal, snippets per client (with downloads), rotate, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from domains.models import Domain
from mailsetup import page_cache
from mailsetup.permissions import Perm, TeamAccess, get_team_object, team_view

from . import services, snippets, tokens
from .forms import CredentialForm
from .models import Credential

# Session key holding {credential pk: sealed secret} between issue/rotate and the reveal page.
REVEAL_SESSION_KEY = "credentials.reveal"


def _stash_for_reveal(request: HttpRequest, credential: Credential, secret: str) -> None:
    pending = dict(request.session.get(REVEAL_SESSION_KEY, {}))
    pending[str(credential.pk)] = tokens.seal_for_reveal(secret)
    request.session[REVEAL_SESSION_KEY] = pending


def _take_for_reveal(request: HttpRequest, credential: Credential) -> str | None:
    """The secret waiting for this credential's reveal, removed from the session: it is shown once."""
    pending = dict(request.session.get(REVEAL_SESSION_KEY, {}))
    sealed = pending.pop(str(credential.pk), None)
    if sealed is None:
        return None
    if pending:
        request.session[REVEAL_SESSION_KEY] = pending
    else:
        del request.session[REVEAL_SESSION_KEY]
    return tokens.unseal_for_reveal(sealed)


def _credentials(access: TeamAccess) -> QuerySet[Credential]:
    return Credential.objects.for_team(access.team).select_related("created_by").prefetch_related("domains")


@require_GET
@team_view(Perm.VIEW)
def credential_list(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    team = access.team
    requested_page = request.GET.get("page", "1")

    def render_page() -> HttpResponse:
        can_edit = access.can_edit
        page = services.credential_list_page(team, requested_page)
        response = render(
            request,
            "credentials/credential_list.html",
            {
                "access": access,
                "team": team,
                "page": page,
                "can_edit": can_edit,
                "has_verified_domain": Domain.objects.for_team(team).verified().exists(),
            },
        )
        response.page_cache = str(page.number) == requested_page  # not ?page=x or 999
        # Right until the first credential shown as active expires.
        now = timezone.now()
        expiries = [c.expires_at for c in page.object_list if c.row_status == "active" and c.expires_at and c.expires_at > now]
        response.fresh_until = min(expiries, default=None)
        return response

    # The list shows the team's verified domains too (whether any, and the names a credential sends from).
    key = ("credentials", team.credentials_version, team.domains_version, requested_page)
    return page_cache.serve(request, access, key, render_page)


@require_http_methods(["GET", "POST"])
@team_view(Perm.EDIT)
def credential_issue(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    team = access.team
    has_verified_domain = Domain.objects.for_team(team).verified().exists()
    form = CredentialForm(request.POST or None, team=team)
    if request.method == "POST" and has_verified_domain and form.is_valid():
        data = form.cleaned_data
        credential, secret = services.credential_issue(
            team=team,
            actor=request.user,
            label=data["label"],
            all_domains=data["scope"] == CredentialForm.SCOPE_ALL,
            domains=list(data["domains"]),
            expires_at=form.expires_at,
            allowed_ips=data["allowed_ips"],
        )
        _stash_for_reveal(request, credential, secret)
        url = reverse("credentials:reveal", args=[team.slug, credential.pk])
        if request.htmx:
            # A whole new page, not a fragment to swap into the form.
            return HttpResponseClientRedirect(url)
        return redirect(url)
    context = {"access": access, "team": team, "form": form, "has_verified_domain": has_verified_domain}
    if request.htmx and request.method == "POST":
        return render(request, "credentials/credential_issue.html#issue-form", context)
    return render(request, "credentials/credential_issue.html", context)


@require_http_methods(["GET", "POST"])
@team_view(Perm.EDIT)
def credential_edit(request: HttpRequest, access: TeamAccess, pk: int) -> HttpResponse:
    """Change label, scope, expiry and IP allow-list; the secret stays as it is."""
    credential = get_team_object(Credential.objects.prefetch_related("domains"), access.team, pk=pk)
    detail_url = reverse("credentials:detail", args=[access.team.slug, credential.pk])
    if credential.revoked_at is not None:
        messages.error(request, "This credential is revoked and cannot be changed; issue a new one instead.")
        return redirect(detail_url)
    form = CredentialForm(request.POST if request.method == "POST" else None, team=access.team, credential=credential)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changed = services.credential_update(
            credential=credential,
            actor=request.user,
            label=data["label"],
            all_domains=data["scope"] == CredentialForm.SCOPE_ALL,
            domains=list(data["domains"]),
            expires_at=form.expires_at,
            allowed_ips=data["allowed_ips"],
        )
        messages.success(request, "Saved. The secret has not changed." if changed else "Nothing to change.")
        if request.htmx:
            return HttpResponseClientRedirect(detail_url)
        return redirect(detail_url)
    context = {"access": access, "team": access.team, "credential": credential, "form": form}
    if request.htmx and request.method == "POST":
        return render(request, "credentials/credential_edit.html#edit-form", context)
    return render(request, "credentials/credential_edit.html", context)


@never_cache
@require_GET
@team_view(Perm.EDIT)
def credential_reveal(request: HttpRequest, access: TeamAccess, pk: int) -> HttpResponse:
    credential = get_team_object(Credential.objects.all(), access.team, pk=pk)
    secret = _take_for_reveal(request, credential)
    domains = [d.name for d in services.credential_domains(credential)]
    context: dict[str, object] = {"access": access, "team": access.team, "credential": credential, "secret": secret}
    if secret is not None:
        snippet_context = snippets.snippet_context(credential=credential, domains=domains, secret=secret)
        context.update(
            snippets=snippets.render_all(snippet_context),
            ports=snippets.smtp_ports(),
            clients=snippets.CLIENTS,
            host=snippet_context["host"],
            from_address=snippet_context["from_address"],
        )
    return render(request, "credentials/credential_reveal.html", context)


@require_GET
@team_view(Perm.VIEW)
def credential_detail(request: HttpRequest, access: TeamAccess, pk: int) -> HttpResponse:
    credential = get_team_object(_credentials(access), access.team, pk=pk)
    client = snippets.CLIENTS_BY_SLUG.get(request.GET.get("client", ""), snippets.CLIENTS[0])
    domains = [d.name for d in services.credential_domains(credential)]
    snippet_context = snippets.snippet_context(credential=credential, domains=domains)
    context = {
        "access": access,
        "team": access.team,
        "credential": credential,
        "domains": domains,
        "clients": snippets.CLIENTS,
        "client": client,
        "snippet": snippets.render_snippet(client, snippet_context),
        "ports": snippets.smtp_ports(),
        "host": snippet_context["host"],
        "from_address": snippet_context["from_address"],
    }
    if request.htmx:
        return render(request, "credentials/credential_detail.html#snippet-panel", context)
    return render(request, "credentials/credential_detail.html", context)


@require_GET
@team_view(Perm.VIEW)
def credential_snippet_download(request: HttpRequest, access: TeamAccess, pk: int, client: str) -> HttpResponse:
    """One snippet as a file. Never with the secret: the placeholder stands in for it."""
    credential = get_team_object(Credential.objects.all(), access.team, pk=pk)
    chosen = snippets.CLIENTS_BY_SLUG.get(client)
    if chosen is None:
        raise Http404("No such client")
    domains = [d.name for d in services.credential_domains(credential)]
    text = snippets.render_snippet(chosen, snippets.snippet_context(credential=credential, domains=domains))
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{chosen.filename}"'
    return response


@require_POST
@team_view(Perm.EDIT)
def credential_rotate(request: HttpRequest, access: TeamAccess, pk: int) -> HttpResponse:
    credential = get_team_object(Credential.objects.all(), access.team, pk=pk)
    if not credential.is_active:
        messages.error(request, f"This credential is {credential.status}; issue a new one instead.")
        return redirect("credentials:detail", access.team.slug, credential.pk)
    secret = services.credential_rotate(credential=credential, actor=request.user)
    _stash_for_reveal(request, credential, secret)
    return redirect("credentials:reveal", access.team.slug, credential.pk)


@require_POST
@team_view(Perm.EDIT)
def credential_revoke(request: HttpRequest, access: TeamAccess, pk: int) -> HttpResponse:
    credential = get_team_object(Credential.objects.all(), access.team, pk=pk)
    services.credential_revoke(credential=credential, actor=request.user)
    messages.success(request, f"Revoked “{credential.label}”: it no longer logs in.")
    next_url = reverse("credentials:list", args=[access.team.slug])
    if request.POST.get("next") == "detail":
        next_url = reverse("credentials:detail", args=[access.team.slug, credential.pk])
    return redirect(next_url)
