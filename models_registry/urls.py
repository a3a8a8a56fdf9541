"""Page routes of the models_registry app."""
from __future__ import annotations

from django.urls import path

from . import operations_views, views

app_name = "models_registry"
urlpatterns = [
    path("", views.index, name="index"),
    # Before the model routes: "roi" is reserved, not a model name.
    path("roi/", views.roi, name="roi"),
    path("roi/csv", views.roi_csv, name="roi-csv"),
    # Model operations (issue #14); before "<slug:name>/" so these names are never read as models.
    path("at-risk/", operations_views.at_risk, name="at_risk"),
    path("at-risk/handled", operations_views.at_risk_handle, name="at_risk_handle"),
    path("weekly-report/", operations_views.weekly_report, name="weekly_report"),
    path("weekly-report/subscribe", operations_views.weekly_report_subscribe, name="weekly_report_subscribe"),
    path("<slug:name>/", views.detail, name="detail"),
    path("<slug:name>/retrain", views.retrain, name="retrain"),
    path("<slug:name>/rollback", views.rollback, name="rollback"),
    path("<slug:name>/shadow", operations_views.shadow, name="shadow"),
]
