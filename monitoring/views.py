"""Pages of the monitoring app: series with their anomaly counts, and one series' chart."""
from __future__ import annotations

from datetime import timedelta

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from core.models import Service
from monitoring.choices import SeriesKind
from monitoring.models import CapacityForecast, MetricSeries
from monitoring.selectors import series as series_selectors

# Ranges offered on the series page; the API takes any from/to/step.
RANGES = {"1h": timedelta(hours=1), "6h": timedelta(hours=6), "24h": timedelta(hours=24),
          "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_RANGE = "24h"


def index(request):
    params = request.GET
    series = series_selectors.series_list(
        service=params.get("service", ""), metric=params.get("metric", ""), kind=params.get("kind", "")
    )
    page = Paginator(series, 50).get_page(params.get("page"))
    return render(request, "monitoring/index.html", {
        "page": page,
        "services": Service.objects.order_by("name").values_list("name", flat=True),
        "kinds": SeriesKind.choices,
        "filters": {k: params.get(k, "") for k in ("service", "metric", "kind")},
        "recent_anomalies": series_selectors.anomaly_list(since=timezone.now() - timedelta(days=7))[:20],
    })


def series_detail(request, pk: int):
    series = get_object_or_404(MetricSeries.objects.select_related("service", "capacity_forecast"), pk=pk)
    chosen = params_range = request.GET.get("range", DEFAULT_RANGE)
    if params_range not in RANGES:
        chosen = DEFAULT_RANGE
    end = timezone.now()
    # With no recent data (a quiet or historical series), show the chosen range up to its last point.
    last = series_selectors.series_last_points(series_id=series.pk, n=1)
    if last and last[0][0] < end - RANGES[chosen]:
        end = last[0][0] + timedelta(seconds=1)
    start = end - RANGES[chosen]
    window = series_selectors.series_window(series=series, start=start, end=end)
    anomalies = list(series_selectors.anomaly_list(series_id=series.pk).filter(ts__gte=start, ts__lt=end)[:500])
    chart = {
        "t": [t * 1000 for t in window.t], "mean": window.mean, "min": window.min, "max": window.max,
        "expected": window.expected, "lower": window.lower, "upper": window.upper,
        "anomalies": [{"x": a.ts.timestamp() * 1000, "y": a.value, "score": a.score} for a in anomalies],
        "unit": series.unit,
        "projection": _projection(series),
    }
    return render(request, "monitoring/series.html", {
        "series": series, "forecast": getattr(series, "capacity_forecast", None),
        "window": window, "chart": chart, "anomalies": anomalies[:100],
        "ranges": list(RANGES), "chosen": chosen, "start": start, "end": end,
    })


def _projection(series: MetricSeries) -> dict | None:
    """The capacity forecast's projected line to the limit (issue 13), for the chart; None without one."""
    forecast = CapacityForecast.objects.filter(series=series).first()
    if forecast is None:
        return None
    start = forecast.computed_at.timestamp() * 1000
    hours = forecast.projection.get("hours", [])
    return {"t": [start + h * 3_600_000 for h in hours], "mean": forecast.projection.get("mean", []),
            "upper": forecast.projection.get("upper", []), "limit": forecast.limit}
