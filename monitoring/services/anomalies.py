"""Streaming detection: score a series' new points with its detector, store anomalies, raise signals.

The detect drain (one at a time per database) takes the DetectQueue rows the ingest drain wrote
and scores, per step and in one transaction, every claimed series from its watermark on, in time
order: one query reads the points of all of them, each series goes through its detector once,
one statement writes the watermarks back. A worker keeps the states it computed in memory
(checked against the row's scored_token) and writes them to the row when it hands over, so the
next worker starts from them; a worker that finds the stored state behind the watermark (its
predecessor died) replays the points in between, which reproduces the state exactly.

Late points (older than the watermark) are scored in order: the series is rescored from the
newest stored state older than them (the state itself, or checkpoint B or A, which trails the
watermark by at least TELEMETRY_ALLOWED_LATENESS_SECONDS). Anomalies the rescore finds that were
not found before are stored and raised; earlier ones stay. Points older than every checkpoint are
stored and not scored.
"""
from __future__ import annotations

import logging
import math
import re
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from incidents import services as incident_services
from incidents.contracts import InvalidSignal, SignalIn
from monitoring.choices import Direction, SeriesKind
from monitoring.detection.base import DetectionResult, Detector
from monitoring.detection.engine import score_series
from monitoring.detection.multivariate import (
    MIN_HISTORY,
    MULTIVARIATE_THRESHOLD,
    MultivariateInputError,
    multivariate_score,
    multivariate_warm,
    series_align,
)
from monitoring.detection.registry import UnknownDetector, detector_names, get_detector
from monitoring.models import Anomaly, DetectQueue, MetricSeries, Point

from . import drains
from .points import _PG_EPOCH_US

logger = logging.getLogger(__name__)

# An anomaly episode ends (and its signal resolves) after this many normal points in a row:
# at a 1-minute cadence a quarter of an hour, long enough not to flap on one quiet point.
RESOLVE_AFTER_NORMAL = 15
SOURCE_KIND = "anomaly"
# Queue rows claimed per detect step: all the series' new points are scored in one transaction
# (one point query, one state update), so a step should hold many series and many points each.
DETECT_STEP_POINTS = 100_000
DETECT_STEP_ROWS = 5_000


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectOutcome:
    series: int
    scored: int  # points that went through a detector (replayed ones included)
    anomalies: int
    signals: int
    outcomes: tuple[str, ...] = ()
    claimed: int = 0  # queue rows taken
    rescored: int = 0  # series rescored from a checkpoint because points arrived late


@dataclass(slots=True, kw_only=True)
class _Found:
    """Anomalies of one series in one run, to become signals."""

    series: MetricSeries
    rows: list[Anomaly] = field(default_factory=list)
    ts: np.ndarray | None = None  # the points scored in this run and their univariate result
    values: np.ndarray | None = None
    result: DetectionResult | None = None
    threshold: float = 1.0


# --- the detect drain -------------------------------------------------------------------------
def telemetry_detect_kick(*, force: bool = False) -> None:
    drains.drain_kick(drains.DETECT, force=force)


def telemetry_detect_drain(*, idle_seconds: float | None = None, max_seconds: float | None = None) -> int:
    """Score queued points step by step until none is left; returns the queue rows taken (-1:
    another worker is detecting). Before it hands over, this worker's states are written."""
    return drains.drain_run(
        drains.DETECT, lambda: telemetry_detect_step().claimed,
        pending=lambda: DetectQueue.objects.exists(), on_finish=series_states_persist,
        idle_seconds=idle_seconds, max_seconds=max_seconds,
    )


def series_detect(*, series_ids: list[int]) -> int:
    """Queue the given series for detection (whatever lies past their watermark) and drain."""
    DetectQueue.objects.bulk_create([DetectQueue(series_id=pk, first_ts=None, last_ts=None) for pk in set(series_ids)])
    return telemetry_detect_drain()


def telemetry_detect_step(*, max_points: int = DETECT_STEP_POINTS) -> DetectOutcome:
    """Take queued points of many series and score them in one transaction, each series from its
    watermark in time order (from a checkpoint when points arrived late). Idempotent: the queue
    rows are deleted by the transaction that scores them, so a failed step leaves them queued."""
    live: dict[int, _Live] = {}
    with transaction.atomic():
        claims = _detect_claim(max_points=max_points)
        if not claims:
            return DetectOutcome(series=0, scored=0, anomalies=0, signals=0)
        outcome = _detect(claims, live)
    # Only now (committed) may the next step start from these states.
    if len(_STATE_CACHE) + len(live) > _STATE_CACHE_MAX:
        series_states_persist()
        _STATE_CACHE.clear()
    _STATE_CACHE.update(live)
    return outcome


@dataclass(frozen=True, slots=True)
class _Claim:
    first: float | None  # earliest new point (None: unknown, score whatever lies past the watermark)
    last: float | None  # latest new point (None: no upper bound)
    rows: int


