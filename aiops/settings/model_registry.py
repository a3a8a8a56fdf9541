"""Settings of the model registry: training, the gate, the monitors and model operations (#14).

Star-imported by `aiops.settings`; every value comes from the environment (README "Configuration").
"""
from __future__ import annotations

import json

from ..env import ImproperEnv, env_choice, env_float, env_int, env_list, env_str

# --- Model registry: training, gate, serving ---------------------------------------
# A training run past this is killed by Celery (soft limit records FAILED) and failed by the reaper.
MODEL_TRAINING_TIME_LIMIT = env_int("MODEL_TRAINING_TIME_LIMIT", 900, minimum=30)
# OpenMP threads per training run. One: workers share cores, and gradient boosting's thread team
# spin-waits under contention (measured 1.8 s single-threaded vs 31 s CPU with 2 threads on a busy box).
MODEL_TRAINING_THREADS = env_int("MODEL_TRAINING_THREADS", 1, minimum=1)
# Train on this many days before the holdout; evaluate on the most recent holdout window.
MODEL_TRAIN_WINDOW_DAYS = env_int("MODEL_TRAIN_WINDOW_DAYS", 90, minimum=7)
MODEL_HOLDOUT_DAYS = env_int("MODEL_HOLDOUT_DAYS", 14, minimum=1)
# Share of journeys the stuck-journey alert team can review: recall/precision are measured there.
MODEL_ALERT_BUDGET = env_float("MODEL_ALERT_BUDGET", 0.10)
# Gate, journey time (minutes): absolute bar, then the minimum relative MAE gain over the champion.
GATE_JOURNEY_MAX_MAE = env_float("GATE_JOURNEY_MAX_MAE", 40.0)
GATE_JOURNEY_MAX_OPTIMISTIC_SHARE = env_float("GATE_JOURNEY_MAX_OPTIMISTIC_SHARE", 0.35)
GATE_JOURNEY_MIN_MAE_GAIN = env_float("GATE_JOURNEY_MIN_MAE_GAIN", 0.01)
# Gate, stuck journeys: absolute bars at the alert budget, then the minimum recall gain (absolute).
GATE_STUCK_MIN_RECALL = env_float("GATE_STUCK_MIN_RECALL", 0.20)
GATE_STUCK_MIN_PRECISION = env_float("GATE_STUCK_MIN_PRECISION", 0.20)
GATE_STUCK_MIN_RECALL_GAIN = env_float("GATE_STUCK_MIN_RECALL_GAIN", 0.005)
# A secondary business metric (optimistic share, precision) may not get worse than this (absolute).
GATE_MAX_SECONDARY_REGRESSION = env_float("GATE_MAX_SECONDARY_REGRESSION", 0.02)

# --- Model monitors (drift, performance, bias, operational) -------------------------
# Drift effect-size bars; a feature counts as drifted only when the test is also significant.
MONITOR_PSI_DRIFT = env_float("MONITOR_PSI_DRIFT", 0.2)  # industry convention: >0.2 significant shift
MONITOR_KS_DRIFT = env_float("MONITOR_KS_DRIFT", 0.1)
MONITOR_CRAMERS_V_DRIFT = env_float("MONITOR_CRAMERS_V_DRIFT", 0.1)  # Cohen's "small" effect
# Features that differ from the training window by construction (the calendar month of a later
# period never occurs in the window it was trained on): drift there is certain and means nothing.
MONITOR_DRIFT_IGNORE_FEATURES = env_list("MONITOR_DRIFT_IGNORE_FEATURES", ["month"])
# Prediction drift (PSI of the served predictions vs the training reference's) that pages on its own.
MONITOR_PREDICTION_PSI_BREACH = env_float("MONITOR_PREDICTION_PSI_BREACH", 0.5)
# Performance vs the version's validation metrics: relative MAE degradation, absolute share/recall points.
MONITOR_MAE_WARNING_RATIO = env_float("MONITOR_MAE_WARNING_RATIO", 0.10)
MONITOR_MAE_BREACH_RATIO = env_float("MONITOR_MAE_BREACH_RATIO", 0.20)
MONITOR_SHARE_WARNING_POINTS = env_float("MONITOR_SHARE_WARNING_POINTS", 0.05)
MONITOR_SHARE_BREACH_POINTS = env_float("MONITOR_SHARE_BREACH_POINTS", 0.10)
# Fewer labelled predictions than this in a period: performance is "no data", never a breach.
MONITOR_MIN_ACTUALS = env_int("MONITOR_MIN_ACTUALS", 200, minimum=1)
# Bias: worst segment vs overall (> 1 = worse).
MONITOR_BIAS_WARNING_RATIO = env_float("MONITOR_BIAS_WARNING_RATIO", 1.5)
MONITOR_BIAS_BREACH_RATIO = env_float("MONITOR_BIAS_BREACH_RATIO", 2.0)
# Operational: p99 latency of a prediction request (ms) and the share of failed requests.
MONITOR_LATENCY_P99_WARNING_MS = env_float("MONITOR_LATENCY_P99_WARNING_MS", 50.0)
MONITOR_LATENCY_P99_BREACH_MS = env_float("MONITOR_LATENCY_P99_BREACH_MS", 250.0)
MONITOR_ERROR_RATE_WARNING = env_float("MONITOR_ERROR_RATE_WARNING", 0.01)
MONITOR_ERROR_RATE_BREACH = env_float("MONITOR_ERROR_RATE_BREACH", 0.05)
# The scheduled pass looks back this many days (labels arrive late: yesterday's are incomplete).
MONITOR_PERIOD_DAYS = env_int("MONITOR_PERIOD_DAYS", 7, minimum=1)

