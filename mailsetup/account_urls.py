"""Accounts and team URLs (placeholder wiring; views in mailsetup/views.py)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("teams/new/", views.team_create, name="team_create"),
    path("t/<slug:team_slug>/", views.team_home, name="team_home"),
    path("t/<slug:team_slug>/members/", views.members, name="members"),
]
