"""Detector states: kept in memory per process, checked against the series row, written back in bulk.

A worker keeps the states it computed in memory (checked against the row's scored_token) and
writes them to the row when it hands over, so the next worker starts from them; a worker that
finds the stored state behind the watermark (its predecessor died) replays the points in
between, which reproduces the state exactly. Two older states (checkpoints A and B) are kept to
rescore from when points arrive late.
"""
from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction

from core.db import rows_update
from monitoring.detection.base import Detector
from monitoring.detection.engine import score_series
from monitoring.detection.multivariate import multivariate_warm
from monitoring.detection.registry import detector_names, get_detector
from monitoring.models import MetricSeries
from monitoring.selectors.series import series_detector

from .records import Claim


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


def _plan(s: MetricSeries, claim: Claim) -> _Plan:
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
    first = claim.first
    if first is None or watermark is None or first > watermark:  # no late points
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
    chosen = next((c for c in candidates if c[1] < first), candidates[-1])
    plan = _Plan(series=s, detector=detector, start_from=chosen[0], start_ts=chosen[1], start_scored=chosen[2],
                 watermark=watermark, until=until, late=first)
    # A checkpoint at or after the late points did not see them: it is no longer a valid start.
    plan.drop_a = chosen[0] != "a" and s.ckpt_a_ts is not None and s.ckpt_a_ts >= first
    plan.drop_b = chosen[0] != "b" and s.ckpt_b_ts is not None and s.ckpt_b_ts >= first
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
    rows_update(
        table=MetricSeries._meta.db_table, assignments=_SET_STATE if only_if_token else _SET_SCORED + _SET_STATE,
        rows=updates, types=_PG_TYPES, where="{t}scored_token = :token" if only_if_token else "",
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

