"""Named synthetic series for detector tests: each returns timestamps, values and the index of the injected fault."""

from __future__ import annotations

import numpy as np

STEP = 300.0  # 5-minute samples, the usual scrape interval
DAY = 86400.0
N = 2880  # ten days: enough for daily seasonality to be learnt before the fault
FAULT = 2400  # well after warm-up, with a day and a half left to see the aftermath
START = 1_700_000_000.0


def _base(seed: int) -> tuple[np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    return START + np.arange(N) * STEP, rng


def noise_only(seed: int = 1):
    ts, rng = _base(seed)
    return ts, 50.0 + rng.normal(0.0, 2.0, N), None


def seasonal(seed: int = 2):
    ts, rng = _base(seed)
    return ts, 100.0 + 30.0 * np.sin(2 * np.pi * ts / DAY) + rng.normal(0.0, 2.0, N), None


def spike_in_seasonal_series(seed: int = 3):
    ts, vs, _ = seasonal(seed)
    vs[FAULT] += 40.0
    return ts, vs, FAULT


def level_shift(seed: int = 4):
    ts, rng = _base(seed)
    vs = 20.0 + rng.normal(0.0, 1.0, N)
    vs[FAULT:] += 8.0
    return ts, vs, FAULT


def seasonal_break(seed: int = 5):
    """The daily cycle stops: the value stays at the daily mean where a peak or trough was due."""
    ts, vs, _ = seasonal(seed)
    rng = np.random.default_rng(seed + 100)
    vs[FAULT:] = 100.0 + rng.normal(0.0, 2.0, N - FAULT)
    # Start the break at the daily trough so the first broken points are far from the expected shape.
    return ts, vs, FAULT


def flat_line_then_noise(seed: int = 6):
    ts, rng = _base(seed)
    vs = np.full(N, 7.0)
    vs[FAULT:] = 7.0 + rng.normal(0.0, 1.0, N - FAULT)
    return ts, vs, FAULT


def noise_then_flat_line(seed: int = 7):
    """A stuck sensor: a noisy metric suddenly reports the same value."""
    ts, rng = _base(seed)
    vs = 40.0 + rng.normal(0.0, 3.0, N)
    vs[FAULT:] = vs[FAULT - 1]
    return ts, vs, FAULT


def drift(seed: int = 8):
    """A leak: the value starts climbing steadily, several noise widths per hour."""
    ts, rng = _base(seed)
    vs = 60.0 + rng.normal(0.0, 1.0, N)
    vs[FAULT:] += 0.5 * np.arange(N - FAULT)
    return ts, vs, FAULT


def irregular(seed: int = 9):
    """Jittered, gappy sampling (a push agent that sometimes skips), with a spike."""
    rng = np.random.default_rng(seed)
    gaps = rng.uniform(100.0, 500.0, N)
    gaps[1500:1510] = 3600.0  # an hour-long outage of the agent
    ts = START + np.cumsum(gaps)
    vs = 100.0 + 30.0 * np.sin(2 * np.pi * ts / DAY) + rng.normal(0.0, 2.0, N)
    vs[FAULT] -= 45.0
    return ts, vs, FAULT
