"""URL map: pages, the versioned API, OTLP, health endpoints and the admin."""
from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views
from .reports import api as reports_api
from .reports import views as reports_views

api_v1: list = [
    path("", include("core.api.urls")),
    path("", include("incidents.api.urls")),
    path("", include("monitoring.api.urls")),
    path("", include("models_registry.api.urls")),
    path("reports/", reports_api.ReportListView.as_view(), name="api-report-list"),
    path("reports/<slug:name>/", reports_api.ReportDetailView.as_view(), name="api-report-detail"),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("", views.home, name="home"),
    # issue 12: pages without base.html (admin, API docs) make browsers ask for /favicon.ico.
    path("favicon.ico", views.favicon, name="favicon"),
    path("reports/", reports_views.reports_index, name="reports"),
    path("reports/<slug:name>/", reports_views.report_detail, name="report-detail"),
    path("reports/<slug:name>.csv", reports_views.report_csv, name="report-csv"),
    path("reports/<slug:name>/subscription/", reports_views.report_subscription, name="report-subscription"),
    path("metrics", views.metrics, name="metrics"),
    path("drills/", views.drills, name="drills"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script from /api/docs/?script, not inline, so the
    # Content-Security-Policy needs no inline scripts.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("incidents/", include("incidents.urls")),
    path("monitoring/", include("monitoring.urls")),
    path("otlp/", include("monitoring.api.otlp_urls")),
    path("models/", include("models_registry.urls")),
]
