"""Credential views (placeholder)."""

from django.http import HttpRequest, HttpResponse

from mailsetup.permissions import Perm, TeamAccess, team_view


@team_view(Perm.VIEW)
def credential_list(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    return HttpResponse("TODO")
