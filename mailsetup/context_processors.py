"""Template context shared by every page: the user's teams and the current one, for the team switcher."""

from django.http import HttpRequest

from .permissions import user_memberships


def teams(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    memberships = user_memberships(request)
    slug = None
    if request.resolver_match is not None:
        slug = request.resolver_match.kwargs.get("team_slug")
    slug = slug or request.session.get("current_team")
    current = next((m for m in memberships if m.team.slug == slug), memberships[0] if memberships else None)
    return {"my_memberships": memberships, "current_membership": current, "current_team": current.team if current else None}
