"""Streaming detection: score a series' new points with its detector, store anomalies, raise signals."""
from __future__ import annotations

import logging
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from incidents import services as incident_services
from incidents.signals import InvalidSignal, SignalIn
from monitoring.choices import Direction, SeriesKind
from monitoring.detection.base import DetectionResult, Detector
from monitoring.detection.engine import score_series
from monitoring.detection.multivariate import (
    MIN_HISTORY,
    MULTIVARIATE_THRESHOLD,
    MultivariateInputError,
    multivariate_score,
    series_align,
)
from monitoring.detection.registry import UnknownDetector, get_detector
from monitoring.models import Anomaly, MetricSeries, Point

logger = logging.getLogger(__name__)

# An anomaly episode ends (and its signal resolves) after this many normal points in a row:
# at a 1-minute cadence a quarter of an hour, long enough not to flap on one quiet point.
RESOLVE_AFTER_NORMAL = 15
# pg_advisory_xact_lock namespace for "detecting this series" (any constant unique in the project).
_LOCK_NAMESPACE = zlib.crc32(b"monitoring.series_detect") & 0x7FFFFFFF
SOURCE_KIND = "anomaly"


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectOutcome:
    series: int
    scored: int
    anomalies: int
    signals: int
    outcomes: tuple[str, ...] = ()


@dataclass(slots=True, kw_only=True)
class _Found:
    """Anomalies of one series in one run, to become signals."""

    series: MetricSeries
    rows: list[Anomaly] = field(default_factory=list)
    ts: np.ndarray | None = None  # the points scored in this run and their univariate result
    values: np.ndarray | None = None
    result: DetectionResult | None = None
    threshold: float = 1.0


def series_detect(*, series_ids: list[int]) -> DetectOutcome:
    """Score the points of `series_ids` newer than each series' last scored time, in time order.

    Points that arrive older than the last scored time are stored but not rescored: the
    detector is causal and its state has moved past them. Safe to run twice (the watermark
    and the unique (series, ts) of anomalies make a rerun a no-op).
    """
    ids = sorted(set(series_ids))
    # Clear the pending flag before reading, so points committed after this moment queue a
    # new task, and points committed before it are read by this one.
    MetricSeries.objects.filter(id__in=ids).update(detect_queued_at=None)
    with transaction.atomic():
        _lock_series(ids)
        series = list(MetricSeries.objects.filter(id__in=ids).select_related("service").order_by("id"))
        new_points = _unscored_points(series)
        found: list[_Found] = []
        scored = 0
        watermarks = {s.pk: s.last_scored_ts for s in series}  # before this run: history ends there
        for s in series:
            ts, values = new_points.get(s.pk, (None, None))
            if ts is None or ts.shape[0] == 0:
                continue
            scored += ts.shape[0]
            found.append(_score_one(s, ts, values))
        _series_save_state([f.series for f in found])
        _multivariate(found, watermarks=watermarks)
        rows = [row for f in found for row in f.rows]
        Anomaly.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        signals, outcomes = _raise_signals([f for f in found if f.rows], series)
    return DetectOutcome(series=len(series), scored=scored, anomalies=len(rows), signals=signals,
                         outcomes=tuple(outcomes))


def _lock_series(ids: list[int]) -> None:
    if connection.vendor != "postgresql" or not ids:
        return  # SQLite serialises writers itself
    with connection.cursor() as cursor:
        # Advisory locks (in id order, so two tasks never deadlock) serialise detection of a series
        # without row locks, which would make concurrent ingest of that series wait.
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, (s.id %% 2147483647)::int) FROM unnest(%s::bigint[]) AS s(id) ORDER BY s.id",
            [_LOCK_NAMESPACE, ids],
        )


_STATE_FIELDS = ("detector_state", "state_detector", "last_scored_ts", "open_direction", "normal_streak", "points_scored")


