"""Routes of the models_registry API (mounted under /api/v1/)."""
from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import cost_views, monitor_views, views

router = SimpleRouter()
router.register("models", views.RegisteredModelViewSet, basename="registered-model")

urlpatterns: list = [
    path("models/<slug:name>/predict", views.PredictView.as_view(), name="model-predict"),
    path("models/<slug:name>/actuals", views.ActualsView.as_view(), name="model-actuals"),
    path("training-runs/", views.TrainingRunListView.as_view(), name="training-run-list"),
    path("training-runs/<int:pk>/", views.TrainingRunDetailView.as_view(), name="training-run-detail"),
    path("monitors/", monitor_views.MonitorResultListView.as_view(), name="monitor-result-list"),
    path("monitors/runs/", monitor_views.MonitorRunListCreateView.as_view(), name="monitor-run-list"),
    path("monitors/runs/<int:pk>/", monitor_views.MonitorRunDetailView.as_view(), name="monitor-run-detail"),
    path("costs/", cost_views.CostEntryListCreateView.as_view(), name="cost-entry-list"),
    path("costs/<int:pk>/", cost_views.CostEntryDetailView.as_view(), name="cost-entry-detail"),
    path("costs/imports/", cost_views.CostImportListCreateView.as_view(), name="cost-import-list"),
    path("roi-report", cost_views.RoiReportView.as_view(), name="roi-report"),
    *router.urls,
]
