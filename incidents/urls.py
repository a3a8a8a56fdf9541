"""Page routes of the incidents app."""
from __future__ import annotations

from django.urls import path

from . import views

app_name = "incidents"
urlpatterns = [
    path("", views.index, name="index"),
    path("noise/", views.noise, name="noise"),
    path("bulk/", views.bulk, name="bulk"),
    path("bulk/<int:op_id>/undo/", views.bulk_undo, name="bulk_undo"),
    path("storm/", views.storm, name="storm"),
    path("views/", views.queue_view_save, name="queue_view_save"),
    path("views/<int:view_id>/delete/", views.queue_view_delete, name="queue_view_delete"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/<slug:verb>/", views.act, name="act"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("notifications/preferences/", views.notification_preferences, name="notification_preferences"),
    path("<int:incident_id>/playbook/steps/<int:step_id>/done/", views.playbook_step_done,
         name="playbook_step_done"),
    path("<int:incident_id>/playbook/steps/<int:step_id>/run/", views.playbook_step_run,
         name="playbook_step_run"),
]
