"""Accounts and team URLs: Django's auth views with our templates and login form, teams, members, invitations."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views
from .forms import EmailAuthenticationForm

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=EmailAuthenticationForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("password/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("teams/new/", views.team_create, name="team_create"),
    path("invite/", views.invitation_accept, name="invitation"),
    path("invite/<str:token>/", views.invitation_open, name="invitation_accept"),
    path("t/<slug:team_slug>/", views.team_home, name="team_home"),
    path("t/<slug:team_slug>/members/", views.members, name="members"),
    path("t/<slug:team_slug>/members/<int:membership_id>/role/", views.member_change_role, name="member_change_role"),
    path("t/<slug:team_slug>/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("t/<slug:team_slug>/leave/", views.team_leave, name="team_leave"),
    path("t/<slug:team_slug>/invitations/", views.invitations, name="invitations"),
    path("t/<slug:team_slug>/invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("t/<slug:team_slug>/invitations/<int:invitation_id>/resend/", views.invitation_resend, name="invitation_resend"),
    path("t/<slug:team_slug>/settings/", views.team_settings, name="team_settings"),
    path("t/<slug:team_slug>/delete/", views.team_delete, name="team_delete"),
    path("t/<slug:team_slug>/audit/", views.audit_log, name="audit_log"),
]
