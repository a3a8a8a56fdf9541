"""One detect step: claim queued series, score their new points in time order, store and raise anomalies.

Per step and in one transaction, every claimed series is scored from its watermark on, in time
order: one query reads the points of all of them, each series goes through its detector once,
one statement writes the watermarks back. Late points (older than the watermark) are scored in
order: the series is rescored from the newest stored state older than them. Anomalies the rescore
finds that were not found before are stored and raised; earlier ones stay. Points older than every
checkpoint are stored and not scored.
"""
from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from core.db import is_postgres
from core.drain import Lease
from monitoring.detection.base import DetectionResult
from monitoring.detection.engine import score_series
from monitoring.models import Anomaly, DetectQueue, MetricSeries, Point

from ..points import _PG_EPOCH_US
from .multivariate import _multivariate
from .records import Claim, DetectOutcome, Found, anomaly_row
from .signals import _raise_signals
from .state import (
    _STATE_CACHE,
    _STATE_CACHE_MAX,
    _STATE_COLUMNS,
    _Live,
    _load_states,
    _new_token,
    _Plan,
    _plan,
    _row_update,
    _series_write,
    series_states_persist,
)

# Queue rows claimed per detect step: all the series' new points are scored in one transaction
# (one point query, one state update), so a step should hold many series and many points each.
DETECT_STEP_POINTS = 100_000
DETECT_STEP_ROWS = 5_000


def telemetry_detect_step(*, max_points: int = DETECT_STEP_POINTS, partition: int | None = None,
                          lease: Lease | None = None) -> DetectOutcome:
    """Take queued points of many series (of `partition`, else of any) and score them in one
    transaction, each series from its watermark in time order (from a checkpoint when points
    arrived late). Idempotent: the queue rows are deleted by the transaction that scores them, so a
    failed step leaves them queued. With a drain's `lease`, the step commits only while it holds it."""
    live: dict[int, _Live] = {}
    with transaction.atomic():
        if lease is not None:
            lease.hold()
        claims = _detect_claim(max_points=max_points, partition=partition)
        if not claims:
            return DetectOutcome(series=0, scored=0, anomalies=0, signals=0)
        outcome = _detect(claims, live)
    # Only now (committed) may the next step start from these states.
    if len(_STATE_CACHE) + len(live) > _STATE_CACHE_MAX:
        series_states_persist()
        _STATE_CACHE.clear()
    _STATE_CACHE.update(live)
    return outcome



def _detect_claim(*, max_points: int, partition: int | None) -> dict[int, Claim]:
    table = DetectQueue._meta.db_table
    where, params = ("WHERE partition = %s", [partition]) if partition is not None else ("", [])
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM ("
            f"SELECT id, SUM(points) OVER (ORDER BY id) - points AS before FROM {table} {where} ORDER BY id LIMIT %s"
            ") AS q WHERE before < %s) RETURNING series_id, first_ts, last_ts",
            [*params, DETECT_STEP_ROWS, max_points],
        )
        rows = cursor.fetchall()
    claims: dict[int, Claim] = {}
    for series_id, first, last in rows:
        old = claims.get(series_id)
        if old is not None:
            first = None if first is None or old.first is None else min(first, old.first)
            last = None if last is None or old.last is None else max(last, old.last)
        claims[series_id] = Claim(first=first, last=last, rows=(old.rows if old else 0) + 1)
    return claims



# --- one step -------------------------------------------------------------------------------------
def _detect(claims: dict[int, Claim], live: dict[int, _Live]) -> DetectOutcome:
    series = list(
        MetricSeries.objects.filter(id__in=list(claims)).select_related("service")
        .defer(*_STATE_COLUMNS.values()).order_by("id")
    )
    plans = [_plan(s, claims[s.pk]) for s in series]
    _load_states(plans)
    points = _points_between([(p.series.pk, p.start_ts, p.until) for p in plans])
    found: list[Found] = []
    late_rows: list[tuple[_Plan, list[Anomaly]]] = []
    updates: list[dict] = []
    scored = rescored = 0
    watermarks = {p.series.pk: p.series.last_scored_ts for p in plans}  # before this run: history ends there
    now = time.monotonic()
    for plan in plans:
        s, detector = plan.series, plan.detector
        ts, values = points.get(s.pk, (_EMPTY, _EMPTY))
        if ts.shape[0]:
            result, state = score_series(detector=detector, state=plan.state, timestamps=ts, values=values)
        else:
            result, state = DetectionResult.empty(), plan.state
        scored += int(ts.shape[0])
        rescored += plan.late is not None
        old = plan.watermark if plan.watermark is not None else -math.inf
        new = ts > old  # points never scored before; the others are replayed
        threshold = s.threshold if s.threshold is not None else detector.default_threshold
        hits = np.flatnonzero(result.scores > threshold)
        f = Found(series=s, threshold=threshold)
        if new.any():
            first_new = int(np.argmax(new))
            f.ts, f.values = ts[first_new:], values[first_new:]
            f.result = DetectionResult(scores=result.scores[first_new:], expected=result.expected[first_new:],
                                       lower=result.lower[first_new:], upper=result.upper[first_new:])
        for i in hits.tolist():
            if new[i]:
                f.rows.append(anomaly_row(s, detector, result, i, float(ts[i]), float(values[i]), threshold))
        if plan.late is not None:
            replayed = [anomaly_row(s, detector, result, i, float(ts[i]), float(values[i]), threshold)
                        for i in hits.tolist() if not new[i]]
            if replayed:
                late_rows.append((plan, replayed))
        if f.ts is not None:
            found.append(f)
        watermark = max(old, float(ts[-1])) if ts.shape[0] else plan.watermark
        s.last_scored_ts = None if watermark is None else datetime.fromtimestamp(watermark, tz=UTC)
        s.points_scored = plan.start_scored + int(ts.shape[0])
        s.scored_token = _new_token()
        if f.rows:
            s.open_direction = f.rows[-1].direction
            s.normal_streak = int(ts.shape[0] - 1 - hits[-1])
        else:
            s.normal_streak += int(new.sum())
        entry = _Live(token=s.scored_token, detector=detector.name, state=state,
                      ts=watermark if watermark is not None else 0.0, scored=s.points_scored,
                      persisted_at=now, dirty=True)
        previous = _STATE_CACHE.get(s.pk)
        if plan.start_from == "live" and previous is not None:
            entry.persisted_at = previous.persisted_at
        # Written at once when other workers could not reproduce it from the row: after a rescore
        # or a detector change; otherwise when handing over, or every DETECT_STATE_PERSIST_SECONDS.
        persist = (plan.late is not None or plan.reset or not s.state_detector
                   or now - entry.persisted_at >= settings.DETECT_STATE_PERSIST_SECONDS)
        update = _row_update(plan, entry, persist=persist)
        update.update(direction=s.open_direction, streak=s.normal_streak)
        updates.append(update)
        live[s.pk] = entry
    _series_write(updates)
    _add_late_anomalies(found, late_rows)
    _multivariate(found, watermarks=watermarks)
    rows = [row for f in found for row in f.rows]
    Anomaly.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    signals, outcomes = _raise_signals([f for f in found if f.rows], series)
    return DetectOutcome(series=len(series), scored=scored, anomalies=len(rows), signals=signals,
                         outcomes=tuple(outcomes), claimed=sum(c.rows for c in claims.values()), rescored=rescored)


