"""Page routes of the models_registry app."""
from __future__ import annotations

from django.urls import path

from . import views

app_name = "models_registry"
urlpatterns = [
    path("", views.index, name="index"),
    # Before the model routes: "roi" is reserved, not a model name.
    path("roi/", views.roi, name="roi"),
    path("roi/csv", views.roi_csv, name="roi-csv"),
    path("<slug:name>/", views.detail, name="detail"),
    path("<slug:name>/retrain", views.retrain, name="retrain"),
    path("<slug:name>/rollback", views.rollback, name="rollback"),
]
