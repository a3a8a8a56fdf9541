"""Page routes of the incidents app."""
from __future__ import annotations

from django.urls import path

from . import views, views_response

app_name = "incidents"
urlpatterns = [
    path("", views.index, name="index"),
    path("noise/", views.noise, name="noise"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/<slug:verb>/", views.act, name="act"),
]
# Response side (playbooks, notifications): notify-eng.
urlpatterns += [
    path("notifications/", views_response.notification_list, name="notifications"),
    path("notifications/read/", views_response.notifications_read, name="notifications_read"),
    path("notifications/preferences/", views_response.notification_preferences, name="notification_preferences"),
    path("<int:incident_id>/playbook/steps/<int:step_id>/done/", views_response.playbook_step_done,
         name="playbook_step_done"),
    path("<int:incident_id>/playbook/steps/<int:step_id>/run/", views_response.playbook_step_run,
         name="playbook_step_run"),
]
