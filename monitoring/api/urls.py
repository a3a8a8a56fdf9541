"""Routes of the monitoring API (mounted under /api/v1/)."""
from __future__ import annotations

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("series", views.MetricSeriesViewSet, basename="series")
router.register("anomalies", views.AnomalyViewSet, basename="anomaly")

urlpatterns: list = [
    path("telemetry", views.TelemetryView.as_view(), name="telemetry"),
    # Alert intake: agents post to the exact URL configured, with or without a trailing slash.
    re_path(r"^integrations/alertmanager/?$", views.AlertmanagerWebhookView.as_view(), name="integration-alertmanager"),
    re_path(r"^integrations/grafana/?$", views.GrafanaWebhookView.as_view(), name="integration-grafana"),
    # PagerDuty Events v2: `.../pagerduty/v2/enqueue` is the documented URL; clients that append
    # `/v2/enqueue` to a configured base (pdpyras) or omit it (a base URL) land here too.
    re_path(
        r"^integrations/pagerduty(?:/v2)?(?:/enqueue)?(?:/v2/enqueue)?/?$",
        views.PagerDutyEnqueueView.as_view(),
        name="integration-pagerduty",
    ),
    *router.urls,
]