def _series_save_state(series: list[MetricSeries]) -> None:
    """Write the scored series' detector state back in one statement."""
    if not series:
        return
    if connection.vendor != "postgresql":
        MetricSeries.objects.bulk_update(series, list(_STATE_FIELDS), batch_size=500)
        return
    # Django's bulk_update builds a CASE per field and row (seconds for a few hundred rows);
    # an UPDATE ... FROM unnest(arrays) is one short statement whatever the row count.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {MetricSeries._meta.db_table} AS t SET detector_state = v.state, state_detector = v.detector, "
            "last_scored_ts = v.scored, open_direction = v.direction, normal_streak = v.streak, points_scored = v.n "
            "FROM unnest(%s::bigint[], %s::bytea[], %s::text[], %s::timestamptz[], %s::text[], %s::int[], %s::bigint[]) "
            "AS v(id, state, detector, scored, direction, streak, n) WHERE t.id = v.id",
            [
                [s.pk for s in series], [bytes(s.detector_state or b"") for s in series],
                [s.state_detector for s in series], [s.last_scored_ts for s in series],
                [s.open_direction for s in series], [s.normal_streak for s in series],
                [s.points_scored for s in series],
            ],
        )


def _unscored_points(series: list[MetricSeries]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    if not series:
        return {}
    ids = [s.pk for s in series]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT p.series_id, EXTRACT(EPOCH FROM p.ts)::float8, p.value FROM {Point._meta.db_table} p "
                f"JOIN {MetricSeries._meta.db_table} s ON s.id = p.series_id "
                "WHERE p.series_id = ANY(%s) AND (s.last_scored_ts IS NULL OR p.ts > s.last_scored_ts) "
                "ORDER BY p.series_id, p.ts",
                [ids],
            )
            rows = cursor.fetchall()
    else:
        rows = []
        for s in series:
            qs = Point.objects.filter(series_id=s.pk)
            if s.last_scored_ts is not None:
                qs = qs.filter(ts__gt=s.last_scored_ts)
            rows.extend((s.pk, t.timestamp(), v) for t, v in qs.order_by("ts").values_list("ts", "value"))
    if not rows:
        return {}
    arr = np.asarray(rows, dtype=np.float64)
    sid = arr[:, 0].astype(np.int64)
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    # rows are ordered by series then time: split at the series boundaries
    bounds = np.flatnonzero(np.diff(sid)) + 1
    for part in np.split(np.arange(sid.shape[0]), bounds):
        out[int(sid[part[0]])] = (arr[part, 1], arr[part, 2])
    return out


# series id -> (watermark, detector, state) of the last state this process wrote. Valid only
# while the stored watermark still equals it (no other worker scored the series since); a
# rolled-back run leaves a watermark that no longer matches, so a stale entry is never used.
_STATE_CACHE: dict[int, tuple[datetime | None, str, Any]] = {}
_STATE_CACHE_MAX = 50_000  # detector states are a few KB: bounded at ~100 MB per worker


def series_detector(series: MetricSeries) -> Detector:
    try:
        return get_detector(series.detector or None)
    except UnknownDetector:
        # A detector removed from the code base must not stop the series being watched.
        logger.warning("series %s names unknown detector %r; using the default", series.pk, series.detector)
        return get_detector(None)


def _score_one(series: MetricSeries, ts: np.ndarray, values: np.ndarray) -> _Found:
    detector = series_detector(series)
    cached = _STATE_CACHE.get(series.pk)
    if cached is not None and cached[0] == series.last_scored_ts and cached[1] == detector.name:
        state = cached[2]  # this process wrote the stored state last: skip decoding it
    elif series.detector_state and series.state_detector == detector.name:
        state = detector.load_state(bytes(series.detector_state))
    else:
        state = detector.initial_state()  # new series, or its detector was changed
    result, state = score_series(detector=detector, state=state, timestamps=ts, values=values)
    series.detector_state = detector.dump_state(state)
    series.state_detector = detector.name
    series.last_scored_ts = datetime.fromtimestamp(float(ts[-1]), tz=UTC)
    series.points_scored += int(ts.shape[0])
    if len(_STATE_CACHE) >= _STATE_CACHE_MAX:
        _STATE_CACHE.clear()
    _STATE_CACHE[series.pk] = (series.last_scored_ts, detector.name, state)
    threshold = series.threshold if series.threshold is not None else detector.default_threshold
    hits = np.flatnonzero(result.scores > threshold)
    found = _Found(series=series, ts=ts, values=values, result=result, threshold=threshold)
    for i in hits.tolist():
        found.rows.append(_anomaly(series, detector, result, i, float(ts[i]), float(values[i]), threshold))
    if found.rows:
        series.open_direction = found.rows[-1].direction
        series.normal_streak = int(ts.shape[0] - 1 - hits[-1])
    else:
        series.normal_streak += int(ts.shape[0])
    return found


