from django.urls import path

from . import views

app_name = "domains"

urlpatterns = [
    path("", views.domain_list, name="list"),
    path("add/", views.domain_add, name="add"),
    path("<int:domain_id>/", views.domain_detail, name="detail"),
    path("<int:domain_id>/records/", views.domain_records, name="records"),
    path("<int:domain_id>/records.zone", views.domain_export_zone, name="export_zone"),
    path("<int:domain_id>/records.csv", views.domain_export_csv, name="export_csv"),
    path("<int:domain_id>/delete/", views.domain_delete, name="delete"),
    path("<int:domain_id>/share/", views.share_link_create, name="share_create"),
    path("<int:domain_id>/share/<int:link_id>/revoke/", views.share_link_revoke, name="share_revoke"),
    path("<int:domain_id>/check/", views.domain_check_now, name="check_now"),
    path("<int:domain_id>/dkim/rotate/", views.dkim_rotate, name="dkim_rotate"),
    path("<int:domain_id>/dkim/cancel/", views.dkim_rotation_cancel, name="dkim_rotation_cancel"),
]
