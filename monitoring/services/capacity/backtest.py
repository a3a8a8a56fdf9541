"""Backtest of time to exhaustion on synthetic series whose exhaustion time is known.

Each series grows linearly (with daily seasonality and noise; some sped up a day ago) towards its
limit; the forecast sees the history up to "now" and predicts when the limit is reached. We report the
median absolute error of the predicted time and how often the true time lies inside the interval
[earliest, latest] (coverage).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .forecast import forecast_exhaustion

ACCELERATING_SHARE = 0.3  # series whose growth changed inside the fitted history: the hard ones


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestResult:
    series: int
    predicted: int  # forecasts that saw the exhaustion within the horizon
    median_abs_error_hours: float
    coverage: float  # true time within [earliest, latest]
    false_alarms: int  # flat series flagged at risk


def synthetic(rng: np.random.Generator, *, fit_hours: int, horizon_hours: float, growing: bool
              ) -> tuple[np.ndarray, np.ndarray, float, float | None]:
    """(hours <= 0, values, limit, true hours to exhaustion or None)."""
    hours = np.arange(-fit_hours, 1, 1.0)
    limit = 100.0
    noise = rng.uniform(0.2, 1.5)
    daily = rng.uniform(0.0, 2.0) * np.sin(2 * np.pi * hours / 24.0)
    if not growing:
        level = rng.uniform(30, 70)
        return hours, level + daily + rng.normal(0, noise, hours.size), limit, None
    true_hours = float(rng.uniform(6, horizon_hours * 1.2))
    now_level = rng.uniform(40, 90)
    slope = (limit - now_level) / true_hours
    trend = now_level + slope * hours
    if rng.random() < ACCELERATING_SHARE:
        # Growth sped up a day ago (a new tenant, a leak): before that it grew at half the rate.
        early = hours < -24
        trend[early] = now_level - 24 * slope + (slope / 2) * (hours[early] + 24)
    values = trend + daily + rng.normal(0, noise, hours.size)
    return hours, values, limit, true_hours


def run(*, n: int = 300, fit_hours: int = 72, horizon_hours: float = 168.0, seed: int = 13) -> BacktestResult:
    rng = np.random.default_rng(seed)
    errors, covered, predicted, false_alarms = [], 0, 0, 0
    for i in range(n):
        growing = i % 4 != 0  # a quarter stay flat: they must not raise anything
        hours, values, limit, truth = synthetic(rng, fit_hours=fit_hours, horizon_hours=horizon_hours,
                                                growing=growing)
        result = forecast_exhaustion(hours=hours, values=values, limit=limit, horizon_hours=horizon_hours * 1.5,
                                     step_hours=0.25)
        if result is None:
            continue
        if truth is None:
            false_alarms += int(result.earliest_hours is not None and result.earliest_hours <= horizon_hours)
            continue
        if result.expected_hours is None:
            continue
        predicted += 1
        errors.append(abs(result.expected_hours - truth))
        lo = result.earliest_hours if result.earliest_hours is not None else 0.0
        hi = result.latest_hours if result.latest_hours is not None else float("inf")
        covered += int(lo <= truth <= hi)
    return BacktestResult(series=n, predicted=predicted,
                          median_abs_error_hours=float(np.median(errors)) if errors else float("nan"),
                          coverage=covered / predicted if predicted else 0.0, false_alarms=false_alarms)
