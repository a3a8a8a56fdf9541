"""Drift statistics agree with scipy on known data, and the large-sample guard holds."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from models_registry.statistics import drift

RNG_SEED = 20130101


def _rng():
    return np.random.default_rng(RNG_SEED)


@pytest.mark.parametrize(
    ("name", "n1", "n2", "shift", "scale"),
    [
        ("same_distribution_small", 300, 250, 0.0, 1.0),
        ("location_shift_small", 400, 500, 0.3, 1.0),
        ("same_distribution_medium", 5_000, 4_000, 0.0, 1.0),
        ("scale_change_medium", 5_000, 6_000, 0.0, 1.3),
        ("location_shift_large", 60_000, 50_000, 0.02, 1.0),
        ("same_distribution_large", 100_000, 100_000, 0.0, 1.0),
    ],
)
def test_ks_statistic_and_p_value_match_scipy(name, n1, n2, shift, scale):
    rng = _rng()
    ref = rng.normal(0, 1, n1)
    cur = rng.normal(shift, scale, n2)
    ours = drift.ks_2samp(ref, cur)
    method = "exact" if max(n1, n2) <= drift.KS_EXACT_MAX_N else "asymp"
    theirs = stats.ks_2samp(ref, cur, method=method)
    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-12)
    # Kolmogorov's limit replaces Smirnov's distribution at large sizes: a few % relative.
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=0.05, abs=1e-12)


def test_ks_statistic_handles_ties_like_scipy():
    rng = _rng()
    ref = rng.integers(0, 24, 20_000).astype(float)  # an hour-of-day feature: heavy ties
    cur = rng.integers(2, 24, 15_000).astype(float)
    assert drift.ks_2samp(ref, cur).statistic == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)


@pytest.mark.parametrize(
    ("name", "ref_p", "cur_p", "n"),
    [
        ("unchanged_mix", [0.5, 0.3, 0.2], [0.5, 0.3, 0.2], 2_000),
        ("one_carrier_grows", [0.4, 0.3, 0.2, 0.1], [0.25, 0.3, 0.2, 0.25], 3_000),
        ("new_category_appears", [0.6, 0.4, 0.0], [0.5, 0.3, 0.2], 1_500),
    ],
)
def test_chi_square_matches_scipy_contingency(name, ref_p, cur_p, n):
    rng = _rng()
    labels = np.array(["AA", "B6", "DL", "UA"][: len(ref_p)])
    ref = rng.choice(labels, size=n, p=ref_p)
    cur = rng.choice(labels, size=n + 321, p=cur_p)
    ours = drift.chi_square(ref, cur)
    table = np.array([[np.sum(ref == c) for c in labels], [np.sum(cur == c) for c in labels]])
    table = table[:, table.sum(axis=0) > 0]
    chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
    assert ours.statistic == pytest.approx(chi2, rel=1e-10)
    assert ours.p_value == pytest.approx(p, rel=1e-8, abs=1e-300)
    assert ours.dof == dof
    assert ours.cramers_v == pytest.approx(stats.contingency.association(table, method="cramer"), rel=1e-10)


def test_psi_of_identical_samples_is_zero_and_grows_with_the_shift():
    rng = _rng()
    ref = rng.normal(0, 1, 50_000)
    assert drift.psi_numeric(ref, ref) == pytest.approx(0.0, abs=1e-12)
    psis = [drift.psi_numeric(ref, rng.normal(shift, 1, 50_000)) for shift in (0.0, 0.25, 0.5, 1.0)]
    assert psis == sorted(psis)
    assert psis[0] < 0.01 and psis[-1] > drift.PSI_DRIFT


def test_psi_matches_the_textbook_formula_on_deciles():
    rng = _rng()
    ref = rng.normal(0, 1, 10_000)
    cur = rng.normal(0.4, 1.2, 8_000)
    edges = np.quantile(ref, np.linspace(0, 1, 11))[1:-1]
    ref_share = np.histogram(ref, bins=np.concatenate(([-np.inf], edges, [np.inf])))[0] / ref.size
    cur_share = np.histogram(cur, bins=np.concatenate(([-np.inf], edges, [np.inf])))[0] / cur.size
    expected = np.sum((cur_share - ref_share) * np.log(cur_share / ref_share))
    assert drift.psi_numeric(ref, cur) == pytest.approx(expected, rel=0.02)


def test_an_empty_bin_gives_a_large_finite_psi_thanks_to_the_epsilon():
    ref = np.arange(1_000, dtype=float)
    cur = np.full(500, 2_000.0)  # everything lands in the top bin
    psi = drift.psi_numeric(ref, cur)
    assert np.isfinite(psi) and psi > 1.0


def test_a_tiny_shift_on_200k_rows_is_significant_but_not_drifted():
    rng = _rng()
    ref = rng.normal(0, 1, 200_000)
    cur = rng.normal(0.03, 1, 200_000)  # 3 % of a standard deviation: harmless
    result = drift.feature_drift(feature="distance", reference=ref, current=cur)
    assert result.p_value < 1e-10  # "significant" by any p-value rule...
    assert result.psi < drift.PSI_MODERATE and result.statistic < drift.KS_DRIFT
    assert not result.drifted  # ...but the effect size guard keeps it quiet
    assert result.level == "none"


def test_a_real_shift_on_200k_rows_is_drifted():
    rng = _rng()
    result = drift.feature_drift(
        feature="dep_delay", reference=rng.normal(0, 1, 200_000), current=rng.normal(0.6, 1, 200_000)
    )
    assert result.drifted and result.level == "drifted"


def test_a_large_psi_on_a_handful_of_rows_is_not_drifted_without_significance():
    rng = _rng()
    ref = rng.normal(0, 1, 5_000)
    cur = rng.normal(0, 1, 12)  # 12 rows: PSI is noisy, the exact KS test is not fooled
    result = drift.feature_drift(feature="x", reference=ref, current=cur)
    assert result.psi >= drift.PSI_DRIFT
    assert result.p_value >= drift.ALPHA
    assert not result.drifted


def test_categorical_drift_uses_cramers_v_and_ignores_tiny_mix_changes_at_scale():
    rng = _rng()
    labels = np.array(["EWR", "JFK", "LGA"])
    ref = rng.choice(labels, 200_000, p=[0.36, 0.33, 0.31])
    tiny = rng.choice(labels, 200_000, p=[0.35, 0.34, 0.31])
    big = rng.choice(labels, 200_000, p=[0.15, 0.55, 0.30])
    quiet = drift.feature_drift(feature="origin", reference=ref, current=tiny, kind=drift.CATEGORICAL)
    loud = drift.feature_drift(feature="origin", reference=ref, current=big, kind=drift.CATEGORICAL)
    assert quiet.p_value < 1e-6 and not quiet.drifted
    assert loud.drifted and loud.statistic_name == "cramers_v" and loud.statistic >= drift.CRAMERS_V_DRIFT


def test_report_covers_every_feature_infers_kinds_and_skips_missing_values():
    rng = _rng()
    ref = {"distance": rng.normal(1000, 300, 3_000), "carrier": rng.choice(["AA", "UA"], 3_000)}
    cur_distance = rng.normal(1600, 300, 2_000)
    cur_distance[:200] = np.nan
    cur = {"distance": cur_distance, "carrier": rng.choice(["AA", "UA"], 2_000)}
    report = drift.drift_report(reference=ref, current=cur)
    by_name = report.by_feature()
    assert set(by_name) == {"distance", "carrier"}
    assert by_name["carrier"].kind == drift.CATEGORICAL and not by_name["carrier"].drifted
    assert by_name["distance"].kind == drift.NUMERIC and by_name["distance"].drifted
    assert by_name["distance"].n_current == 1_800
    assert by_name["distance"].missing_current == pytest.approx(0.1)
    assert report.share_drifted == 0.5 and report.max_psi == by_name["distance"].psi