# --- Model operations (issue #14): batch scoring, at-risk list, shadow, data quality, weekly report ---
# Uploads above this are refused with 413 before anything is stored (a day of journeys is ~20 MB).
BATCH_SCORING_MAX_BYTES = env_int("BATCH_SCORING_MAX_BYTES", 500 * 1024 * 1024, minimum=1)
# Rows read, checked and scored per step: progress granularity, ~60 MB of pandas per step.
BATCH_SCORING_CHUNK_ROWS = env_int("BATCH_SCORING_CHUNK_ROWS", 100_000, minimum=100)
# The daily at-risk list: the stuck-journey model ranks, the journey-time model forecasts.
AT_RISK_MODEL = env_str("AT_RISK_MODEL", "stuck-journey")
AT_RISK_FORECAST_MODEL = env_str("AT_RISK_FORECAST_MODEL", "journey-time")
# Journeys departing within this many hours are "open": lists overlap a day, so handled marks carry over.
AT_RISK_HORIZON_HOURS = env_int("AT_RISK_HORIZON_HOURS", 48, minimum=1)
# Journeys the ops team can triage per day: the list's precision is tracked at this depth.
AT_RISK_CAPACITY = env_int("AT_RISK_CAPACITY", 100, minimum=1)
# Top journeys explained (feature contributions): an occlusion pass costs features x rows scorings.
AT_RISK_EXPLAIN_TOP = env_int("AT_RISK_EXPLAIN_TOP", 300, minimum=0)
# Precision at capacity below this breaches: twice the ~10 % base rate of stuck journeys (a list no
# better than that is not worth the team's morning).
AT_RISK_MIN_PRECISION = env_float("AT_RISK_MIN_PRECISION", 0.20)
# Shadow scoring runs on a thread pool after the champion's answer; "inline" (tests) scores in the request.
MODEL_SHADOW_MODE = env_choice("MODEL_SHADOW_MODE", "thread", {"thread", "inline"})
# Live rows with actuals needed before the gate uses the shadow comparison.
MODEL_SHADOW_MIN_LIVE_ROWS = env_int("MODEL_SHADOW_MIN_LIVE_ROWS", 200, minimum=1)
# Data quality (defaults per check; per-feature overrides as JSON, e.g. {"wind_gust": {"null_rate": 0.9}}).
# Null rate: absolute increase over the training reference's null rate that breaches.
MONITOR_DQ_NULL_RATE = env_float("MONITOR_DQ_NULL_RATE", 0.10)
# Share of values outside the training reference's [min, max] (widened by 10 % of the range).
MONITOR_DQ_OUT_OF_RANGE = env_float("MONITOR_DQ_OUT_OF_RANGE", 0.05)
# Share of category values never seen in training (the model sends them down the missing branch).
MONITOR_DQ_UNKNOWN_CATEGORY = env_float("MONITOR_DQ_UNKNOWN_CATEGORY", 0.05)
# Share of rows refused for a wrong type (batch bad rows and refused prediction requests).
MONITOR_DQ_TYPE_ERRORS = env_float("MONITOR_DQ_TYPE_ERRORS", 0.01)


def _feature_thresholds() -> dict:
    """Per-feature data-quality bars (a function: no module-level names leak into the star import)."""
    try:
        value = json.loads(env_str("MONITOR_DQ_FEATURE_THRESHOLDS", "{}"))
    except json.JSONDecodeError as exc:
        raise ImproperEnv(f"MONITOR_DQ_FEATURE_THRESHOLDS is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ImproperEnv("MONITOR_DQ_FEATURE_THRESHOLDS must be a JSON object of {feature: {check: bar}}")
    return value


MONITOR_DQ_FEATURE_THRESHOLDS = _feature_thresholds()
# Freshness: a silent upstream is an incident. Hours since the last prediction / the last actual.
MONITOR_FRESHNESS_PREDICTION_HOURS = env_float("MONITOR_FRESHNESS_PREDICTION_HOURS", 24.0)
MONITOR_FRESHNESS_ACTUAL_HOURS = env_float("MONITOR_FRESHNESS_ACTUAL_HOURS", 72.0)
# Output validation: share of predictions outside the plausible range that breaches.
MONITOR_OUTPUT_INVALID_SHARE = env_float("MONITOR_OUTPUT_INVALID_SHARE", 0.01)
