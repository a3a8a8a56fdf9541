"""The default detector: calibrated surprise of several causal views of a series, with seasonal baselines.

How it works (all per point, strictly causal, one pass, numba-compiled):

1. **Predictors** of the next value: the previous value (persistence), a daily
   profile and a weekly profile (exponentially weighted mean per time-of-day /
   time-of-week bin, located by the timestamp so irregular sampling is fine).
   Each keeps a running mean absolute error.
2. **Views** (features) of the new point:
   innovation = smallest normalised error over the predictors (a point is
   unusual only if *no* predictor explains it: the daily 09:00 ramp is explained
   by the daily profile, yesterday's burst does not echo today because
   persistence explains it), short-window mean of the residual against the best
   seasonal/level baseline (level shifts, drifts, seasonal breaks), short-window
   volatility against its long-run level (flat lines, noise bursts, spike density),
   and the deviation from the long-run mean (large excursions).
3. **Calibration**: each view's magnitude is turned into a tail p-value against
   its own exponentially forgetting histogram of past magnitudes (scale-free, so
   heavy-tailed and Gaussian series are judged by their own history); beyond
   the observed range the tail is extrapolated as a power law so a far larger
   excursion is far more surprising. Surprise = -log10(p) of the most surprising
   view, mapped linearly to [0, 1]. Scores are therefore comparable across
   series and one global threshold works.
4. **Suppression**: after a detection, scores are damped for a while unless a
   clearly bigger surprise arrives, so one incident raises one detection rather
   than a burst of them.

State is a handful of small numpy arrays (about 6 KB), persisted as a versioned
npz (no pickle).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..base import DetectionResult, Detector, arrays_dump, arrays_load_checked
from ..registry import register
from .adaptive_kernel import adaptive_run
from .adaptive_params import (
    DAY_BINS,
    N_SCALARS,
    NB,
    NP,
    PARAMS,
    S_INC,
    THRESHOLD,
    K,
)

STATE_KEYS = (
    "sc",
    "hist",
    "fscale",
    "pscale",
    "pcount",
    "dprof",
    "dseen",
    "wprof",
    "wseen",
    "ring",
    "ring2",
)


@register
class AdaptiveDetector(Detector):
    """Seasonal-aware, self-calibrating surprise detector (see module docstring)."""

    name: ClassVar[str] = "adaptive"
    default_threshold: ClassVar[float] = THRESHOLD
    STATE_VERSION: ClassVar[int] = 2  # bump whenever the state layout changes

    def __init__(self, *, params: np.ndarray | None = None) -> None:
        # params only for tuning experiments; production always uses PARAMS.
        self.params = np.ascontiguousarray(PARAMS if params is None else params, dtype=np.float64)

    def initial_state(self) -> dict[str, np.ndarray]:
        w = int(self.params[2])
        sc = np.zeros(N_SCALARS)
        sc[S_INC] = 1.0
        return {
            "sc": sc,
            "hist": np.zeros((K, NB)),
            "fscale": np.zeros(K),
            "pscale": np.zeros(NP),
            "pcount": np.zeros(NP),
            "dprof": np.zeros(DAY_BINS),
            "dseen": np.zeros(DAY_BINS),
            "wprof": np.zeros(DAY_BINS * 7),
            "wseen": np.zeros(DAY_BINS * 7),
            "ring": np.zeros(w),
            "ring2": np.zeros(w),
        }

    def update(
        self, state: Any, timestamps: np.ndarray, values: np.ndarray
    ) -> tuple[DetectionResult, Any]:
        new = {
            k: np.array(state[k], dtype=np.float64, copy=True) for k in STATE_KEYS
        }  # never mutate the caller's state
        n = values.shape[0]
        scores = np.empty(n)
        expected = np.empty(n)
        band = np.empty(n)
        adaptive_run(  # type: ignore[call-arg]
            np.ascontiguousarray(timestamps, dtype=np.float64),
            np.ascontiguousarray(values, dtype=np.float64),
            self.params,
            *(new[k] for k in STATE_KEYS),
            scores,
            expected,
            band,
        )
        return DetectionResult(
            scores=scores, expected=expected, lower=expected - band, upper=expected + band
        ), new

    def dump_state(self, state: Any) -> bytes:
        return arrays_dump(
            version=self.STATE_VERSION, arrays={k: np.asarray(state[k]) for k in STATE_KEYS}
        )

    def load_state(self, data: bytes) -> Any:
        if not data:
            return self.initial_state()
        return arrays_load_checked(
            data, version=self.STATE_VERSION, template=self.initial_state(), name=self.name
        )

