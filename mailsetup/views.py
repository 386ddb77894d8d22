"""Accounts and team views (placeholders until the foundation issue lands)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .permissions import Perm, TeamAccess, team_view


@login_required
def home(request: HttpRequest) -> HttpResponse:
    membership = request.user.memberships.select_related("team").first()
    if membership is None:
        return redirect("team_create")
    return redirect("team_home", membership.team.slug)


def signup(request: HttpRequest) -> HttpResponse:
    return HttpResponse("TODO")


@login_required
def team_create(request: HttpRequest) -> HttpResponse:
    return HttpResponse("TODO")


@team_view(Perm.VIEW)
def team_home(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    return render(request, "mailsetup/team_home.html", {"access": access, "team": access.team})


@team_view(Perm.VIEW)
def members(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    return HttpResponse("TODO")
