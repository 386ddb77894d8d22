"""Accounts and team views: sign up, teams, members, invitations, the audit log and the team's home page.

Every team-scoped view goes through permissions.team_view; rules that need the database live in services.py.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from credentials.models import Credential
from domains.models import CheckStatus, Domain, DomainStatus, RecordCheck

from . import services
from .forms import InvitedSignupForm, InviteForm, RoleForm, SignupForm, TeamDeleteForm, TeamForm
from .models import AuditEvent, Invitation, Membership, Role, User
from .permissions import Perm, TeamAccess, get_team_object, team_view

AUDIT_PAGE_SIZE = 50
BACKEND = "mailsetup.backends.ModelBackendWithMemberships"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    memberships = request.user.memberships.select_related("team")
    membership = memberships.filter(team__slug=request.session.get("current_team", "")).first() or memberships.first()
    if membership is None:
        return redirect("team_create")
    return redirect("team_home", membership.team.slug)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user, team = services.user_signup(
            email=data["email"], password=data["password1"], name=data["name"], team_name=data["team_name"]
        )
        login(request, user, backend=BACKEND)
        messages.success(request, f"Welcome! Your team “{team.name}” is ready. Start by adding a sending domain.")
        return redirect("team_home", team.slug)
    return render(request, "registration/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = services.team_create(name=form.cleaned_data["name"], owner=request.user)
        messages.success(request, f"Team “{team.name}” created. You are its owner.")
        return redirect("team_home", team.slug)
    return render(request, "mailsetup/team_create.html", {"form": form})


def _team_progress(access: TeamAccess) -> dict[str, object]:
    """Where the team stands in the guided flow, in three queries whatever the number of domains."""
    team = access.team
    counts = Domain.objects.filter(team=team).aggregate(
        total=Count("id"),
        pending=Count("id", filter=Q(status=DomainStatus.PENDING)),
        verified=Count("id", filter=Q(status=DomainStatus.VERIFIED)),
        degraded=Count("id", filter=Q(status=DomainStatus.DEGRADED)),
        failed=Count("id", filter=Q(status=DomainStatus.FAILED)),
    )
    required = Q(key__startswith="dkim:") | Q(key="return_path")
    if settings.MAILSETUP_SPF_INCLUDE:
        required |= Q(key="spf")
    published = (
        RecordCheck.objects.filter(domain__team=team, status=CheckStatus.PASS)
        .filter(required)
        .values("domain_id")
        .distinct()
        .count()
    )
    credentials = Credential.objects.for_team(team).active().count()
    usable = counts["verified"] + counts["degraded"]
    domains_url = reverse("domains:list", args=[team.slug])
    credentials_url = reverse("credentials:list", args=[team.slug])
    steps = [
        {
            "title": "Add a sending domain",
            "done": counts["total"] > 0,
            "detail": f"{counts['total']} domain{'s' if counts['total'] != 1 else ''} added",
            "url": domains_url,
            "action": "Add a domain",
            "done_action": "Manage domains",
        },
        {
            "title": "Publish the DNS records",
            "done": published > 0,
            "detail": f"{published} domain{'s' if published != 1 else ''} with required records found in DNS",
            "url": domains_url,
            "action": "See the records to publish",
            "done_action": "See the records",
        },
        {
            "title": "Get a domain verified",
            "done": usable > 0,
            "detail": f"{usable} domain{'s' if usable != 1 else ''} verified"
            + (f" ({counts['degraded']} degraded: needs attention)" if counts["degraded"] else ""),
            "url": domains_url,
            "action": "Check verification",
            "done_action": "See domain status",
        },
        {
            "title": "Issue SMTP credentials",
            "done": credentials > 0,
            "detail": f"{credentials} active credential{'s' if credentials != 1 else ''}",
            "url": credentials_url,
            "action": "Issue credentials",
            "done_action": "Manage credentials",
        },
    ]
    next_step = next((step for step in steps if not step["done"]), None)
    return {"steps": steps, "next_step": next_step, "counts": counts, "credential_count": credentials}


@team_view(Perm.VIEW)
def team_home(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    context = {"access": access, "team": access.team, **_team_progress(access)}
    return render(request, "mailsetup/team_home.html", context)


@team_view(Perm.VIEW)
def members(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    memberships = access.team.memberships.select_related("user").order_by("user__email")
    context = {
        "access": access,
        "team": access.team,
        "memberships": memberships,
        "roles": Role.choices if access.can_own else [c for c in Role.choices if c[0] != Role.OWNER],
        "pending_count": Invitation.objects.pending().filter(team=access.team).count() if access.can_manage else 0,
    }
    return render(request, "mailsetup/members.html", context)


@team_view(Perm.MANAGE)
@require_POST
def member_change_role(request: HttpRequest, access: TeamAccess, membership_id: int) -> HttpResponse:
    membership = get_team_object(Membership.objects.select_related("user"), access.team, pk=membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles offered.")
        return redirect("members", access.team.slug)
    try:
        services.member_change_role(access=access, membership=membership, role=form.cleaned_data["role"])
    except services.TeamRuleError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{membership.user.email} is now {membership.get_role_display().lower()}.")
    return redirect("members", access.team.slug)


@team_view(Perm.MANAGE)
@require_POST
def member_remove(request: HttpRequest, access: TeamAccess, membership_id: int) -> HttpResponse:
    membership = get_team_object(Membership.objects.select_related("user"), access.team, pk=membership_id)
    if membership.pk == access.membership.pk:
        return redirect("team_leave", access.team.slug)
    try:
        services.member_remove(access=access, membership=membership)
    except services.TeamRuleError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{membership.user.email} was removed from the team.")
    return redirect("members", access.team.slug)


@team_view(Perm.VIEW)
@require_http_methods(["GET", "POST"])
def team_leave(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    if request.method == "POST":
        try:
            services.member_leave(access=access)
        except services.TeamRuleError as error:
            messages.error(request, str(error))
            return redirect("members", access.team.slug)
        request.session.pop("current_team", None)
        messages.success(request, f"You left {access.team.name}.")
        return redirect("home")
    return render(request, "mailsetup/team_leave.html", {"access": access, "team": access.team})


@team_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def invitations(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    form = InviteForm(request.POST or None, team=access.team, can_own=access.can_own)
    if request.method == "POST" and form.is_valid():
        invitation, _token = services.invitation_create(
            access=access, email=form.cleaned_data["email"], role=form.cleaned_data["role"]
        )
        messages.success(request, f"Invitation sent to {invitation.email}. The link works once, for 7 days.")
        if request.htmx:
            # A full page load shows the message and the new row in the list.
            return HttpResponseClientRedirect(reverse("invitations", args=[access.team.slug]))
        return redirect("invitations", access.team.slug)
    pending = Invitation.objects.pending().filter(team=access.team).select_related("invited_by")
    context = {"access": access, "team": access.team, "form": form, "pending": pending}
    if request.htmx and request.method == "POST":
        return render(request, "mailsetup/invitations.html#invite-form", context)
    return render(request, "mailsetup/invitations.html", context)


def _invitation_action(request: HttpRequest, access: TeamAccess, invitation_id: int, action: str) -> HttpResponse:
    invitation = get_team_object(Invitation.objects.all(), access.team, pk=invitation_id)
    try:
        if action == "revoke":
            services.invitation_revoke(access=access, invitation=invitation)
            messages.success(request, f"The invitation to {invitation.email} was revoked; its link no longer works.")
        else:
            services.invitation_resend(access=access, invitation=invitation)
            messages.success(request, f"A new link was sent to {invitation.email}; the old one no longer works.")
    except services.TeamRuleError as error:
        messages.error(request, str(error))
    return redirect("invitations", access.team.slug)


@team_view(Perm.MANAGE)
@require_POST
def invitation_revoke(request: HttpRequest, access: TeamAccess, invitation_id: int) -> HttpResponse:
    return _invitation_action(request, access, invitation_id, "revoke")


@team_view(Perm.MANAGE)
@require_POST
def invitation_resend(request: HttpRequest, access: TeamAccess, invitation_id: int) -> HttpResponse:
    return _invitation_action(request, access, invitation_id, "resend")


INVITATION_SESSION_KEY = "invitation_token"


@require_http_methods(["GET"])
def invitation_open(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link: keep the token in the session and move to a URL without it, so that it stays out of
    later requests' logs, the Referer header and the browser's history (Django's password reset does the same)."""
    request.session[INVITATION_SESSION_KEY] = token
    return redirect("invitation")


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest) -> HttpResponse:
    """Log in or sign up as the invited address, then join the team."""
    token = request.session.get(INVITATION_SESSION_KEY, "")
    invitation = services.invitation_for_token(token)
    if invitation is None:
        return render(request, "mailsetup/invitation_accept.html", {"invalid": True}, status=404)
    user = request.user if request.user.is_authenticated else None
    problem = services.invitation_problem(invitation, user)
    context: dict[str, object] = {"invitation": invitation, "problem": problem}
    if problem:
        return render(request, "mailsetup/invitation_accept.html", context)
    if user is not None:
        if request.method == "POST":
            try:
                services.invitation_accept(invitation=invitation, user=user)
            except services.TeamRuleError as error:
                context["problem"] = str(error)
                return render(request, "mailsetup/invitation_accept.html", context)
            request.session.pop(INVITATION_SESSION_KEY, None)
            messages.success(request, f"You joined {invitation.team.name} as {invitation.get_role_display().lower()}.")
            return redirect("team_home", invitation.team.slug)
        return render(request, "mailsetup/invitation_accept.html", context)
    if User.objects.filter(email__iexact=invitation.email).exists():
        context["login_url"] = f"{reverse('login')}?next={reverse('invitation')}"
        return render(request, "mailsetup/invitation_accept.html", context)
    form = InvitedSignupForm(request.POST or None, invitation=invitation)
    if request.method == "POST" and form.is_valid():
        try:
            new_user = services.invitation_signup(
                invitation=invitation, password=form.cleaned_data["password1"], name=form.cleaned_data["name"]
            )
        except services.TeamRuleError as error:
            context["problem"] = str(error)
            return render(request, "mailsetup/invitation_accept.html", context)
        login(request, new_user, backend=BACKEND)
        request.session.pop(INVITATION_SESSION_KEY, None)
        messages.success(request, f"Welcome! You joined {invitation.team.name}.")
        return redirect("team_home", invitation.team.slug)
    context["form"] = form
    return render(request, "mailsetup/invitation_accept.html", context)


@team_view(Perm.MANAGE)
@require_http_methods(["GET", "POST"])
def team_settings(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    form = TeamForm(request.POST or None, initial={"name": access.team.name})
    if request.method == "POST" and form.is_valid():
        services.team_rename(access=access, name=form.cleaned_data["name"])
        messages.success(request, "Team renamed.")
        return redirect("team_settings", access.team.slug)
    return render(request, "mailsetup/team_settings.html", {"access": access, "team": access.team, "form": form})


@team_view(Perm.OWN)
@require_http_methods(["GET", "POST"])
def team_delete(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    form = TeamDeleteForm(request.POST or None, team=access.team)
    if request.method == "POST" and form.is_valid():
        name = access.team.name
        services.team_delete(access=access)
        request.session.pop("current_team", None)
        messages.success(request, f"Team “{name}” and everything in it were deleted.")
        return redirect("home")
    return render(request, "mailsetup/team_delete.html", {"access": access, "team": access.team, "form": form})


@team_view(Perm.MANAGE)
def audit_log(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    events = AuditEvent.objects.filter(team=access.team).select_related("actor")
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "mailsetup/audit_log.html", {"access": access, "team": access.team, "page": page})