def _anomaly(series, detector, result: DetectionResult, i: int, ts: float, value: float, threshold: float) -> Anomaly:
    expected, lower, upper = float(result.expected[i]), float(result.lower[i]), float(result.upper[i])
    direction = Direction.UP if value >= expected else Direction.DOWN
    reasons = [f"score {result.scores[i]:.2f} above threshold {threshold:.2f} ({detector.name})"]
    if value > upper:
        reasons.append(f"value {value:.4g} above the expected band [{lower:.4g}, {upper:.4g}]")
    elif value < lower:
        reasons.append(f"value {value:.4g} below the expected band [{lower:.4g}, {upper:.4g}]")
    else:
        reasons.append(f"value {value:.4g} inside the band but its pattern is unusual (expected {expected:.4g})")
    return Anomaly(
        series=series, ts=datetime.fromtimestamp(ts, tz=UTC), value=value,
        score=float(result.scores[i]), expected=expected, lower=lower, upper=upper, direction=direction,
        detector=detector.name, reasons=reasons,
    )


# --- multivariate -------------------------------------------------------------------------------------
# A service's series scored in one run are also scored jointly (detect-eng's pyod COPOD): rows
# unusual across several metrics at once, even when no single metric crossed its own threshold.
MV_MAX_SERIES = 16  # wider services are left to the univariate path (cost grows with d, and so does noise)
MV_HISTORY_POINTS = 600  # reference rows per series: ten hours at a one-minute cadence
# A joint outlier counts only when at least two series carry it AND each of them is already
# leaning unusual on its own (half its threshold): rank-based joint scores alone fire about once
# per reference-length of rows by chance, which would page a busy service daily.
MV_MIN_CONTRIBUTORS = 2
MV_UNIVARIATE_SUPPORT = 0.5


def _multivariate(found: list[_Found], *, watermarks: dict[int, datetime | None]) -> None:
    by_service: dict[int, list[_Found]] = defaultdict(list)
    for f in found:
        # History is what was scored before this run; a new series has none to compare with.
        if f.result is not None and watermarks.get(f.series.pk) is not None:
            by_service[f.series.service_id].append(f)
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
    history = _history_points({f.series.pk: watermarks[f.series.pk] for g in groups for f in g})
    for group in groups:
        try:
            _multivariate_service(group, history)
        except MultivariateInputError:
            continue  # too little aligned history yet: the univariate path still ran


def _multivariate_service(group: list[_Found], history: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:
    run_start = min(float(f.ts[0]) for f in group)
    series_data = {}
    steps = []
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
            row_anomaly = _anomaly(f.series, detector, f.result, i, float(f.ts[i]), float(f.values[i]), f.threshold)
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
    if connection.vendor == "postgresql":
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
            Point.objects.filter(series_id=sid, ts__lte=cutoff).order_by("-ts").values_list("ts", "value")[:MV_HISTORY_POINTS]
        )
        rows.reverse()
        out[sid] = (np.array([t.timestamp() for t, _ in rows]), np.array([v for _, v in rows], dtype=np.float64))
    return out


# --- signals ------------------------------------------------------------------------------------------
def series_fingerprint(series: MetricSeries, direction: str) -> str:
    return f"anomaly:series:{series.pk}:{direction}"


def service_fingerprint(service_id: int) -> str:
    return f"anomaly:service:{service_id}:multivariate"


def _series_link(series: MetricSeries) -> dict[str, str]:
    return {"href": f"{settings.SITE_URL}/monitoring/series/{series.pk}/", "text": f"Chart of {series.metric}"}