_EMPTY = np.empty(0, dtype=np.float64)


def _add_late_anomalies(found: list[Found], late_rows: list[tuple[_Plan, list[Anomaly]]]) -> None:
    """Anomalies among rescored points that were not anomalies before (a late point changed them)."""
    if not late_rows:
        return
    existing = set(
        Anomaly.objects.filter(series_id__in=[p.series.pk for p, _ in late_rows])
        .values_list("series_id", "ts")
    )
    by_series = {f.series.pk: f for f in found}
    for plan, rows in late_rows:
        fresh = [r for r in rows if (plan.series.pk, r.ts) not in existing]
        if not fresh:
            continue
        f = by_series.get(plan.series.pk)
        if f is None:
            f = Found(series=plan.series)
            found.append(f)
        f.rows = sorted(fresh + f.rows, key=lambda r: r.ts)
        if not plan.series.open_direction or f.rows[-1].ts == fresh[-1].ts:
            plan.series.open_direction = f.rows[-1].direction



def _points_between(ranges: list[tuple[int, float, float]]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Points of each series with start < ts <= end, in time order (one query on PostgreSQL)."""
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if not ranges:
        return out
    if is_postgres():
        ids, starts, ends = (list(x) for x in zip(*ranges, strict=False))
        with connection.cursor() as cursor:
            # One row per series with its times and values packed as raw big-endian bytes (the
            # aggregates see the rows in the same order): parsed by numpy without a per-point loop.
            cursor.execute(
                "SELECT v.id, string_agg(timestamptz_send(p.ts), ''::bytea), "
                "string_agg(float8send(p.value), ''::bytea) "
                f"FROM unnest(%s::bigint[], %s::float8[], %s::float8[]) AS v(id, lo, hi) JOIN {Point._meta.db_table} p "
                "ON p.series_id = v.id AND p.ts > to_timestamp(v.lo) AND p.ts <= to_timestamp(v.hi) GROUP BY v.id",
                [ids, starts, ends],
            )
            for series_id, ts_bytes, value_bytes in cursor.fetchall():
                us = np.frombuffer(ts_bytes, dtype=">i8").astype(np.int64)
                order = np.argsort(us, kind="stable")
                out[int(series_id)] = ((us[order] + _PG_EPOCH_US) / 1e6,
                                       np.frombuffer(value_bytes, dtype=">f8").astype(np.float64)[order])
        return out
    else:
        parts: list[tuple[int, float, float]] = []
        for series_id, start, end in ranges:
            qs = Point.objects.filter(series_id=series_id, ts__gt=datetime.fromtimestamp(start, tz=UTC))
            if math.isfinite(end):
                qs = qs.filter(ts__lte=datetime.fromtimestamp(end, tz=UTC))
            parts.extend((series_id, t.timestamp(), v) for t, v in qs.order_by("ts").values_list("ts", "value"))
        if not parts:
            return out
        arr = np.asarray(parts, dtype=np.float64)
        sid, ts, values = arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2]
    if sid.shape[0] == 0:
        return out
    bounds = np.flatnonzero(np.diff(sid)) + 1
    starts_at = np.concatenate([[0], bounds])
    ends_at = np.concatenate([bounds, [sid.shape[0]]])
    for a, b in zip(starts_at.tolist(), ends_at.tolist(), strict=False):
        out[int(sid[a])] = (ts[a:b], values[a:b])
    return out