def _detect_claim(*, max_points: int) -> dict[int, _Claim]:
    table = DetectQueue._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM (SELECT id, SUM(points) OVER (ORDER BY id) - points AS before "
            f"FROM {table} ORDER BY id LIMIT %s) AS q WHERE before < %s) RETURNING series_id, first_ts, last_ts",
            [DETECT_STEP_ROWS, max_points],
        )
        rows = cursor.fetchall()
    claims: dict[int, _Claim] = {}
    for series_id, first, last in rows:
        old = claims.get(series_id)
        if old is not None:
            first = None if first is None or old.first is None else min(first, old.first)
            last = None if last is None or old.last is None else max(last, old.last)
        claims[series_id] = _Claim(first=first, last=last, rows=(old.rows if old else 0) + 1)
    return claims


# --- in-process state -------------------------------------------------------------------------------
@dataclass(slots=True, kw_only=True)
class _Live:
    """A series' detector state as this process left it: valid while the row's scored_token matches."""

    token: int
    detector: str
    state: Any
    ts: float  # event time the state covers (the watermark)
    scored: int  # points_scored at ts
    persisted_at: float  # time.monotonic() of the last write of the state to the row
    dirty: bool  # newer than the state in the row


_STATE_CACHE: dict[int, _Live] = {}
_STATE_CACHE_MAX = 50_000  # detector states are ~10 KB in memory: bounded at ~500 MB per worker


def state_cache_clear() -> None:
    _STATE_CACHE.clear()


def detectors_warm() -> None:
    """Load what the first detection would: each detector's compiled code, and pyod."""
    ts = 1_000_000.0 + 60.0 * np.arange(3)
    for name in detector_names():
        detector = get_detector(name)
        score_series(detector=detector, state=detector.initial_state(), timestamps=ts, values=np.ones(3))
    multivariate_warm()


def series_detector(series: MetricSeries) -> Detector:
    try:
        return get_detector(series.detector or None)
    except UnknownDetector:
        # A detector removed from the code base must not stop the series being watched.
        logger.warning("series %s names unknown detector %r; using the default", series.pk, series.detector)
        return get_detector(None)


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _new_token() -> int:
    return secrets.randbits(62) + 1


@dataclass(slots=True, kw_only=True)
class _Plan:
    series: MetricSeries
    detector: Detector
    start_from: str  # "live", "s", "a", "b" (a stored state) or "initial"
    start_ts: float  # points after this are read and scored
    start_scored: int
    watermark: float | None  # before this run: points up to here were scored before (replayed now)
    until: float  # read points up to here
    late: float | None = None  # earliest late point (rescore), else None
    reset: bool = False  # the series' detector changed: start afresh, drop the checkpoints
    state: Any = None
    drop_a: bool = False
    drop_b: bool = False


def _plan(s: MetricSeries, claim: _Claim) -> _Plan:
    detector = series_detector(s)
    watermark = _epoch(s.last_scored_ts)
    until = math.inf if claim.last is None else claim.last
    if watermark is not None:
        until = max(until, watermark)  # a rescore or replay runs at least up to where scoring was
    live = _STATE_CACHE.get(s.pk)
    if live is not None and (live.token != s.scored_token or live.detector != detector.name):
        live = None
    if s.state_detector and s.state_detector != detector.name:
        # The series was given another detector: it learns afresh from the new points on.
        return _Plan(series=s, detector=detector, start_from="initial", start_ts=watermark or 0.0,
                     start_scored=s.points_scored, watermark=watermark, until=until, reset=True)
    late = claim.first is not None and watermark is not None and claim.first <= watermark
    if not late:
        if live is not None:
            return _Plan(series=s, detector=detector, start_from="live", start_ts=live.ts, start_scored=live.scored,
                         watermark=watermark, until=until, state=live.state)
        # The stored state (at state_ts), then a replay of the points scored since.
        return _Plan(series=s, detector=detector, start_from="s", start_ts=s.state_ts or 0.0,
                     start_scored=s.state_scored, watermark=watermark, until=until)
    # Late points: rescore from the newest checkpoint older than them (or the oldest one there is:
    # points older than every checkpoint are too late and stay unscored).
    candidates = [("s", s.state_ts or 0.0, s.state_scored)]
    if s.ckpt_b_ts is not None:
        candidates.append(("b", s.ckpt_b_ts, s.ckpt_b_scored))
    if s.ckpt_a_ts is not None:
        candidates.append(("a", s.ckpt_a_ts, s.ckpt_a_scored))
    candidates.sort(key=lambda c: -c[1])
    chosen = next((c for c in candidates if c[1] < claim.first), candidates[-1])
    plan = _Plan(series=s, detector=detector, start_from=chosen[0], start_ts=chosen[1], start_scored=chosen[2],
                 watermark=watermark, until=until, late=claim.first)
    # A checkpoint at or after the late points did not see them: it is no longer a valid start.
    plan.drop_a = chosen[0] != "a" and s.ckpt_a_ts is not None and s.ckpt_a_ts >= claim.first
    plan.drop_b = chosen[0] != "b" and s.ckpt_b_ts is not None and s.ckpt_b_ts >= claim.first
    return plan


