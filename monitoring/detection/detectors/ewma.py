"""Exponentially weighted mean/variance z-score: a simple, fast baseline detector."""

from __future__ import annotations

from typing import Any, ClassVar

import numba
import numpy as np

from ..base import DetectionResult, Detector, arrays_dump, arrays_load_checked
from ..registry import register

ALPHA = 0.02  # ~50-point memory: long enough to be stable, short enough to follow slow changes
WARMUP = 30  # points before any score is emitted; variance is meaningless earlier
Z_FULL = 6.0  # |z| at which the score saturates at 1
BAND_Z = 3.0  # band = expected ± 3 sigma (the usual "three sigma" convention)


@numba.njit(cache=True)
def _ewma_run(values, st):  # pragma: no cover - compiled
    n = values.shape[0]
    scores = np.zeros(n)
    expected = np.zeros(n)
    sd = np.zeros(n)
    mean, var, count = st[0], st[1], st[2]
    for i in range(n):
        x = values[i]
        s = np.sqrt(var) + 1e-9 * (abs(mean) + 1.0)
        expected[i] = mean
        sd[i] = s
        if count >= WARMUP:
            z = abs(x - mean) / s
            scores[i] = min(1.0, z / Z_FULL)
        if count == 0:
            mean = x
            var = 0.0
        else:
            d = x - mean
            mean += ALPHA * d
            var = (1.0 - ALPHA) * (var + ALPHA * d * d)
        count += 1
    st[0], st[1], st[2] = mean, var, count
    return scores, expected, sd


@register
class EwmaDetector(Detector):
    """Three-sigma test against an exponentially weighted mean and variance."""

    name: ClassVar[str] = "ewma"
    default_threshold: ClassVar[float] = 0.75
    STATE_VERSION: ClassVar[int] = 1

    def initial_state(self) -> np.ndarray:
        return np.zeros(3, dtype=np.float64)  # mean, var, count

    def update(
        self, state: Any, timestamps: np.ndarray, values: np.ndarray
    ) -> tuple[DetectionResult, Any]:
        st = np.array(state, dtype=np.float64, copy=True)
        scores, expected, sd = _ewma_run(np.ascontiguousarray(values, dtype=np.float64), st)
        return DetectionResult(
            scores=scores,
            expected=expected,
            lower=expected - BAND_Z * sd,
            upper=expected + BAND_Z * sd,
        ), st

    def dump_state(self, state: Any) -> bytes:
        return arrays_dump(
            version=self.STATE_VERSION, arrays={"st": np.asarray(state, dtype=np.float64)}
        )

    def load_state(self, data: bytes) -> Any:
        if not data:
            return self.initial_state()
        template = {"st": self.initial_state()}
        return arrays_load_checked(
            data, version=self.STATE_VERSION, template=template, name=self.name
        )["st"]
