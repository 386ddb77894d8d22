"""Root URLs. Team-scoped URLs live under /t/<team-slug>/."""

from django.contrib import admin
from django.urls import include, path

from mailsetup.health import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("mailsetup.account_urls")),
    path("t/<slug:team_slug>/domains/", include("domains.urls")),
    path("t/<slug:team_slug>/credentials/", include("credentials.urls")),
    path("share/", include("domains.share_urls")),
    path("healthz", healthz, name="healthz"),
]