def _raise_signals(found: list[_Found], series: list[MetricSeries]) -> tuple[int, list[str]]:
    """One signal per series and direction, or ONE per service when several of its series are
    anomalous in the same run (a multivariate anomaly); resolutions for finished episodes."""
    max_age = timedelta(seconds=settings.ANOMALY_SIGNAL_MAX_AGE_SECONDS)
    horizon = timezone.now() - max_age
    signals: list[SignalIn] = []
    targets: list[list[Anomaly]] = []  # anomalies each signal stands for, to link them back
    by_service: dict[int, list[_Found]] = defaultdict(list)
    for f in found:
        recent = [row for row in f.rows if row.ts >= horizon]  # a backfill of old history stays quiet
        if recent:
            by_service[f.series.service_id].append(_Found(series=f.series, rows=recent))
    for group in by_service.values():
        if len(group) >= 2 or any(row.multivariate for f in group for row in f.rows):
            signals.append(_multivariate_signal(group))
            rows = [row for f in group for row in f.rows]
            for row in rows:
                row.multivariate = True
            targets.append(rows)
            continue
        f = group[0]
        for direction in (Direction.UP, Direction.DOWN):
            rows = [row for row in f.rows if row.direction == direction]
            if rows:
                signals.append(_series_signal(f.series, direction, rows))
                targets.append(rows)
    for s in series:
        if s.open_direction and s.normal_streak >= RESOLVE_AFTER_NORMAL:
            signals.append(SignalIn(
                source_kind=SOURCE_KIND, source_name="anomaly-detector", service=s.service.name,
                title=f"{s.metric} back to normal on {s.service.name}",
                fingerprint=series_fingerprint(s, s.open_direction), status="resolved",
                labels={"metric": s.metric, "direction": s.open_direction},
            ))
            targets.append([])
            s.open_direction = ""
            MetricSeries.objects.filter(pk=s.pk).update(open_direction="")
    if not signals:
        return 0, []
    try:
        results = incident_services.signals_ingest(signals=signals)
    except InvalidSignal:
        logger.exception("anomaly signals rejected by the incident core")
        return 0, []
    for rows, result in zip(targets, results):
        if rows:
            Anomaly.objects.filter(series_id__in={r.series_id for r in rows}, ts__in=[r.ts for r in rows]).update(
                alert_id=result.alert_id, incident_id=result.incident_id, multivariate=rows[0].multivariate,
            )
    return len(signals), [r.outcome for r in results]


def _labels(series: MetricSeries) -> dict[str, str]:
    labels = {f"label_{k}": str(v) for k, v in series.labels.items()}
    labels.update(metric=series.metric, kind=series.kind)
    return labels


def _kpis(series_list: list[MetricSeries]) -> list[str]:
    return [s.metric for s in series_list if s.kind in (SeriesKind.BUSINESS, SeriesKind.MODEL)]


def _series_signal(series: MetricSeries, direction: str, rows: list[Anomaly]) -> SignalIn:
    worst = max(rows, key=lambda r: r.score)
    last = rows[-1]
    word = "above" if direction == Direction.UP else "below"
    return SignalIn(
        source_kind=SOURCE_KIND, source_name=last.detector, service=series.service.name,
        title=f"{series.metric} {word} expected on {series.service.name}",
        fingerprint=series_fingerprint(series, direction),
        description="; ".join(worst.reasons),
        labels={**_labels(series), "direction": direction},
        occurred_at=last.ts,
        payload={
            "series_id": series.pk, "metric": series.metric, "labels": series.labels, "direction": direction,
            "points": len(rows), "detector": last.detector,
            "last": {"ts": last.ts.isoformat(), "value": last.value, "score": last.score, "expected": last.expected,
                     "lower": last.lower, "upper": last.upper},
            "max_score": worst.score,
        },
        links=[_series_link(series)],
        kpis=_kpis([series]),
    )


def _multivariate_signal(group: list[_Found]) -> SignalIn:
    service = group[0].series.service
    parts = []
    for f in group:
        worst = max(f.rows, key=lambda r: r.score)
        parts.append({
            "series_id": f.series.pk, "metric": f.series.metric, "labels": f.series.labels,
            "direction": worst.direction, "score": worst.score, "value": worst.value, "expected": worst.expected,
            "ts": worst.ts.isoformat(),
        })
    parts.sort(key=lambda p: -p["score"])
    names = ", ".join(sorted({p["metric"] for p in parts}))
    last_ts = max(row.ts for f in group for row in f.rows)
    return SignalIn(
        source_kind=SOURCE_KIND, source_name="anomaly-detector", service=service.name,
        title=f"{len(group)} metrics anomalous together on {service.name}: {names}"[:250],
        fingerprint=service_fingerprint(service.pk),
        description="; ".join(f"{p['metric']} {p['direction']} (score {p['score']:.2f})" for p in parts[:10]),
        labels={"multivariate": "true", "metrics": str(len(group))},
        occurred_at=last_ts,
        payload={"series": parts},
        links=[_series_link(f.series) for f in group[:5]],
        kpis=_kpis([f.series for f in group]),
    )