_STATE_COLUMNS = {"s": "detector_state", "a": "ckpt_a_state", "b": "ckpt_b_state"}


def _load_states(plans: list[_Plan]) -> None:
    for source, column in _STATE_COLUMNS.items():
        wanted = {p.series.pk: p for p in plans if p.start_from == source}
        if not wanted:
            continue
        for pk, data in MetricSeries.objects.filter(pk__in=list(wanted)).values_list("pk", column):
            plan = wanted[pk]
            plan.state = plan.detector.load_state(bytes(data)) if data else plan.detector.initial_state()
    for plan in plans:
        if plan.start_from == "initial":
            plan.state = plan.detector.initial_state()


# --- one step -------------------------------------------------------------------------------------
def _detect(claims: dict[int, _Claim], live: dict[int, _Live]) -> DetectOutcome:
    series = list(
        MetricSeries.objects.filter(id__in=list(claims)).select_related("service")
        .defer(*_STATE_COLUMNS.values()).order_by("id")
    )
    plans = [_plan(s, claims[s.pk]) for s in series]
    _load_states(plans)
    points = _points_between([(p.series.pk, p.start_ts, p.until) for p in plans])
    found: list[_Found] = []
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
        f = _Found(series=s, threshold=threshold)
        if new.any():
            first_new = int(np.argmax(new))
            f.ts, f.values = ts[first_new:], values[first_new:]
            f.result = DetectionResult(scores=result.scores[first_new:], expected=result.expected[first_new:],
                                       lower=result.lower[first_new:], upper=result.upper[first_new:])
        for i in hits.tolist():
            if new[i]:
                f.rows.append(_anomaly(s, detector, result, i, float(ts[i]), float(values[i]), threshold))
        if plan.late is not None:
            replayed = [_anomaly(s, detector, result, i, float(ts[i]), float(values[i]), threshold)
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


def _add_late_anomalies(found: list[_Found], late_rows: list[tuple[_Plan, list[Anomaly]]]) -> None:
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
            f = _Found(series=plan.series)
            found.append(f)
        f.rows = sorted(fresh + f.rows, key=lambda r: r.ts)
        if not plan.series.open_direction or f.rows[-1].ts == fresh[-1].ts:
            plan.series.open_direction = f.rows[-1].direction


def _row_update(plan: _Plan, entry: _Live, *, persist: bool) -> dict:
    """Values for _series_write. Checkpoints: A stays at least TELEMETRY_ALLOWED_LATENESS_SECONDS
    behind the watermark; B is the stored state that becomes A once it is that old."""
    s = plan.series
    a = b = _KEEP
    if plan.reset:
        a = b = _DROP
    elif plan.late is not None:
        a = _DROP if plan.drop_a else _KEEP
        b = _DROP if plan.drop_b else _KEEP
    elif persist:
        if s.ckpt_b_ts is None:
            b = _FROM_STATE
        elif s.ckpt_b_ts <= entry.ts - settings.TELEMETRY_ALLOWED_LATENESS_SECONDS:
            a, b = _FROM_B, _FROM_STATE
    if persist:
        entry.persisted_at = time.monotonic()
        entry.dirty = False
        s.state_detector = entry.detector
    return {
        "id": s.pk, "scored_ts": s.last_scored_ts, "token": s.scored_token, "n": s.points_scored,
        "a": a, "b": b, "persist": persist,
        "state": plan.detector.dump_state(entry.state) if persist else None,
        "detector": entry.detector, "state_ts": entry.ts,
    }


_KEEP, _FROM_B, _FROM_STATE, _DROP = 0, 1, 2, 3

# `:name` is a value of the row being written (v.name on PostgreSQL, a parameter on SQLite); the
# right-hand sides see the row as it was, so "A := B, B := the state being replaced" is one statement.
_SET_STATE = """
    ckpt_a_state = CASE :a WHEN 1 THEN {t}ckpt_b_state WHEN 3 THEN NULL ELSE {t}ckpt_a_state END,
    ckpt_a_ts = CASE :a WHEN 1 THEN {t}ckpt_b_ts WHEN 3 THEN NULL ELSE {t}ckpt_a_ts END,
    ckpt_a_scored = CASE :a WHEN 1 THEN {t}ckpt_b_scored WHEN 3 THEN 0 ELSE {t}ckpt_a_scored END,
    ckpt_b_state = CASE :b WHEN 2 THEN {t}detector_state WHEN 3 THEN NULL ELSE {t}ckpt_b_state END,
    ckpt_b_ts = CASE :b WHEN 2 THEN COALESCE({t}state_ts, 0) WHEN 3 THEN NULL ELSE {t}ckpt_b_ts END,
    ckpt_b_scored = CASE :b WHEN 2 THEN {t}state_scored WHEN 3 THEN 0 ELSE {t}ckpt_b_scored END,
    detector_state = CASE WHEN :persist THEN :state ELSE {t}detector_state END,
    state_detector = CASE WHEN :persist THEN :detector ELSE {t}state_detector END,
    state_ts = CASE WHEN :persist THEN :state_ts ELSE {t}state_ts END,
    state_scored = CASE WHEN :persist THEN :n ELSE {t}state_scored END"""
_SET_SCORED = """
    last_scored_ts = :scored_ts, scored_token = :token, points_scored = :n, open_direction = :direction,
    normal_streak = :streak,"""
_PG_TYPES = {
    "id": "bigint", "scored_ts": "timestamptz", "token": "bigint", "n": "bigint", "direction": "text",
    "streak": "int", "a": "int", "b": "int", "persist": "boolean", "state": "bytea", "detector": "text",
    "state_ts": "float8",
}


def _series_write(updates: list[dict], *, only_if_token: bool = False) -> None:
    """Write the runs' results (or, `only_if_token`, just the states) in one statement."""
    if not updates:
        return
    table = MetricSeries._meta.db_table
    body = _SET_STATE if only_if_token else _SET_SCORED + _SET_STATE
    guard = " AND t.scored_token = v.token" if only_if_token else ""
    names = list(dict.fromkeys(re.findall(r":(\w+)", body)))
    if "token" not in names:
        names.append("token")
    if connection.vendor == "postgresql":
        # Django's bulk_update builds a CASE per field and row; UPDATE ... FROM unnest(arrays) is one
        # short statement whatever the row count.
        sql = re.sub(r":(\w+)", r"v.\1", body.replace("{t}", "t."))
        columns = ["id", *names]
        unnest = ", ".join(f"%s::{_PG_TYPES[c]}[]" for c in columns)
        params = [[u[c] for u in updates] for c in columns]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS t SET {sql} FROM unnest({unnest}) AS v({', '.join(columns)}) WHERE t.id = v.id{guard}",
                params,
            )
        return
    order = re.findall(r":(\w+)", body)
    sql = re.sub(r":\w+", "%s", body.replace("{t}", ""))
    where = "id = %s" + (" AND scored_token = %s" if only_if_token else "")
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {sql} WHERE {where}",
            [[u[c] for c in order] + [u["id"]] + ([u["token"]] if only_if_token else []) for u in updates],
        )


