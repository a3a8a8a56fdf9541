"""Page routes of the incidents app."""
from __future__ import annotations

from django.urls import path

from . import views, views_playbook, views_silences

app_name = "incidents"
urlpatterns = [
    path("", views.index, name="index"),
    path("noise/", views.noise, name="noise"),
    # issue 12: silences (views_silences.py)
    path("silences/", views_silences.silence_list, name="silences"),
    path("silences/create/", views_silences.silence_create, name="silence_create"),
    path("silences/preview/", views_silences.silence_preview, name="silence_preview"),
    path("silences/<int:pk>/expire/", views_silences.silence_expire, name="silence_expire"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/<slug:verb>/", views.act, name="act"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("notifications/preferences/", views.notification_preferences, name="notification_preferences"),
    # issue 12: a step owned by a role is ticked by that role (views_playbook.py; views.playbook_step_done retired)
    path("<int:incident_id>/playbook/steps/<int:step_id>/done/", views_playbook.playbook_step_done,
         name="playbook_step_done"),
    path("<int:incident_id>/playbook/skip-open/", views_playbook.playbook_steps_skip, name="playbook_steps_skip"),
    path("<int:incident_id>/playbook/steps/<int:step_id>/run/", views.playbook_step_run,
         name="playbook_step_run"),
]
