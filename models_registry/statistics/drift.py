"""Per-feature data drift of a current sample against a training reference (PSI, KS, chi-square).

Decision rule (the large-sample guard): a feature is *drifted* only when an effect size passes
its threshold (PSI, KS distance or Cramér's V) AND the test says the shift is not sampling noise.
With 100k rows every tiny, harmless shift has p < 1e-10, so p-values alone would page on
everything; with 200 rows a PSI of 0.25 can be pure noise, so the effect size alone would too.
Requiring both keeps the rule honest at either end.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

NUMERIC = "numeric"
CATEGORICAL = "categorical"

PSI_BINS = 10  # industry convention: deciles of the reference
PSI_EPSILON = 1e-4  # floor for an empty bin's share; avoids log(0) and caps one empty bin's weight
PSI_MODERATE = 0.1  # industry convention: 0.1–0.2 a moderate shift worth a look
PSI_DRIFT = 0.2  # industry convention: >0.2 is a significant shift
KS_DRIFT = 0.1  # max CDF gap of 10 points: visible on a plot, well above noise at monitor sizes
CRAMERS_V_DRIFT = 0.1  # Cohen's "small" effect for a 2xk table; below it the mix barely moved
ALPHA = 0.05  # the test must reject "same distribution" at 5% before an effect size counts
KS_EXACT_MAX_N = 1000  # exact KS p-value below this (cheap, asymptotic is poor); Smirnov above
# Above this effective size scipy's kstwo.sf costs ~80 ms per call (most of a 20-feature report);
# Kolmogorov's limit with Stephens' small-sample correction is within ~2 % of it there.
KS_LIMIT_MIN_EN = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftThresholds:
    psi: float = PSI_DRIFT
    psi_moderate: float = PSI_MODERATE
    ks: float = KS_DRIFT
    cramers_v: float = CRAMERS_V_DRIFT
    alpha: float = ALPHA
    bins: int = PSI_BINS


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureDrift:
    feature: str
    kind: str  # NUMERIC | CATEGORICAL
    n_reference: int
    n_current: int
    psi: float
    statistic_name: str  # "ks" for numeric, "cramers_v" for categorical
    statistic: float  # the effect size of the test (KS distance D, Cramér's V)
    test_statistic: float  # KS D, or the chi-square statistic
    p_value: float
    drifted: bool
    level: str  # "none" | "moderate" | "drifted"
    missing_reference: float = 0.0  # share of missing values in each sample
    missing_current: float = 0.0

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftReport:
    features: tuple[FeatureDrift, ...]
    thresholds: DriftThresholds = field(default_factory=DriftThresholds)

    @property
    def drifted(self) -> tuple[FeatureDrift, ...]:
        return tuple(f for f in self.features if f.drifted)

    @property
    def share_drifted(self) -> float:
        return len(self.drifted) / len(self.features) if self.features else 0.0

    @property
    def max_psi(self) -> float:
        return max((f.psi for f in self.features), default=0.0)

    def by_feature(self) -> dict[str, FeatureDrift]:
        return {f.feature: f for f in self.features}


@dataclass(frozen=True, slots=True, kw_only=True)
class KSResult:
    statistic: float
    p_value: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ChiSquareResult:
    statistic: float
    p_value: float
    dof: int
    cramers_v: float


# --- numeric ---------------------------------------------------------------------------------


def ks_statistic_sorted(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> float:
    """Two-sample KS distance of two *sorted* samples.

    The gap between the empirical CDFs is largest at a sample point, so evaluating both CDFs at
    every point of both samples finds it. side="right" counts ties fully (same as scipy).
    Sorted queries keep numpy's binary search cheap (it reuses the previous bound).
    """
    n1, n2 = ref_sorted.size, cur_sorted.size
    # At the reference points: F_ref jumps to searchsorted(ref, x, right)/n1.
    d_ref = np.searchsorted(ref_sorted, ref_sorted, side="right") / n1 - np.searchsorted(
        cur_sorted, ref_sorted, side="right"
    ) / n2
    d_cur = np.searchsorted(ref_sorted, cur_sorted, side="right") / n1 - np.searchsorted(
        cur_sorted, cur_sorted, side="right"
    ) / n2
    return float(max(np.abs(d_ref).max(), np.abs(d_cur).max()))


def ks_p_value(statistic: float, n1: int, n2: int) -> float:
    """Two-sided p-value of a KS distance: Smirnov's distribution at the effective size (as scipy's
    "asymp" mode), or Kolmogorov's limiting distribution once the effective size is large."""
    m, n = max(n1, n2), min(n1, n2)
    en = m * n / (m + n)
    if en >= KS_LIMIT_MIN_EN:
        root = math.sqrt(en)
        p = stats.kstwobign.sf((root + 0.12 + 0.11 / root) * statistic)
    else:
        p = stats.kstwo.sf(statistic, round(en))
    return float(np.clip(p, 0.0, 1.0))


