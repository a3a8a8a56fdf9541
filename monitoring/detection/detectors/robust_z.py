"""Rolling robust z-score: the no-tuning baseline every other detector is compared with.

Over the previous ``WINDOW`` points (expanding from the ``MIN_POINTS``-th point; earlier points score 0,
the current point is not in its own window):

    sigma = max(1.4826 * MAD, 1.2533 * mean|x_j - median|)     (both are sigma for Gaussian data)
    z = |x - median| / sigma,   score = z / (z + 3)

A window of one repeated value (sigma = 0) gives 0 to that value and z = infinity (score 1) to any other.
This is the baseline the issue measured (NAB standard 37.0 on the short variant, 45.8 hourly, ~20 dev):
the mean absolute deviation as a floor under the MAD is what reproduces those figures exactly. The MAD
alone (with the mean deviation only where the MAD is 0) scores 15.3 / 10.7 / 5.0: on a spiky or
quantised series (most values equal, a few spikes) the MAD is tiny, every ordinary spike reaches
z ~ 1,000, and NAB's one threshold for the whole set must sit above them all. The mean deviation keeps
sigma at the scale of what the series really does, so scores are comparable across series.

The kernels are shared with the default detector, which uses the same statistic during its warm-up.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numba
import numpy as np

from ..base import DetectionResult, Detector, arrays_dump, arrays_load_checked
from ..registry import register

WINDOW = 288  # a day of 5-minute points: the baseline's definition (issue 18), not tuned
MIN_POINTS = 30  # fewer points give a median/MAD too coarse to call anything unusual
Z_HALF = 3.0  # z / (z + Z_HALF): z = 3 ("three sigma") maps to 0.5
MAD_TO_SIGMA = 1.4826  # MAD of a Gaussian x 1.4826 = its standard deviation
MEANDEV_TO_SIGMA = 1.2533  # mean absolute deviation of a Gaussian x 1.2533 = sigma


@numba.njit(cache=True)
def sorted_insert(srt, n, x):  # pragma: no cover - compiled
    """Insert x into the ascending srt[:n] (srt has room for n + 1)."""
    j = np.searchsorted(srt[:n], x)
    for k in range(n, j, -1):
        srt[k] = srt[k - 1]
    srt[j] = x


@numba.njit(cache=True)
def sorted_remove(srt, n, x):  # pragma: no cover - compiled
    """Remove one occurrence of x from the ascending srt[:n]."""
    j = np.searchsorted(srt[:n], x)
    for k in range(j, n - 1):
        srt[k] = srt[k + 1]


@numba.njit(cache=True)
def median_mad(srt, n):  # pragma: no cover - compiled
    """Median, MAD sigma and mean-deviation sigma of the ascending srt[:n]."""
    h = n // 2
    med = srt[h] if n % 2 == 1 else 0.5 * (srt[h - 1] + srt[h])
    # The k-th smallest |srt - med|: merge outwards from the median.
    r = np.searchsorted(srt[:n], med)
    left = r - 1
    need = h + 1  # deviations to pull: the (h+1)-th (odd n) or the h-th and (h+1)-th (even n)
    d_prev = 0.0
    d = 0.0
    for _ in range(need):
        d_prev = d
        if left < 0:
            d = srt[r] - med
            r += 1
        elif r >= n:
            d = med - srt[left]
            left -= 1
        elif med - srt[left] <= srt[r] - med:
            d = med - srt[left]
            left -= 1
        else:
            d = srt[r] - med
            r += 1
    mad = d if n % 2 == 1 else 0.5 * (d_prev + d)
    total = 0.0
    for k in range(n):
        total += abs(srt[k] - med)
    return med, MAD_TO_SIGMA * mad, MEANDEV_TO_SIGMA * total / n


@numba.njit(cache=True)
def robust_z_run(vs, ring, srt, st, o_z, o_med, o_sig):  # pragma: no cover - compiled
    """One causal pass: z of each point against the previous len(ring) points; updates ring/srt/st."""
    w = ring.shape[0]
    cnt = int(st[0])
    for i in range(vs.shape[0]):
        x = vs[i]
        n = min(cnt, w)
        if n >= MIN_POINTS:
            med, sig_mad, sig_mean = median_mad(srt, n)
            sig = max(sig_mad, sig_mean)
            if sig > 0.0:
                z = abs(x - med) / sig
            else:
                z = 0.0 if x == med else np.inf
            o_z[i] = z
            o_med[i] = med
            o_sig[i] = sig
        else:
            o_z[i] = -1.0  # not scored yet
            o_med[i] = x
            o_sig[i] = 0.0
        if n == w:
            sorted_remove(srt, n, ring[cnt % w])
            n -= 1
        sorted_insert(srt, n, x)
        ring[cnt % w] = x
        cnt += 1
    st[0] = cnt


def window_sorted(ring: np.ndarray, count: int) -> np.ndarray:
    """The sorted window (with one spare slot) rebuilt from the ring buffer of the last values."""
    w = ring.shape[0]
    srt = np.empty(w + 1)
    n = min(count, w)
    srt[:n] = np.sort(ring[:n])
    return srt


@register
class RobustZDetector(Detector):
    """Rolling median/MAD z-score over the previous day of points, mean deviation as a floor (see module docstring)."""

    name: ClassVar[str] = "robust_z"
    default_threshold: ClassVar[float] = 0.75  # z >= 9
    STATE_VERSION: ClassVar[int] = 1

    def initial_state(self) -> dict[str, np.ndarray]:
        return {"st": np.zeros(1), "ring": np.zeros(WINDOW)}

    def update(self, state: Any, timestamps: np.ndarray, values: np.ndarray) -> tuple[DetectionResult, Any]:
        st = np.array(state["st"], dtype=np.float64, copy=True)
        ring = np.array(state["ring"], dtype=np.float64, copy=True)
        n = values.shape[0]
        z, med, sig = np.empty(n), np.empty(n), np.empty(n)
        robust_z_run(
            np.ascontiguousarray(values, dtype=np.float64), ring, window_sorted(ring, int(st[0])), st, z, med, sig
        )
        finite = np.where(np.isfinite(z), z, 0.0)
        scores = np.where(z < 0.0, 0.0, np.where(np.isinf(z), 1.0, finite / (finite + Z_HALF)))
        band = Z_HALF * sig
        return DetectionResult(scores=scores, expected=med, lower=med - band, upper=med + band), {
            "st": st,
            "ring": ring,
        }

    def dump_state(self, state: Any) -> bytes:
        return arrays_dump(version=self.STATE_VERSION, arrays={k: np.asarray(state[k]) for k in ("st", "ring")})

    def load_state(self, data: bytes) -> Any:
        if not data:
            return self.initial_state()
        return arrays_load_checked(data, version=self.STATE_VERSION, template=self.initial_state(), name=self.name)