def series_states_persist() -> int:
    """Write the states this process holds newer than the rows' (before handing series over)."""
    dirty = [(pk, e) for pk, e in _STATE_CACHE.items() if e.dirty]
    if not dirty:
        return 0
    rows = dict(
        MetricSeries.objects.filter(pk__in=[pk for pk, _ in dirty]).values_list("pk", "ckpt_b_ts")
    )
    updates = []
    detectors: dict[str, Detector] = {}
    for pk, entry in dirty:
        if pk not in rows:
            continue
        detector = detectors.get(entry.detector) or detectors.setdefault(entry.detector, get_detector(entry.detector))
        b_ts = rows[pk]
        a = b = _KEEP
        if b_ts is None:
            b = _FROM_STATE
        elif b_ts <= entry.ts - settings.TELEMETRY_ALLOWED_LATENESS_SECONDS:
            a, b = _FROM_B, _FROM_STATE
        updates.append({"id": pk, "token": entry.token, "n": entry.scored, "a": a, "b": b, "persist": True,
                        "state": detector.dump_state(entry.state), "detector": entry.detector,
                        "state_ts": entry.ts})
    with transaction.atomic():
        _series_write(updates, only_if_token=True)
    now = time.monotonic()
    for _, entry in dirty:
        entry.dirty = False
        entry.persisted_at = now
    return len(updates)


def _points_between(ranges: list[tuple[int, float, float]]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Points of each series with start < ts <= end, in time order (one query on PostgreSQL)."""
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if not ranges:
        return out
    if connection.vendor == "postgresql":
        ids, starts, ends = (list(x) for x in zip(*ranges, strict=False))
        with connection.cursor() as cursor:
            # One row per series with its times and values packed as raw big-endian bytes (the
            # aggregates see the rows in the same order): parsed by numpy without a per-point loop.
            cursor.execute(
                "SELECT v.id, string_agg(timestamptz_send(p.ts), ''::bytea), string_agg(float8send(p.value), ''::bytea) "
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
        parts = []
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
    for rows, result in zip(targets, results, strict=False):
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
