"""Constants of the `blend` detector beyond those it shares with `adaptive` (see `adaptive_params`).

Constants are in time where they mean time (suppression) and in points where they mean sample counts
(statistical memory). The four marked "CV" were chosen by leave-one-family-out cross-validation over
the NAB dev families (`manage.py backtest --nab ../shared/nab --cv families`): the grid is `CV_GRID`,
and every fold picked the value given here (see the README for the printed figures).
"""

from __future__ import annotations

import numpy as np

from .adaptive_params import PARAMS as ADAPTIVE_PARAMS

# A detection damps its echoes for this long: one incident, one page. 5 h is what the adaptive detector's
# 60 points meant at the 5-minute sampling it was written for; at hourly sampling that is 5 points, not 2.5
# days. CV.
SUPPRESS_SECONDS = 5 * 3600.0
# Weight of the robust prior = H / (H + n), n the points the histograms learnt from: half-way after H
# points. CV.
HANDOVER = 300.0
# A damped episode ends once this many points in a row scored under CALM_LEVEL: a second anomaly soon
# after the first is not hidden behind it. CV.
CALM_POINTS = 12.0
# Surprise (as a score) under which a point counts as calm: p ~ 0.03. CV.
CALM_LEVEL = 1.5 / 6.0
# The prior scores from the 10th point: a median/MAD of 10 points already says "far outside".
PRIOR_FROM = 10
# Surprise per robust z under a Laplace tail: P(|x - m| > z sigma) = exp(-1.028 z), -log10 = 0.446 z
# (z = 10 reaches the alert level). A heavier tail than Gaussian: robust, since it is the uncalibrated part.
PRIOR_PER_Z = 1.028 / np.log(10.0)
# Robust prior window: a day of 5-minute points, as the robust_z baseline.
PRIOR_WINDOW = 288

S_CALM = 12  # extra scalar slot after adaptive's 12
N_SCALARS = 13

PARAMS = np.concatenate([ADAPTIVE_PARAMS, [SUPPRESS_SECONDS, HANDOVER, CALM_POINTS, CALM_LEVEL, PRIOR_PER_Z]])
P_SUPPRESS_SECONDS, P_HANDOVER, P_CALM_POINTS, P_CALM_LEVEL, P_PRIOR_PER_Z = 17, 18, 19, 20, 21
