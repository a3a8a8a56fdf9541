"""NAB-style evaluation in memory: load a labelled set, make its short/hourly variants, score with NAB's rules.

The rules are those of the Numenta Anomaly Benchmark (v1.1, as implemented by the project's stand-alone
scorer `../shared/nab/nab_score.py`): a probation period (the first 15 % of a file, at most 750 rows) is
ignored, the earliest detection inside a labelled window earns up to 1 (a sigmoid of its position), a
missed window costs ``fn``, a detection outside costs ``fp`` times the sigmoid of its distance from the
preceding window, one threshold is chosen for the whole set (the best; ties keep the higher one), and the
raw score is normalised between "the best constant output" (0) and "every window at its first row" (100).
Re-implemented with numpy so cross-validation can sweep thresholds over many scorings in seconds; a test
and the backtest command's ``--check-scorer`` compare it with the stand-alone scorer.

The variants reproduce ``../shared/nab/variants.py`` (same rules, in memory):
``short`` cuts a 700-row segment ending 140 rows after each anomaly and re-windows it with NAB's rule;
``hourly`` turns series sampled more often than hourly into hourly means and maps the windows.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .backtest import series_csv_read

PROBATION_FRACTION = 0.15
PROBATION_CAP = 750.0  # NAB: 15 % of at most 5,000 rows
PROFILES: dict[str, tuple[float, float, float]] = {  # name: (tp, fp, fn) weights, NAB's profiles.json
    "standard": (1.0, 0.11, 1.0),
    "low_fp": (1.0, 0.22, 1.0),
    "low_fn": (1.0, 0.11, 2.0),
}
VARIANTS = ("dev", "short", "hourly")
SHORT_ROWS = 700  # variants.py default


def _curve(p: np.ndarray) -> np.ndarray:
    """NAB's scaled sigmoid: +0.987 at p = -1 (window start), 0 at p = 0, -1 beyond p = 3."""
    return np.where(p > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * np.minimum(p, 50.0))) - 1.0)


