from django.urls import path

from . import views

app_name = "credentials"

urlpatterns = [
    path("", views.credential_list, name="list"),
]
