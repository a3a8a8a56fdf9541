"""Performance, bias-per-segment and operational statistics behind the monitors."""
from __future__ import annotations

import math

import numpy as np
import pytest

from models_registry.statistics import performance


def test_regression_performance_counts_late_and_early_journeys_beyond_15_minutes():
    actual = np.array([10.0, 40.0, -20.0, 0.0, 5.0])
    predicted = np.array([10.0, 10.0, 0.0, 0.0, 0.0])  # 30 late (optimistic), 20 early (conservative)
    metrics = performance.performance_metrics(task="regression", actual=actual, predicted=predicted)
    assert metrics["n"] == 5
    assert metrics["mae"] == pytest.approx((0 + 30 + 20 + 0 + 5) / 5)
    assert metrics["too_optimistic_share"] == pytest.approx(0.2)
    assert metrics["too_conservative_share"] == pytest.approx(0.2)


def test_predictions_without_actuals_are_left_out_of_performance():
    actual = np.array([10.0, np.nan, np.nan, 0.0])
    predicted = np.array([0.0, 100.0, 100.0, 0.0])
    metrics = performance.performance_metrics(task="regression", actual=actual, predicted=predicted)
    assert metrics["n"] == 2 and metrics["mae"] == pytest.approx(5.0)


def test_classification_performance_is_recall_and_precision_at_the_alert_budget():
    actual = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1], dtype=float)
    scores = np.array([0.9, 0.1, 0.8, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.7])
    metrics = performance.performance_metrics(task="classification", actual=actual, predicted=scores, alert_budget=0.3)
    # Top 3 flagged: 0.9 (hit), 0.8 (miss), 0.7 (hit).
    assert metrics["recall_at_budget"] == pytest.approx(2 / 3)
    assert metrics["precision_at_budget"] == pytest.approx(2 / 3)


def test_bias_names_the_worst_carrier_and_its_disparity_against_overall():
    rng = np.random.default_rng(3)
    carriers = np.repeat(["AA", "B6", "UA"], 200)
    actual = rng.normal(0, 5, 600)
    predicted = actual.copy()
    predicted[carriers == "B6"] += 30  # B6 forecasts are off by 30 minutes, others perfect
    report = performance.segment_bias(
        task="regression", dimension="carrier", segments=carriers, actual=actual, predicted=predicted
    )
    assert report.metric == "mae" and report.worst_segment == "B6"
    assert report.overall == pytest.approx(10.0)
    assert report.disparity_ratio == pytest.approx(3.0)
    assert report.as_dict()["segments"][0]["segment"] == "B6"


def test_small_segments_are_reported_but_never_named_worst():
    carriers = np.array(["AA"] * 100 + ["OO"] * 3)
    actual = np.zeros(103)
    predicted = np.concatenate([np.full(100, 5.0), np.full(3, 500.0)])
    report = performance.segment_bias(
        task="regression", dimension="carrier", segments=carriers, actual=actual, predicted=predicted
    )
    assert report.worst_segment == "AA"
    assert {s.segment: s.ranked for s in report.segments} == {"AA": True, "OO": False}


def test_classification_bias_compares_recall_at_the_overall_cutoff():
    origins = np.array(["EWR"] * 100 + ["JFK"] * 100)
    actual = np.zeros(200)
    actual[:40] = 1  # 40 stuck at EWR
    actual[100:140] = 1  # 40 stuck at JFK
    scores = np.zeros(200)
    scores[:40] = 0.9  # every EWR stuck journey scores high
    scores[100:120] = 0.8  # only half of JFK's
    report = performance.segment_bias(
        task="classification", dimension="origin", segments=origins, actual=actual, predicted=scores,
        alert_budget=0.3,
    )
    assert report.overall == pytest.approx(60 / 80)
    assert report.worst_segment == "JFK"
    assert report.disparity_ratio == pytest.approx((60 / 80) / 0.5)


def test_operational_stats_give_latency_percentiles_error_rate_and_volume():
    latencies = np.arange(1, 101, dtype=float)
    stats = performance.operational_stats(latencies_ms=latencies, errors=25)
    assert stats.volume == 100 and stats.errors == 25
    assert stats.error_rate == pytest.approx(0.2)
    assert stats.latency_p50_ms == pytest.approx(50.5)
    assert stats.latency_p99_ms == pytest.approx(99.01)


def test_operational_stats_of_an_idle_period_are_zero_not_nan():
    stats = performance.operational_stats(latencies_ms=np.array([]), errors=0)
    assert stats.volume == 0 and stats.error_rate == 0.0 and not math.isnan(stats.latency_p99_ms)