PEAK = float(_curve(np.array([-1.0]))[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class NabFile:
    """One labelled series: values, epoch-second timestamps and windows as inclusive row spans."""

    rel: str  # "<family>/<file>.csv"
    timestamps: np.ndarray
    values: np.ndarray
    spans: tuple[tuple[int, int], ...]
    curve: np.ndarray = field(init=False, repr=False, compare=False)
    win: np.ndarray = field(init=False, repr=False, compare=False)
    skip: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = self.values.shape[0]
        curve = np.full(n, -1.0)
        win = np.full(n, -1, dtype=np.int64)
        idx = np.arange(n, dtype=np.float64)
        spans = sorted(self.spans)
        for k, (a, b) in enumerate(spans):
            width = b - a + 1
            curve[a : b + 1] = _curve(-(b - idx[a : b + 1] + 1.0) / width)
            win[a : b + 1] = k
            stop = spans[k + 1][0] if k + 1 < len(spans) else n
            if stop > b + 1:
                curve[b + 1 : stop] = _curve(np.abs(idx[b + 1 : stop] - b) / max(width - 1, 1))
        object.__setattr__(self, "curve", curve)
        object.__setattr__(self, "win", win)
        object.__setattr__(self, "skip", min(math.floor(PROBATION_FRACTION * n), PROBATION_CAP))

    @property
    def family(self) -> str:
        return self.rel.split("/")[0]

    @property
    def scorable(self) -> np.ndarray:
        return np.arange(self.values.shape[0]) >= self.skip

    @property
    def live_windows(self) -> int:
        """Windows with at least one row after probation."""
        return len({int(w) for w in self.win[self.scorable] if w >= 0})


def _epoch(texts: list[str]) -> np.ndarray:
    return np.array([t.strip()[:26] for t in texts], dtype="datetime64[us]").astype(np.int64) / 1e6


def nab_load(*, data_dir: Path, labels: Path) -> list[NabFile]:
    """Every labelled CSV of a NAB-style folder (``labels`` maps "<family>/<file>.csv" to windows)."""
    windows = json.loads(labels.read_text())
    files = []
    for rel in sorted(windows):
        csv = series_csv_read(path=data_dir / rel)
        ts = csv.timestamps
        spans = []
        for start, end in windows[rel]:
            a, b = np.searchsorted(ts, _epoch([start, end]))
            spans.append((int(a), int(b)))
        files.append(NabFile(rel=rel, timestamps=ts, values=csv.values, spans=tuple(spans)))
    return files


# --- variants (same rules as ../shared/nab/variants.py) ---


def _row_of(ts: np.ndarray, t: float) -> int:
    """Index of the last row at or before t (0 if t precedes every row)."""
    return max(int(np.searchsorted(ts, t, side="right")) - 1, 0)


def _nab_windows(centres: list[int], n: int) -> list[tuple[int, int]]:
    probation = min(int(0.15 * n), 750)
    out: list[list[int]] = []
    if centres:
        half = int(0.10 * n / len(centres)) // 2
        for c in sorted(centres):
            a, b = max(0, c - half), min(n - 1, c + half)
            if b < probation:
                continue
            if out and a <= out[-1][1]:
                out[-1][1] = max(out[-1][1], b)
            else:
                out.append([a, b])
    return [(a, b) for a, b in out]


def variant_short(files: list[NabFile], *, rows: int = SHORT_ROWS) -> list[NabFile]:
    """A segment of ``rows`` rows ending rows//5 after each anomaly (window centre), re-windowed."""
    out = []
    for f in files:
        centres = sorted((a + b) // 2 for a, b in f.spans)
        n = f.values.shape[0]
        segments = []
        for i, c in enumerate(centres):
            stop = min(n, c + rows // 5 + 1)
            segments.append((f"{f.rel[:-4]}__a{i}.csv", max(0, stop - rows), stop))
        if not segments:
            segments.append((f.rel, 0, min(n, rows)))
        for name, a, b in segments:
            inside = [c - a for c in centres if a <= c < b]
            out.append(
                NabFile(
                    rel=name,
                    timestamps=f.timestamps[a:b],
                    values=f.values[a:b],
                    spans=tuple(_nab_windows(inside, b - a)),
                )
            )
    return sorted(out, key=lambda f: f.rel)


def variant_hourly(files: list[NabFile]) -> list[NabFile]:
    """Series sampled more often than hourly become hourly means (empty hours skipped); windows mapped."""
    out = []
    for f in files:
        steps = np.sort(np.diff(f.timestamps))
        step = steps[len(steps) // 2] if steps.size else 3600.0
        if step >= 3600:
            out.append(f)
            continue
        hour = np.floor(f.timestamps / 3600.0) * 3600.0
        hours, inverse = np.unique(hour, return_inverse=True)
        means = np.bincount(inverse, weights=f.values) / np.bincount(inverse)
        spans: list[list[int]] = []
        for a_row, b_row in f.spans:
            a = _row_of(hours, hour[a_row])
            b = _row_of(hours, hour[b_row])
            if spans and a <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], b)
            else:
                spans.append([a, b])
        out.append(
            NabFile(rel=f.rel, timestamps=hours, values=means, spans=tuple((a, b) for a, b in spans))
        )
    return out


def nab_variant(files: list[NabFile], variant: str) -> list[NabFile]:
    if variant == "short":
        return variant_short(files)
    if variant == "hourly":
        return variant_hourly(files)
    if variant == "dev":
        return files
    raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")


# --- scoring ---


@dataclass(frozen=True, slots=True, kw_only=True)
class NabResult:
    score: float  # normalised, 0 = best constant output, 100 = perfect
    threshold: float
    raw: float
    hit: int
    windows: int
    false_detections: int


def _parts(files: list[NabFile], scores: list[np.ndarray], thresholds: list[float]) -> dict[str, float]:
    tp = fp = 0.0
    hit = missed = fp_rows = 0
    for f, s, t in zip(files, scores, thresholds, strict=True):
        det = (s >= t) & f.scorable
        out = det & (f.win < 0)
        fp += float(f.curve[out].sum())
        fp_rows += int(out.sum())
        live = {int(w) for w in f.win[f.scorable] if w >= 0}
        for w in live:
            rows = det & (f.win == w)
            if rows.any():
                tp += float(f.curve[rows].max())
                hit += 1
            else:
                missed += 1
    return {"tp": tp, "fp": fp, "hit": hit, "missed": missed, "fp_rows": fp_rows}


def _raw(parts: dict[str, float], weights: tuple[float, float, float]) -> float:
    tpw, fpw, fnw = weights
    return tpw / PEAK * parts["tp"] + fpw * parts["fp"] - fnw * parts["missed"]


def nab_null_and_perfect(files: list[NabFile], weights: tuple[float, float, float]) -> tuple[float, float]:
    ones = [np.ones(f.values.shape[0]) for f in files]
    nothing = _raw(_parts(files, ones, [math.inf] * len(files)), weights)
    everything = _raw(_parts(files, ones, [-math.inf] * len(files)), weights)
    return max(nothing, everything), weights[0] * sum(len(f.spans) for f in files)


def nab_sweep(
    files: list[NabFile],
    scores: list[np.ndarray],
    *,
    profile: str = "standard",
    candidates: np.ndarray | None = None,
) -> tuple[float, float]:
    """Best raw score over every threshold (each observed score, plus "detect nothing") and that threshold.

    ``candidates`` restricts the thresholds to those values (plus "detect nothing").
    """
    weights = PROFILES[profile]
    tpw, fpw, fnw = weights
    s_all, c_all, w_all = [], [], []
    base = 0
    live = 0
    for f, s in zip(files, scores, strict=True):
        keep = f.scorable
        w = f.win[keep]
        s_all.append(s[keep])
        c_all.append(f.curve[keep])
        w_all.append(np.where(w >= 0, w + base, -1))
        base += len(f.spans)
        live += f.live_windows
    s = np.concatenate(s_all)
    c = np.concatenate(c_all)
    w = np.concatenate(w_all)
    order = np.argsort(-s, kind="stable")
    s, c, w = s[order], c[order], w[order]
    gain = np.where(w < 0, fpw * c, 0.0)
    found = np.zeros(s.shape[0])
    for k in np.unique(w[w >= 0]):
        at = np.flatnonzero(w == k)
        best = np.maximum.accumulate(c[at])
        inc = np.diff(best, prepend=0.0)
        gain[at] += tpw / PEAK * inc
        found[at[0]] = fnw
    value = np.cumsum(gain + found) - fnw * live
    last = np.flatnonzero(np.append(s[1:] != s[:-1], True))  # the last row of each distinct score
    values = np.concatenate([[-fnw * live], value[last]])
    levels = np.concatenate([[math.inf], s[last]])
    if candidates is not None:
        # For each candidate t: the value once every row with score >= t is a detection.
        at = np.searchsorted(-levels, -np.asarray(candidates, dtype=np.float64), side="right") - 1
        values = np.concatenate([[values[0]], values[at]])
        levels = np.concatenate([[math.inf], np.asarray(candidates, dtype=np.float64)])
    k = int(np.argmax(values))
    return float(values[k]), float(levels[k])


def nab_score(
    files: list[NabFile],
    scores: list[np.ndarray],
    *,
    profile: str = "standard",
    thresholds: list[float] | None = None,
) -> NabResult:
    """Normalised NAB score; the best single threshold unless per-file ``thresholds`` are given."""
    weights = PROFILES[profile]
    if thresholds is None:
        _, t = nab_sweep(files, scores, profile=profile)
        thresholds = [t] * len(files)
    parts = _parts(files, scores, thresholds)
    raw = _raw(parts, weights)
    null, perfect = nab_null_and_perfect(files, weights)
    norm = 100.0 * (raw - null) / (perfect - null) if perfect != null else float("nan")
    return NabResult(
        score=norm,
        threshold=thresholds[0],
        raw=raw,
        hit=int(parts["hit"]),
        windows=int(parts["hit"] + parts["missed"]),
        false_detections=int(parts["fp_rows"]),
    )


def family_score(
    files: list[NabFile], scores: list[np.ndarray], threshold: float, *, profile: str = "standard"
) -> tuple[float | None, float]:
    """NAB's per-category view at a corpus threshold: (normalised with null = miss every window, raw)."""
    weights = PROFILES[profile]
    raw = _raw(_parts(files, scores, [threshold] * len(files)), weights)
    wins = sum(len(f.spans) for f in files)
    tpw, _, fnw = weights
    return (100.0 * (raw + fnw * wins) / ((tpw + fnw) * wins) if wins else None), raw
