"""Page routes of the incidents app."""
from __future__ import annotations

from django.urls import path

from . import views, views_console, views_learning, views_playbook, views_silences

app_name = "incidents"
urlpatterns = [
    # Reviews, action items, cost (issue 11): before `<pk>/<verb>/`, which would take "review" as a verb.
    path("overdue/", views_learning.overdue, name="learning_overdue"),
    path("<int:pk>/review/", views_learning.review_page, name="review"),
    path("<int:pk>/review/start/", views_learning.review_start, name="review_start"),
    path("<int:pk>/review/save/", views_learning.review_save, name="review_save"),
    path("<int:pk>/review/status/", views_learning.review_status, name="review_status"),
    path("<int:pk>/review/events/<int:event_id>/", views_learning.review_mark, name="review_mark"),
    path("<int:pk>/review.md", views_learning.review_markdown, name="review_markdown"),
    path("<int:pk>/review/actions/", views_learning.action_item_add, name="action_item_add"),
    path("actions/<int:item_id>/status/", views_learning.action_item_status, name="action_item_status"),
    path("<int:pk>/cost/lines/", views_learning.cost_line_add, name="cost_line_add"),
    path("", views.index, name="index"),
    path("noise/", views.noise, name="noise"),
    # issue 12: silences (views_silences.py)
    path("silences/", views_silences.silence_list, name="silences"),
    path("silences/create/", views_silences.silence_create, name="silence_create"),
    path("silences/preview/", views_silences.silence_preview, name="silence_preview"),
    path("silences/<int:pk>/expire/", views_silences.silence_expire, name="silence_expire"),
    path("bulk/", views_console.bulk, name="bulk"),
    path("bulk/<int:op_id>/undo/", views_console.bulk_undo, name="bulk_undo"),
    path("storm/", views_console.storm, name="storm"),
    path("views/", views_console.queue_view_save, name="queue_view_save"),
    path("views/<int:view_id>/delete/", views_console.queue_view_delete, name="queue_view_delete"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/<slug:verb>/", views.act, name="act"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("notifications/preferences/", views.notification_preferences, name="notification_preferences"),
    # issue 12: a step owned by a role is ticked by that role (views_playbook.py)
    path("<int:incident_id>/playbook/steps/<int:step_id>/done/", views_playbook.playbook_step_done,
         name="playbook_step_done"),
    path("<int:incident_id>/playbook/skip-open/", views_playbook.playbook_steps_skip, name="playbook_steps_skip"),
    path("<int:incident_id>/playbook/steps/<int:step_id>/run/", views.playbook_step_run,
         name="playbook_step_run"),
]
