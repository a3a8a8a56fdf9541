"""Time to exhaustion: a statsmodels linear trend with a prediction interval, and when it meets the limit.

Pure (arrays in, a frozen result out) so the schedule, the page and the backtest share it. The trend is
fitted on the recent past only (capacity trends change: a cleanup, a new tenant), by ordinary least
squares on time; the interval is the OLS prediction interval for a new observation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm

INTERVAL_ALPHA = 0.05  # a 95% prediction interval: the upper bound is what we alert on
MIN_POINTS = 6  # fewer points than this give no trend worth a page


@dataclass(frozen=True, slots=True, kw_only=True)
class Exhaustion:
    slope_per_hour: float
    level: float  # fitted value now
    # Hours from now until the fitted trend / its upper / its lower bound reach the limit (None: not
    # within the horizon). `earliest` <= `expected` <= `latest`.
    expected_hours: float | None
    earliest_hours: float | None
    latest_hours: float | None
    horizon_hours: float
    projection_hours: tuple[float, ...]  # the grid the projection is given on (hours from now)
    projection_mean: tuple[float, ...]
    projection_upper: tuple[float, ...]

    @property
    def at_risk(self) -> bool:
        return self.earliest_hours is not None


def _first_crossing(hours: np.ndarray, values: np.ndarray, limit: float) -> float | None:
    above = np.flatnonzero(values >= limit)
    if not above.size:
        return None
    i = int(above[0])
    if i == 0:
        return 0.0
    # Linear interpolation between the grid points around the crossing.
    h0, h1, v0, v1 = hours[i - 1], hours[i], values[i - 1], values[i]
    return float(h0 + (limit - v0) / (v1 - v0) * (h1 - h0)) if v1 != v0 else float(h1)


def forecast_exhaustion(*, hours: np.ndarray, values: np.ndarray, limit: float, horizon_hours: float,
                        step_hours: float = 1.0) -> Exhaustion | None:
    """`hours` are the points' times relative to now (<= 0); None when there are too few points."""
    ok = np.isfinite(hours) & np.isfinite(values)
    hours, values = hours[ok], values[ok]
    if hours.size < MIN_POINTS or np.ptp(hours) <= 0:
        return None
    model = sm.OLS(values, sm.add_constant(hours)).fit()
    grid = np.arange(0.0, horizon_hours + step_hours, step_hours)
    frame = model.get_prediction(sm.add_constant(grid, has_constant="add")).summary_frame(alpha=INTERVAL_ALPHA)
    mean = frame["mean"].to_numpy()
    upper = frame["obs_ci_upper"].to_numpy()
    lower = frame["obs_ci_lower"].to_numpy()
    slope = float(model.params[1])
    return Exhaustion(
        slope_per_hour=slope, level=float(mean[0]),
        expected_hours=_first_crossing(grid, mean, limit),
        earliest_hours=_first_crossing(grid, upper, limit),
        latest_hours=_first_crossing(grid, lower, limit),
        horizon_hours=horizon_hours,
        projection_hours=tuple(float(h) for h in grid),
        projection_mean=tuple(float(v) for v in mean),
        projection_upper=tuple(float(v) for v in upper),
    )
