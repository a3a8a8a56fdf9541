"""Capacity: time-to-exhaustion forecasts of series with a limit, their signals, and the backtest."""
from __future__ import annotations

from .forecast import Exhaustion, forecast_exhaustion
from .service import capacity_fingerprint, capacity_forecast_all, capacity_forecast_series

__all__ = ["Exhaustion", "capacity_fingerprint", "capacity_forecast_all", "capacity_forecast_series",
           "forecast_exhaustion"]
