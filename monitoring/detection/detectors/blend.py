"""The default detector: the adaptive detector's calibrated surprise, blended with a robust prior.

`adaptive` (kept as is, under its own name) learns each view's tail from thousands of points, so on a
short or coarse series it is either silent (no score for 100 points) or poorly calibrated. `blend` runs
the same views and adds:

1. **A robust prior** from the first points: the robust z of the point against the median/MAD of what
   exists of the previous day (the `robust_z` window; sigma the MAD, as CV chose over robust_z's
   max(MAD, mean deviation); a daily/weekly profile that has seen
   this time of day on two days counts as a baseline too, so a daily square wave is not a string of outliers),
   read as a Laplace tail (-log10 p = 0.446 z, capped at p = 1e-6: beyond that a parametric tail is not
   credible, and a near-zero MAD must not page through a small weight). It alone scores from the 10th
   point until the learnt calibration starts (100 points); then the score is w * prior + (1 - w) * learnt surprise with
   w = 30 / (30 + n), n the points since, so the learnt calibration takes over as history accumulates.
2. **Suppression in time**: a detection damps its echoes for 5 hours (not 60 points: 2.5 days of an
   hourly series), ends early once the series has been calm for 12 points, and a clearly bigger surprise
   breaks through at once, so a second anomaly soon after the first is not hidden.
3. **A level-shift view**: one-sided CUSUMs (up, down) of the residual against the baseline, steps in
   units of its mean absolute error clipped to +-4, drift 0.25 per point (CV), calibrated by their own
   histograms and restarted when an episode opens: a shift too small for any point to stand out builds up
   over a few dozen points (a quiet stretch in a spiky series, a small step).
4. **A robust view** (CV): after warm-up the prior's robust z (on `robust_z`'s max(MAD, mean deviation)
   scale) is also calibrated by its own histogram, i.e. by how often the series itself went this far,
   and the score is the max of that and the blend above: an ensemble with the `robust_z` baseline that
   does not page on the next of many similar spikes. It helps most on hourly series, whose learnt views
   see few points.
5. **The live level rules sub-alert episodes**: the first point reaching the live threshold pages even
   inside an episode opened lower. Optional and off (a CV option): damping the echoes of a point under the
   episode level.

Everything stays one causal pass (numba); state is versioned and an older layout restarts learning.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..base import DetectionResult, Detector, arrays_dump, arrays_load_checked
from ..registry import register
from .adaptive import STATE_KEYS as ADAPTIVE_KEYS
from .adaptive_params import DAY_BINS, LOGR, NB, NP, S_INC, S_TOT, Z0, K
from .blend_kernel import blend_run
from .blend_params import LIVE_THRESHOLD, N_SCALARS, P_PRIOR_COUNT, PARAMS, PRIOR_WINDOW
from .robust_z import window_sorted

STATE_KEYS = (*ADAPTIVE_KEYS, "rz_ring", "chist", "cusum")
RUN_VIEW = 4  # the repeated-value run length: judged by its own rule, not by a histogram


def prior_hist(count: float) -> np.ndarray:
    """``count`` pseudo-points per view spread as Exp(1) over the magnitude bins (see `adaptive_kernel._zbin`)."""
    lower = Z0 * np.exp((np.arange(NB) - 1.0) / (NB - 1) * LOGR)  # bin j >= 1 starts here; bin 0 is [0, Z0]
    lower[0] = 0.0
    upper = np.append(lower[1:], np.inf)
    mass = np.exp(-lower) - np.exp(-upper)
    hist = np.tile(count * mass, (K, 1))
    hist[RUN_VIEW] = 0.0
    return hist


@register
class BlendDetector(Detector):
    """Adaptive surprise with a robust median/MAD prior and time-based suppression (see module docstring)."""

    name: ClassVar[str] = "blend"
    default_threshold: ClassVar[float] = LIVE_THRESHOLD  # p ~ 2e-5; README: measured false pages per week
    # Own numbering, far from adaptive's, so a state written by another detector never loads as this one.
    STATE_VERSION: ClassVar[int] = 105

    def __init__(self, *, params: np.ndarray | None = None) -> None:
        # params only for the cross-validation grid; production always uses PARAMS.
        self.params = np.ascontiguousarray(PARAMS if params is None else params, dtype=np.float64)

    def initial_state(self) -> dict[str, np.ndarray]:
        w = int(self.params[2])
        sc = np.zeros(N_SCALARS)
        sc[S_INC] = 1.0
        sc[S_TOT] = self.params[P_PRIOR_COUNT]
        return {
            "sc": sc,
            "hist": prior_hist(self.params[P_PRIOR_COUNT]),
            "fscale": np.zeros(K),
            "pscale": np.zeros(NP),
            "pcount": np.zeros(NP),
            "dprof": np.zeros(DAY_BINS),
            "dseen": np.zeros(DAY_BINS),
            "wprof": np.zeros(DAY_BINS * 7),
            "wseen": np.zeros(DAY_BINS * 7),
            "ring": np.zeros(w),
            "ring2": np.zeros(w),
            "rz_ring": np.zeros(PRIOR_WINDOW),
            "chist": prior_hist(self.params[P_PRIOR_COUNT])[:3],  # CUSUM up, down; robust view
            "cusum": np.zeros(2),
        }

    def update(self, state: Any, timestamps: np.ndarray, values: np.ndarray) -> tuple[DetectionResult, Any]:
        new = {k: np.array(state[k], dtype=np.float64, copy=True) for k in STATE_KEYS}  # never mutate the caller's
        n = values.shape[0]
        scores = np.empty(n)
        expected = np.empty(n)
        band = np.empty(n)
        blend_run(  # type: ignore[call-arg]
            np.ascontiguousarray(timestamps, dtype=np.float64),
            np.ascontiguousarray(values, dtype=np.float64),
            self.params,
            *(new[k] for k in STATE_KEYS),
            window_sorted(new["rz_ring"], int(new["sc"][0])),
            scores,
            expected,
            band,
        )
        return DetectionResult(scores=scores, expected=expected, lower=expected - band, upper=expected + band), new

    def dump_state(self, state: Any) -> bytes:
        return arrays_dump(version=self.STATE_VERSION, arrays={k: np.asarray(state[k]) for k in STATE_KEYS})

    def load_state(self, data: bytes) -> Any:
        if not data:
            return self.initial_state()
        return arrays_load_checked(data, version=self.STATE_VERSION, template=self.initial_state(), name=self.name)
