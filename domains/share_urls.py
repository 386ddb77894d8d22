"""Public, token-protected URLs: the read-only records page for a DNS admin without an account."""

from django.urls import path

from . import views

app_name = "share"

urlpatterns = [
    path("<str:token>/", views.shared_records, name="records"),
    path("<str:token>/records.zone", views.shared_zone, name="zone"),
    path("<str:token>/records.csv", views.shared_csv, name="csv"),
]
