"""Reads of series, points (downsampled, with the detector's expected band) and anomalies."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from monitoring.detection.base import Detector
from monitoring.detection.engine import score_series
from monitoring.detection.registry import UnknownDetector, get_detector
from monitoring.models import Anomaly, MetricSeries, Point, PointRollup

logger = logging.getLogger(__name__)

MAX_BUCKETS = 2_000  # a chart cannot show more; also bounds the response size
DEFAULT_BUCKETS = 500
# Points before `from` replayed through a fresh detector so the band is warmed up at `from`.
BAND_WARMUP_POINTS = 2_000
MAX_RAW_POINTS = 200_000  # a wider range reads rollups only (bounded memory per request)


def series_detector(series: MetricSeries) -> Detector:
    """The series' detector (the chart's band and the detect drain use the same one)."""
    try:
        return get_detector(series.detector or None)
    except UnknownDetector:
        # A detector removed from the code base must not stop the series being watched.
        logger.warning("series %s names unknown detector %r; using the default", series.pk, series.detector)
        return get_detector(None)


def series_list(*, service: str = "", metric: str = "", kind: str = "", since: datetime | None = None) -> QuerySet:
    """Series with `anomaly_count` (since `since`, default the last 24 h) and `anomaly_total`."""
    since = since or timezone.now() - timedelta(hours=24)
    qs = MetricSeries.objects.select_related("service")
    if service:
        qs = qs.filter(service__name=service)
    if metric:
        qs = qs.filter(metric__icontains=metric)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.annotate(
        anomaly_count=Count("anomalies", filter=Q(anomalies__ts__gte=since)),
        anomaly_total=Count("anomalies"),
    ).order_by("-anomaly_count", "service__name", "metric", "id")


def anomaly_list(*, series_id: int | None = None, service: str = "", since: datetime | None = None) -> QuerySet:
    qs = Anomaly.objects.select_related("series", "series__service")
    if series_id is not None:
        qs = qs.filter(series_id=series_id)
    if service:
        qs = qs.filter(series__service__name=service)
    if since is not None:
        qs = qs.filter(ts__gte=since)
    return qs.order_by("-ts", "-id")


def series_last_points(*, series_id: int, n: int) -> list[tuple[datetime, float]]:
    """The last `n` points, oldest first (served by the (series, ts) key, read backwards)."""
    rows = list(Point.objects.filter(series_id=series_id).order_by("-ts").values_list("ts", "value")[:n])
    rows.reverse()
    return rows


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesWindow:
    start: datetime
    end: datetime
    step: float  # seconds per bucket
    t: list[float]  # bucket start, epoch seconds
    mean: list[float]
    min: list[float]
    max: list[float]
    count: list[int]
    expected: list[float | None]
    lower: list[float | None]
    upper: list[float | None]
    raw_points: int
    from_rollups: bool


def _points_arrays(series_id: int, start: datetime | None, end: datetime, limit: int | None = None,
                   newest: bool = False) -> tuple[np.ndarray, np.ndarray]:
    points = Point.objects.filter(series_id=series_id, ts__lt=end)
    if start is not None:
        points = points.filter(ts__gte=start)
    pairs = points.order_by("-ts" if newest else "ts").values_list("ts", "value")
    if limit:
        pairs = pairs[:limit]
    rows = [(t.timestamp(), v) for t, v in pairs]
    if newest:
        rows.reverse()
    if not rows:
        return np.zeros(0), np.zeros(0)
    arr = np.asarray(rows, dtype=np.float64)
    return arr[:, 0], arr[:, 1]


def series_window(*, series: MetricSeries, start: datetime, end: datetime, step: float | None = None) -> SeriesWindow:
    """Values between start and end in buckets of `step` seconds (mean/min/max/count), with the
    detector's expected band recomputed causally (warmed up on the points before `start`)."""
    span = max((end - start).total_seconds(), 1.0)
    if not step or step <= 0:
        step = span / DEFAULT_BUCKETS
    step = max(float(step), span / MAX_BUCKETS)
    ts, values = _points_arrays(series.pk, start, end, limit=MAX_RAW_POINTS)
    from_rollups = False
    expected = lower = upper = None
    if ts.shape[0]:
        warm_ts, warm_values = _points_arrays(series.pk, None, start, limit=BAND_WARMUP_POINTS, newest=True)
        detector = series_detector(series)
        all_ts = np.concatenate([warm_ts, ts])
        all_values = np.concatenate([warm_values, values])
        result, _ = score_series(detector=detector, state=detector.initial_state(), timestamps=all_ts,
                                 values=all_values)
        expected = result.expected[warm_ts.shape[0]:]
        lower = result.lower[warm_ts.shape[0]:]
        upper = result.upper[warm_ts.shape[0]:]
    # Hours whose raw points were expired are drawn from their rollups.
    first_raw = ts[0] if ts.shape[0] else end.timestamp()
    rollups = list(
        PointRollup.objects.filter(
            series_id=series.pk, hour__gte=start - timedelta(hours=1),
            hour__lt=datetime.fromtimestamp(first_raw, tz=UTC),
        ).order_by("hour").values_list("hour", "min", "max", "mean", "count")
    )
    t0 = start.timestamp()
    buckets = int(np.ceil(span / step))
    mean = np.full(buckets, np.nan)
    lo = np.full(buckets, np.nan)
    hi = np.full(buckets, np.nan)
    count = np.zeros(buckets, dtype=np.int64)
    band = [np.full(buckets, np.nan) for _ in range(3)]
    if rollups:
        from_rollups = True
        r_t = np.array([h.timestamp() + 1800 for h, *_ in rollups])
        keep = (r_t >= t0) & (r_t < end.timestamp())
        idx = ((r_t[keep] - t0) // step).astype(np.int64)
        r = np.array([[a, b, c, d] for _, a, b, c, d in rollups], dtype=np.float64)[keep]
        _accumulate(idx, r[:, 2] * r[:, 3], r[:, 3].astype(np.int64), r[:, 0], r[:, 1], mean, count, lo, hi)
    if ts.shape[0]:
        idx = np.minimum(((ts - t0) // step).astype(np.int64), buckets - 1)
        _accumulate(idx, values, np.ones_like(idx), values, values, mean, count, lo, hi)
        for target, source in zip(band, (expected, lower, upper), strict=False):
            sums = np.bincount(idx, weights=source, minlength=buckets)
            n = np.bincount(idx, minlength=buckets)
            with np.errstate(invalid="ignore", divide="ignore"):
                target[:] = np.where(n > 0, sums / np.maximum(n, 1), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, mean / np.maximum(count, 1), np.nan)
    present = count > 0
    t = (t0 + np.arange(buckets) * step)[present]

    def clean(a: np.ndarray) -> list:
        return [None if not np.isfinite(x) else float(x) for x in a[present]]

    return SeriesWindow(
        start=start, end=end, step=step, t=t.tolist(), mean=clean(mean), min=clean(lo), max=clean(hi),
        count=count[present].tolist(), expected=clean(band[0]), lower=clean(band[1]), upper=clean(band[2]),
        raw_points=int(ts.shape[0]), from_rollups=from_rollups,
    )


def _accumulate(idx, sums, counts, mins, maxs, mean, count, lo, hi) -> None:
    """Add samples into buckets: `mean` holds running sums until the caller divides."""
    np.add.at(count, idx, counts)
    partial = np.bincount(idx, weights=sums, minlength=mean.shape[0])
    mean[:] = np.where(np.isnan(mean), 0.0, mean) + partial
    np.fmin.at(lo, idx, mins)
    np.fmax.at(hi, idx, maxs)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnomalySummary:
    series: int
    anomalies: int
    series_with_anomalies: int


def anomaly_summary(*, since: datetime) -> AnomalySummary:
    """Counts for the home page card."""
    recent = Anomaly.objects.filter(ts__gte=since)
    return AnomalySummary(
        series=MetricSeries.objects.count(), anomalies=recent.count(),
        series_with_anomalies=recent.values("series_id").distinct().count(),
    )
