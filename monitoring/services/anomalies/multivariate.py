"""Joint scoring of a service's series scored in one run (pyod COPOD).

This is why detection is partitioned by service, not by series: the group is the service's series
scored in the same step, so one drain must score all of them.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from django.db import connection

from core.db import is_postgres
from monitoring.detection.base import DetectionResult
from monitoring.detection.multivariate import (
    MIN_HISTORY,
    MULTIVARIATE_THRESHOLD,
    MultivariateInputError,
    multivariate_score,
    series_align,
)
from monitoring.models import Anomaly, MetricSeries, Point
from monitoring.selectors.series import series_detector

from .records import Found, anomaly_row

# A service's series scored in one run are also scored jointly (pyod's COPOD): rows
# unusual across several metrics at once, even when no single metric crossed its own threshold.
MV_MAX_SERIES = 16  # wider services are left to the univariate path (cost grows with d, and so does noise)
MV_HISTORY_POINTS = 600  # reference rows per series: ten hours at a one-minute cadence
# A joint outlier counts only when at least two series carry it AND each of them is already
# leaning unusual on its own (half its threshold): rank-based joint scores alone fire about once
# per reference-length of rows by chance, which would page a busy service daily.
MV_MIN_CONTRIBUTORS = 2
MV_UNIVARIATE_SUPPORT = 0.5


@dataclass(frozen=True, slots=True)
class _Run:
    """A series with points scored in this run: its new points and their univariate result."""

    found: Found
    ts: np.ndarray
    values: np.ndarray
    result: DetectionResult

    @property
    def series(self) -> MetricSeries:
        return self.found.series

    @property
    def rows(self) -> list[Anomaly]:
        return self.found.rows

    @property
    def threshold(self) -> float:
        return self.found.threshold


def _multivariate(found: list[Found], *, watermarks: dict[int, datetime | None]) -> None:
    by_service: dict[int, list[_Run]] = defaultdict(list)
    for f in found:
        # History is what was scored before this run; a new series has none to compare with.
        scored = f.result is not None and f.ts is not None and f.values is not None
        if scored and watermarks.get(f.series.pk) is not None:
            assert f.ts is not None and f.values is not None and f.result is not None  # for the type checker
            by_service[f.series.service_id].append(_Run(f, f.ts, f.values, f.result))
    # A joint row needs MV_MIN_CONTRIBUTORS series leaning unusual on their own, so a service
    # with fewer such series in this run cannot produce one: skip its (costly) pyod fit.
    groups = [
        g for g in by_service.values()
        if 2 <= len(g) <= MV_MAX_SERIES and sum(
            bool((f.result.scores >= MV_UNIVARIATE_SUPPORT * f.threshold).any()) for f in g
        ) >= MV_MIN_CONTRIBUTORS
    ]
    if not groups:
        return
    history = _history_points(
        {f.series.pk: w for g in groups for f in g if (w := watermarks[f.series.pk]) is not None}
    )
    for group in groups:
        try:
            _multivariate_service(group, history)
        except MultivariateInputError:
            continue  # too little aligned history yet: the univariate path still ran


def _multivariate_service(group: list[_Run], history: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:
    run_start = min(float(f.ts[0]) for f in group)
    series_data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    steps: list[float] = []
    for f in group:
        h_ts, h_values = history.get(f.series.pk, (np.zeros(0), np.zeros(0)))
        series_data[str(f.series.pk)] = (np.concatenate([h_ts, f.ts]), np.concatenate([h_values, f.values]))
        all_ts = series_data[str(f.series.pk)][0]
        if all_ts.shape[0] > 1:
            steps.append(float(np.median(np.diff(all_ts))))
    if not steps or min(steps) <= 0:
        return
    names, stamps, matrix = series_align(series=series_data, step=max(steps))
    recent = stamps >= np.floor(run_start / max(steps)) * max(steps)
    history_rows = ~recent
    if history_rows.sum() < MIN_HISTORY:
        return
    # Only rows where enough series lean unusual can yield a joint anomaly: score just those
    # (pyod scores recent rows one at a time, so this bounds the cost to the interesting rows).
    step = max(steps)
    leaning = np.zeros(stamps.shape[0], dtype=np.int64)
    for f in group:
        bucket = np.floor(f.ts / step) * step
        hot = bucket[f.result.scores >= MV_UNIVARIATE_SUPPORT * f.threshold]
        leaning += np.isin(stamps, np.unique(hot))
    candidates = recent & (leaning >= MV_MIN_CONTRIBUTORS)
    if not candidates.any():
        return
    result = multivariate_score(history=matrix[history_rows], recent=matrix[candidates], names=names)
    by_name = {str(f.series.pk): f for f in group}
    recent_stamps = stamps[candidates]
    for row in np.flatnonzero(result.scores >= MULTIVARIATE_THRESHOLD).tolist():
        supported = []
        for name, share in result.contributors(row):
            f = by_name[name]
            i = _point_in_bucket(f.ts, recent_stamps[row], max(steps))
            if i is not None and f.result.scores[i] >= MV_UNIVARIATE_SUPPORT * f.threshold:
                supported.append((f, i, share))
        if len(supported) < MV_MIN_CONTRIBUTORS:
            continue
        names_text = ", ".join(f.series.metric for f, _, _ in supported)
        for f, i, share in supported:
            ts = datetime.fromtimestamp(float(f.ts[i]), tz=UTC)
            existing = next((r for r in f.rows if r.ts == ts), None)
            if existing is not None:
                existing.multivariate = True
                continue
            detector = series_detector(f.series)
            row_anomaly = anomaly_row(f.series, detector, f.result, i, float(f.ts[i]), float(f.values[i]), f.threshold)
            row_anomaly.score = float(result.scores[row])
            row_anomaly.multivariate = True
            row_anomaly.reasons = [
                (f"joint score {result.scores[row]:.2f} across {names_text} (multivariate COPOD); "
                 f"{share:.0%} of it from this series"),
                *row_anomaly.reasons[1:],
            ]
            f.rows.append(row_anomaly)
            f.rows.sort(key=lambda r: r.ts)


def _point_in_bucket(ts: np.ndarray, bucket: float, step: float) -> int | None:
    i = int(np.searchsorted(ts, bucket + step, side="left")) - 1
    return i if i >= 0 and ts[i] >= bucket else None


def _history_points(until: dict[int, datetime]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The last MV_HISTORY_POINTS points of each series up to its given time (one query on PostgreSQL)."""
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if is_postgres():
        ids = list(until)
        with connection.cursor() as cursor:
            # LATERAL + LIMIT walks each series' (series, ts) key backwards: N rows per series read.
            cursor.execute(
                "SELECT v.id, EXTRACT(EPOCH FROM p.ts)::float8, p.value "
                "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, until) CROSS JOIN LATERAL ("
                f"  SELECT ts, value FROM {Point._meta.db_table} WHERE series_id = v.id AND ts <= v.until "
                "  ORDER BY ts DESC LIMIT %s) p",
                [ids, [until[i] for i in ids], MV_HISTORY_POINTS],
            )
            rows = cursor.fetchall()
        grouped: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for sid, t, v in rows:
            grouped[sid].append((t, v))
        for sid, pairs in grouped.items():
            pairs.sort()
            arr = np.asarray(pairs, dtype=np.float64)
            out[sid] = (arr[:, 0], arr[:, 1])
        return out
    for sid, cutoff in until.items():
        rows = list(
            Point.objects.filter(series_id=sid, ts__lte=cutoff).order_by("-ts")
            .values_list("ts", "value")[:MV_HISTORY_POINTS]
        )
        rows.reverse()
        out[sid] = (np.array([t.timestamp() for t, _ in rows]), np.array([v for _, v in rows], dtype=np.float64))
    return out


