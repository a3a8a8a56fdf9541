"""Routes of the models_registry API (mounted under /api/v1/)."""
from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import cost_views, monitor_views, operations_views, views

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
    # Model operations (issue #14).
    path("models/<slug:name>/batch-jobs", operations_views.ModelBatchJobsView.as_view(), name="model-batch-jobs"),
    path("batch-jobs/<int:pk>/", operations_views.BatchJobDetailView.as_view(), name="batch-job-detail"),
    path("batch-jobs/<int:pk>/result", operations_views.BatchJobResultView.as_view(), name="batch-job-result"),
    path("at-risk/", operations_views.AtRiskListView.as_view(), name="at-risk-list"),
    path("at-risk/handled", operations_views.AtRiskHandledView.as_view(), name="at-risk-handled"),
    path("at-risk/actuals", operations_views.AtRiskActualsView.as_view(), name="at-risk-actuals"),
    path("models/<slug:name>/shadow", operations_views.ModelShadowView.as_view(), name="model-shadow"),
    path("models/<slug:name>/shadow/decide", operations_views.ModelShadowDecideView.as_view(),
         name="model-shadow-decide"),
    path("model-reports/weekly", operations_views.WeeklyModelReportView.as_view(), name="model-weekly-report"),
    *router.urls,
]
