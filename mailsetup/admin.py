"""The operator's admin: users, teams, memberships, invitations (never a token hash) and the read-only audit log."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest

from . import page_cache
from .models import AuditEvent, Invitation, Membership, Team, User


class RaisesTeamVersions:
    """For the admins of what the team pages show: an operator's save or deletion raises the team's page versions
    (mailsetup/page_cache.py), as the services do, so that no page cached before the edit is served after it."""

    def teams_of(self, obj: object) -> set[int]:
        team_id = getattr(obj, "team_id", None)
        return {team_id} if team_id is not None else {obj.domain.team_id}

    def _raise(self, teams: set[int]) -> None:
        page_cache.team_changed(*teams, domains=True, credentials=True)

    def save_model(self, request: HttpRequest, obj: object, form: object, change: bool) -> None:
        # The stored row's teams too: a change can move the object to another team (Domain.team is editable).
        before = self.teams_of(type(obj)._default_manager.get(pk=obj.pk)) if change else set()
        super().save_model(request, obj, form, change)
        self._raise(before | self.teams_of(obj))

    def delete_model(self, request: HttpRequest, obj: object) -> None:
        teams = self.teams_of(obj)
        super().delete_model(request, obj)
        self._raise(teams)

    def delete_queryset(self, request: HttpRequest, queryset: object) -> None:
        teams = set().union(*(self.teams_of(obj) for obj in queryset))
        super().delete_queryset(request, queryset)
        self._raise(teams)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(User)
class UserAdmin(RaisesTeamVersions, BaseUserAdmin):
    # A user's name and email show on their teams' pages (who created a credential, a share link), and on those of
    # teams they have left since: the credentials and share links they made stay.
    def teams_of(self, obj: User) -> set[int]:
        from credentials.models import Credential
        from domains.models import ShareLink

        return (
            set(Membership.objects.filter(user=obj).values_list("team_id", flat=True))
            | set(Credential.objects.filter(created_by=obj).values_list("team_id", flat=True))
            | set(ShareLink.objects.filter(created_by=obj).values_list("domain__team_id", flat=True))
        )

    ordering = ["email"]
    list_display = ["email", "name", "is_active", "is_staff", "date_joined", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser"]
    search_fields = ["email", "name"]
    readonly_fields = ["date_joined", "last_login"]
    fieldsets = [
        (None, {"fields": ["email", "name", "password"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["date_joined", "last_login"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "name", "password1", "password2"]})]
    filter_horizontal = ["groups", "user_permissions"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at", "member_count"]
    search_fields = ["name", "slug", "memberships__user__email"]
    list_filter = ["created_at"]
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]

    @admin.display(description="Members")
    def member_count(self, team: Team) -> int:
        return team.memberships.count()

    def save_model(self, request: HttpRequest, obj: Team, form: object, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Only what the form changed: saving the whole row would put back page versions raised since it was read.
        fields = [f.name for f in Team._meta.concrete_fields if f.name in form.changed_data]
        if fields:
            obj.save(update_fields=fields)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "team__name", "team__slug"]
    list_select_related = ["user", "team"]
    autocomplete_fields = ["user", "team"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "team", "role", "invited_by", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role", ("accepted_at", admin.EmptyFieldListFilter), ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["email", "team__name", "team__slug"]
    list_select_related = ["team", "invited_by"]
    # The token hash stays out of the admin entirely; invitations are made from the team's pages.
    fields = ["team", "email", "role", "invited_by", "created_at", "expires_at", "accepted_at", "revoked_at"]
    readonly_fields = ["team", "email", "invited_by", "created_at", "accepted_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "team", "actor_email", "action", "target"]
    list_filter = ["action", "created_at"]
    search_fields = ["actor_email", "target", "action", "team__name", "team__slug"]
    list_select_related = ["team"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