def ks_2samp(reference: np.ndarray, current: np.ndarray) -> KSResult:
    """KS two-sample test; statistic by searchsorted, p-value exact for small samples."""
    ref_sorted = np.sort(np.asarray(reference, dtype=np.float64))
    cur_sorted = np.sort(np.asarray(current, dtype=np.float64))
    return _ks_sorted(ref_sorted, cur_sorted)


def _ks_sorted(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> KSResult:
    if ref_sorted.size == 0 or cur_sorted.size == 0:
        return KSResult(statistic=0.0, p_value=1.0)
    if max(ref_sorted.size, cur_sorted.size) <= KS_EXACT_MAX_N:
        exact = stats.ks_2samp(ref_sorted, cur_sorted, method="exact")
        return KSResult(statistic=float(exact.statistic), p_value=float(exact.pvalue))
    d = ks_statistic_sorted(ref_sorted, cur_sorted)
    return KSResult(statistic=d, p_value=ks_p_value(d, ref_sorted.size, cur_sorted.size))


def psi_from_shares(ref_share: np.ndarray, cur_share: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    ref = np.clip(ref_share, epsilon, None)
    cur = np.clip(cur_share, epsilon, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def quantile_edges(ref_sorted: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """Interior bin edges at the reference's quantiles; ties collapse bins (a 70 % zero feature
    gets one bin for the zeros rather than seven empty ones)."""
    n = ref_sorted.size
    positions = (np.arange(1, bins) * n) // bins
    return np.unique(ref_sorted[np.clip(positions, 0, n - 1)])


def _bin_shares(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    # Bins are (-inf, e1], (e1, e2], ..., (ek, inf): counts from cumulative positions.
    cum = np.searchsorted(sorted_values, edges, side="right")
    counts = np.diff(np.concatenate(([0], cum, [sorted_values.size])))
    return counts / max(sorted_values.size, 1)


def psi_numeric_sorted(
    ref_sorted: np.ndarray, cur_sorted: np.ndarray, *, bins: int = PSI_BINS, epsilon: float = PSI_EPSILON
) -> float:
    if ref_sorted.size == 0 or cur_sorted.size == 0:
        return 0.0
    edges = quantile_edges(ref_sorted, bins)
    return psi_from_shares(_bin_shares(ref_sorted, edges), _bin_shares(cur_sorted, edges), epsilon)


def psi_numeric(reference: np.ndarray, current: np.ndarray, *, bins: int = PSI_BINS) -> float:
    return psi_numeric_sorted(
        np.sort(np.asarray(reference, dtype=np.float64)), np.sort(np.asarray(current, dtype=np.float64)), bins=bins
    )


# --- categorical -----------------------------------------------------------------------------


def _category_counts(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts of each category (union of both samples) in the reference and the current sample."""
    ref = np.asarray(reference).astype(str)
    cur = np.asarray(current).astype(str)
    categories, inverse = np.unique(np.concatenate([ref, cur]), return_inverse=True)
    ref_counts = np.bincount(inverse[: ref.size], minlength=categories.size)
    cur_counts = np.bincount(inverse[ref.size :], minlength=categories.size)
    return ref_counts, cur_counts


def chi_square(reference: np.ndarray, current: np.ndarray) -> ChiSquareResult:
    """Chi-square test of homogeneity on the 2 x k table (no Yates correction) and Cramér's V."""
    ref_counts, cur_counts = _category_counts(reference, current)
    return chi_square_counts(ref_counts, cur_counts)


def chi_square_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> ChiSquareResult:
    table = np.vstack([ref_counts, cur_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    n = table.sum()
    if table.shape[1] < 2 or table[0].sum() == 0 or table[1].sum() == 0:
        return ChiSquareResult(statistic=0.0, p_value=1.0, dof=0, cramers_v=0.0)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    # Cramér's V = sqrt(chi2 / (n * (min(rows, cols) - 1))); rows = 2 so the divisor is n.
    return ChiSquareResult(
        statistic=chi2, p_value=float(stats.chi2.sf(chi2, dof)), dof=dof, cramers_v=math.sqrt(chi2 / n)
    )


def psi_categorical(reference: np.ndarray, current: np.ndarray, *, epsilon: float = PSI_EPSILON) -> float:
    ref_counts, cur_counts = _category_counts(reference, current)
    return psi_from_shares(ref_counts / max(ref_counts.sum(), 1), cur_counts / max(cur_counts.sum(), 1), epsilon)


# --- one feature, one report -----------------------------------------------------------------


def _level(psi: float, drifted: bool, thresholds: DriftThresholds) -> str:
    if drifted:
        return "drifted"
    return "moderate" if psi >= thresholds.psi_moderate else "none"


def _missing_mask(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in "fc":
        return np.isnan(values)
    if values.dtype.kind == "O":
        return np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in values], dtype=bool)
    return np.zeros(values.shape, dtype=bool)


def infer_kind(values: np.ndarray) -> str:
    return NUMERIC if np.asarray(values).dtype.kind in "biuf" else CATEGORICAL


def feature_drift(
    *,
    feature: str,
    reference: np.ndarray,
    current: np.ndarray,
    kind: str | None = None,
    thresholds: DriftThresholds | None = None,
) -> FeatureDrift:
    th = thresholds or DriftThresholds()
    reference, current = np.asarray(reference), np.asarray(current)
    kind = kind or infer_kind(reference)
    ref_missing, cur_missing = _missing_mask(reference), _missing_mask(current)
    ref, cur = reference[~ref_missing], current[~cur_missing]
    common: dict[str, Any] = {
        "feature": feature,
        "kind": kind,
        "n_reference": int(ref.size),
        "n_current": int(cur.size),
        "missing_reference": float(ref_missing.mean()) if reference.size else 0.0,
        "missing_current": float(cur_missing.mean()) if current.size else 0.0,
    }
    if kind == NUMERIC:
        ref_sorted = np.sort(ref.astype(np.float64))
        cur_sorted = np.sort(cur.astype(np.float64))
        psi = psi_numeric_sorted(ref_sorted, cur_sorted, bins=th.bins)
        ks = _ks_sorted(ref_sorted, cur_sorted)
        significant = ks.p_value < th.alpha
        drifted = significant and (psi >= th.psi or ks.statistic >= th.ks)
        return FeatureDrift(
            **common,
            psi=psi,
            statistic_name="ks",
            statistic=ks.statistic,
            test_statistic=ks.statistic,
            p_value=ks.p_value,
            drifted=drifted,
            level=_level(psi, drifted, th),
        )
    ref_counts, cur_counts = _category_counts(ref, cur)
    psi = psi_from_shares(ref_counts / max(ref_counts.sum(), 1), cur_counts / max(cur_counts.sum(), 1))
    chi = chi_square_counts(ref_counts, cur_counts)
    drifted = chi.p_value < th.alpha and (psi >= th.psi or chi.cramers_v >= th.cramers_v)
    return FeatureDrift(
        **common,
        psi=psi,
        statistic_name="cramers_v",
        statistic=chi.cramers_v,
        test_statistic=chi.statistic,
        p_value=chi.p_value,
        drifted=drifted,
        level=_level(psi, drifted, th),
    )


def drift_report(
    *,
    reference: Mapping[str, np.ndarray],
    current: Mapping[str, np.ndarray],
    features: Iterable[str] | None = None,
    categorical: Iterable[str] = (),
    thresholds: DriftThresholds | None = None,
) -> DriftReport:
    """Drift of every feature present in both samples (a DataFrame works as the mapping)."""
    th = thresholds or DriftThresholds()
    names = list(features) if features is not None else [c for c in reference if c in current]
    categorical = set(categorical)
    results = []
    for name in names:
        ref_values = np.asarray(reference[name])
        kind = CATEGORICAL if name in categorical else infer_kind(ref_values)
        results.append(
            feature_drift(
                feature=name, reference=ref_values, current=np.asarray(current[name]), kind=kind, thresholds=th
            )
        )
    return DriftReport(features=tuple(results), thresholds=th)
