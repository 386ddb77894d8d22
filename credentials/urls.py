from django.urls import path

from . import views

app_name = "credentials"

urlpatterns = [
    path("", views.credential_list, name="list"),
    path("new/", views.credential_issue, name="issue"),
    path("<int:pk>/", views.credential_detail, name="detail"),
    path("<int:pk>/edit/", views.credential_edit, name="edit"),
    path("<int:pk>/reveal/", views.credential_reveal, name="reveal"),
    path("<int:pk>/rotate/", views.credential_rotate, name="rotate"),
    path("<int:pk>/revoke/", views.credential_revoke, name="revoke"),
    path("<int:pk>/snippets/<slug:client>/", views.credential_snippet_download, name="snippet_download"),
]
