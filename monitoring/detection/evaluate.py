"""Labelled evaluation of detectors: NAB scores per family, leave-one-family-out CV, false pages per week.

Used by ``manage.py backtest --nab DIR`` (see the README section "Anomaly detection"). The tuning
protocol: every tunable choice of the default detector is a point of ``CV_GRID``; for each family of
the labelled set, the grid point and the alert threshold are chosen on the *other* families, then the
family is scored with them. The cross-validated score pools those held-out scorings (each family scored
by a detector that never saw it); the in-sample score chooses on everything. A method whose CV score
sits far below its in-sample one has fitted the files, not the problem.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .backtest import series_backtest
from .detectors.blend import BlendDetector
from .detectors.blend_params import P_CALM_POINTS, P_HANDOVER, PARAMS
from .nab import NabFile, family_score, nab_score, nab_sweep
from .registry import get_detector

# The CV grid of the default detector: (name, parameter index, candidate values). Small on purpose:
# a handful of principled alternatives, not a search.
CV_GRID: tuple[tuple[str, int, tuple[float, ...]], ...] = (
    ("handover", P_HANDOVER, (0.0, 30.0, 100.0)),  # robust prior's half-weight point (0 = no prior)
    ("calm_points", P_CALM_POINTS, (12.0, math.inf)),  # calm points that end a suppression (inf = never)
)
WEEK = 7 * 86400.0
PAGE_GAP = 5 * 3600.0  # detections closer than this to the previous one belong to the same page


@dataclass(frozen=True, slots=True, kw_only=True)
class Scored:
    scores: list[np.ndarray]
    points: int
    cpu_seconds: float

    @property
    def points_per_cpu_second(self) -> float:
        return self.points / self.cpu_seconds if self.cpu_seconds > 0 else float("inf")


def files_score(
    files: list[NabFile],
    *,
    detector_name: str | None = None,
    per_series: dict[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Scored:
    """Score every file through the live path (live-sized batches, state dumped/reloaded between them).

    ``per_series`` maps a glob on "<family>/<file>.csv" to a detector name (first match wins).
    """
    for name in {detector_name, *(per_series or {}).values()}:
        det = get_detector(name)
        det.update(det.initial_state(), np.zeros(1), np.zeros(1))  # JIT load outside the timing
    out = []
    points = 0
    cpu = 0.0
    for f in files:
        name = detector_name
        for pattern, chosen in (per_series or {}).items():
            if fnmatch.fnmatch(f.rel, pattern):
                name = chosen
                break
        started = time.process_time()
        out.append(series_backtest(detector_name=name, timestamps=f.timestamps, values=f.values))
        cpu += time.process_time() - started
        points += f.values.shape[0]
        if progress:
            progress(f.values.shape[0])
    return Scored(scores=out, points=points, cpu_seconds=cpu)


def grid_points() -> list[dict[str, float]]:
    names = [g[0] for g in CV_GRID]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(g[2] for g in CV_GRID))]


def grid_params(point: dict[str, float]) -> np.ndarray:
    params = PARAMS.copy()
    for name, index, _ in CV_GRID:
        params[index] = point[name]
    return params


def _grid_scores(files: list[NabFile], point: dict[str, float]) -> list[np.ndarray]:
    det = BlendDetector(params=grid_params(point))
    return [det.update(det.initial_state(), f.timestamps, f.values)[0].scores for f in files]


@dataclass(frozen=True, slots=True, kw_only=True)
class FamilyCv:
    family: str
    chosen: dict[str, float]  # grid point chosen without this family
    threshold: float  # threshold chosen without this family
    cv: float | None  # NAB's per-category view (null = miss every window); None without windows
    cv_raw: float
    in_sample: float | None
    in_sample_raw: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CvReport:
    in_sample: float
    in_sample_point: dict[str, float]
    in_sample_threshold: float
    cv: float
    families: list[FamilyCv]


def cv_families(files: list[NabFile], *, progress: Callable[[int], None] | None = None) -> CvReport:
    """Leave-one-family-out CV of the default detector's grid (see module docstring)."""
    points = grid_points()
    scored = []
    for point in points:
        scored.append(_grid_scores(files, point))
        if progress:
            progress(1)
    families = sorted({f.family for f in files})
    idx = {fam: [i for i, f in enumerate(files) if f.family == fam] for fam in families}

    def best(keep: list[int]) -> tuple[int, float]:
        sub = [files[i] for i in keep]
        results = [nab_sweep(sub, [s[i] for i in keep]) for s in scored]
        k = max(range(len(points)), key=lambda j: results[j][0])  # first best: grid order breaks ties
        return k, results[k][1]

    k_all, t_all = best(list(range(len(files))))
    in_sample = nab_score(files, scored[k_all], thresholds=[t_all] * len(files))
    thresholds = [0.0] * len(files)
    chosen_scores: list[np.ndarray] = [np.empty(0)] * len(files)
    rows = []
    for fam in families:
        train = [i for i in range(len(files)) if files[i].family != fam]
        k, t = best(train)
        held = idx[fam]
        for i in held:
            thresholds[i] = t
            chosen_scores[i] = scored[k][i]
        cv_norm, cv_raw = family_score([files[i] for i in held], [scored[k][i] for i in held], t)
        is_norm, is_raw = family_score([files[i] for i in held], [scored[k_all][i] for i in held], t_all)
        rows.append(
            FamilyCv(
                family=fam,
                chosen=points[k],
                threshold=t,
                cv=cv_norm,
                cv_raw=cv_raw,
                in_sample=is_norm,
                in_sample_raw=is_raw,
            )
        )
    cv = nab_score(files, chosen_scores, thresholds=thresholds)
    return CvReport(
        in_sample=in_sample.score,
        in_sample_point=points[k_all],
        in_sample_threshold=t_all,
        cv=cv.score,
        families=rows,
    )


