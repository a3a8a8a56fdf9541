"""Page routes of the incidents app."""
from __future__ import annotations

from django.urls import path

from . import views

app_name = "incidents"
urlpatterns = [path("", views.index, name="index")]
