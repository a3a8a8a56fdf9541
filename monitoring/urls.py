"""Page routes of the monitoring app."""
from __future__ import annotations

from django.urls import path

from . import views

app_name = "monitoring"
urlpatterns = [
    path("", views.index, name="index"),
    path("series/<int:pk>/", views.series_detail, name="series"),
]