def false_pages_per_week(files: list[NabFile], scores: list[np.ndarray], threshold: float) -> dict[str, float]:
    """False pages per series per week on normal stretches, by family, at a fixed (live) threshold.

    Normal stretch: rows after NAB's probation, outside every labelled window and outside the 3 window
    widths after one (where NAB still treats a detection as related). A page is a detection more than
    ``PAGE_GAP`` after the previous detection of that series.
    """
    pages: dict[str, int] = {}
    weeks: dict[str, float] = {}
    for f, s in zip(files, scores, strict=True):
        normal = f.scorable & (f.win < 0) & (f.curve <= -1.0 + 1e-9)
        ts = f.timestamps
        gaps = np.diff(ts, prepend=ts[0])
        step = float(np.median(np.diff(ts))) if ts.shape[0] > 1 else 0.0
        weeks[f.family] = weeks.get(f.family, 0.0) + float(np.minimum(gaps, 4 * step)[normal].sum()) / WEEK
        last = -math.inf
        n_pages = 0
        for i in np.flatnonzero(s >= threshold):
            if normal[i] and ts[i] - last > PAGE_GAP:
                n_pages += 1
            last = ts[i]
        pages[f.family] = pages.get(f.family, 0) + n_pages
    return {fam: pages[fam] / weeks[fam] if weeks[fam] > 0 else 0.0 for fam in sorted(pages)}


def family_scores(files: list[NabFile], scores: list[np.ndarray], threshold: float) -> dict[str, float | None]:
    """NAB's per-category view (null = miss every window) at a corpus threshold; None for a family without
    windows (see ``family_raw``)."""
    fams = sorted({f.family for f in files})
    out = {}
    for fam in fams:
        keep = [i for i, f in enumerate(files) if f.family == fam]
        out[fam] = family_score([files[i] for i in keep], [scores[i] for i in keep], threshold)[0]
    return out


def family_raw(files: list[NabFile], scores: list[np.ndarray], threshold: float) -> dict[str, float]:
    fams = sorted({f.family for f in files})
    out = {}
    for fam in fams:
        keep = [i for i, f in enumerate(files) if f.family == fam]
        out[fam] = family_score([files[i] for i in keep], [scores[i] for i in keep], threshold)[1]
    return out
