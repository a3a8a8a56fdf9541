"""Data-quality monitors (issue #14): inputs against the training reference, freshness, output validation,
and the at-risk list's precision at the team's capacity. Verdicts only; `runs` stores them and raises signals.

Per-feature bars default to the MONITOR_DQ_* settings and can be overridden per feature with
MONITOR_DQ_FEATURE_THRESHOLDS ({"wind_gust": {"null_rate": 0.9}}); check names: null_rate,
out_of_range, unknown_category, type_errors.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import Max

from ...choices import BatchJobSource, ModelTask, MonitorKind, MonitorStatus
from ...models import BatchScoringJob, ModelVersion, PredictionLog, RegisteredModel
from ...pipelines import FittedModel, get_pipeline
from ..at_risk import at_risk_precision
from .verdicts import MonitorVerdict, PeriodData

MIN_QUALITY_ROWS = 50  # fewer rows than this: shares are too noisy to page on
EXAMPLES = 3  # offending rows shown per feature and check
RANGE_MARGIN = 0.10  # the reference range is widened by this share of its width before "out of range"
OUTPUT_MARGIN = 0.50  # regression outputs beyond the reference predictions' range widened by half of it
MIN_LIST_OUTCOMES = 20  # at-risk entries with an outcome needed before precision is judged


def dq_threshold(feature: str, check: str) -> float:
    defaults = {
        "null_rate": settings.MONITOR_DQ_NULL_RATE,
        "out_of_range": settings.MONITOR_DQ_OUT_OF_RANGE,
        "unknown_category": settings.MONITOR_DQ_UNKNOWN_CATEGORY,
        "type_errors": settings.MONITOR_DQ_TYPE_ERRORS,
    }
    override = settings.MONITOR_DQ_FEATURE_THRESHOLDS.get(feature, {})
    return float(override.get(check, defaults[check]))


def _examples(raw: pd.DataFrame, mask: np.ndarray) -> list[dict[str, Any]]:
    rows = raw.iloc[np.flatnonzero(mask)[:EXAMPLES]]
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
            for row in rows.to_dict("records")]


def data_quality(
    *, model: RegisteredModel, data: PeriodData, fitted: FittedModel | None, period_start: datetime,
    period_end: datetime,
) -> MonitorVerdict:
    """Null rate, out-of-range share and unknown categories per feature vs the reference; type errors of the period."""
    kind = MonitorKind.DATA_QUALITY
    pipeline = get_pipeline(model.pipeline)
    breaches: list[dict[str, Any]] = []
    features_report: dict[str, dict[str, Any]] = {}
    # Type errors: rows batch jobs refused in the period, by field (served requests are refused whole).
    jobs = BatchScoringJob.objects.filter(model=model, source=BatchJobSource.FILE, finished_at__gte=period_start,
                                          finished_at__lt=period_end)
    checked = sum(job.rows_done for job in jobs)
    by_field: Counter[str] = Counter()
    examples_by_field: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        for bad in job.bad_rows:
            by_field[bad.get("field", "")] += 1
            examples_by_field.setdefault(bad.get("field", ""), [])
            if len(examples_by_field[bad.get("field", "")]) < EXAMPLES:
                examples_by_field[bad.get("field", "")].append({"job": job.pk, **bad})
    if checked:
        for field, count in sorted(by_field.items()):
            share = count / checked
            bar = dq_threshold(field, "type_errors")
            features_report.setdefault(field, {})["type_errors"] = share
            if share > bar:
                breaches.append({"feature": field, "check": "type_errors", "value": share, "threshold": bar,
                                 "examples": examples_by_field.get(field, [])})
    reference = fitted.reference if fitted is not None else None
    n = len(data.raw)
    if reference is not None and n >= MIN_QUALITY_ROWS:
        current = pipeline.build_features(pipeline.frame_from_records(data.raw.to_dict("records")))
        for name in pipeline.features:
            if name not in current.columns or name not in reference.columns:
                continue
            report = features_report.setdefault(name, {})
            values = current[name]
            nulls = values.isna().to_numpy() if name in pipeline.categorical else ~np.isfinite(
                values.to_numpy(dtype=np.float64))
            ref_values = reference[name]
            ref_null = float(ref_values.isna().mean())
            null_rate = float(nulls.mean())
            report["null_rate"], report["reference_null_rate"] = null_rate, ref_null
            bar = dq_threshold(name, "null_rate")
            if null_rate - ref_null > bar:
                breaches.append({"feature": name, "check": "null_rate", "value": null_rate, "reference": ref_null,
                                 "threshold": bar, "examples": _examples(data.raw, nulls)})
            if name in pipeline.categorical:
                known = set(fitted.categories.get(name, ())) if fitted is not None else set()
                unknown = (~values.isin(known).to_numpy()) & ~nulls
                share = float(unknown.mean())
                report["unknown_category"] = share
                bar = dq_threshold(name, "unknown_category")
                if share > bar:
                    breaches.append({"feature": name, "check": "unknown_category", "value": share, "threshold": bar,
                                     "values": sorted(set(values[unknown].astype(str)))[:10],
                                     "examples": _examples(data.raw, unknown)})
            elif name not in settings.MONITOR_DRIFT_IGNORE_FEATURES:
                # Calendar features (month) lie outside the training window's range by construction.
                ref = ref_values.to_numpy(dtype=np.float64)
                ref = ref[np.isfinite(ref)]
                if not len(ref):
                    continue
                low, high = float(ref.min()), float(ref.max())
                margin = RANGE_MARGIN * (high - low)
                numbers = values.to_numpy(dtype=np.float64)
                outside = np.isfinite(numbers) & ((numbers < low - margin) | (numbers > high + margin))
                share = float(outside.mean())
                report["out_of_range"], report["reference_range"] = share, [low, high]
                bar = dq_threshold(name, "out_of_range")
                if share > bar:
                    breaches.append({"feature": name, "check": "out_of_range", "value": share, "threshold": bar,
                                     "reference_range": [low, high], "examples": _examples(data.raw, outside)})
    if n < MIN_QUALITY_ROWS and not checked:
        return MonitorVerdict(kind=kind, status=MonitorStatus.NO_DATA, sample_size=n,
                              reasons=(f"{n} predictions and no batch rows in the period (need {MIN_QUALITY_ROWS})",))
    offending = sorted({b["feature"] for b in breaches})
    metrics = {"offending_features": offending, "breaches": breaches, "batch_rows_checked": checked}
    if not breaches:
        return MonitorVerdict(kind=kind, status=MonitorStatus.OK, sample_size=n, metrics=metrics,
                              details={"features": features_report},
                              reasons=(f"inputs within their bars on {n} predictions and {checked} batch rows",))
    reasons = tuple(
        f"breach: {b['feature']} {b['check'].replace('_', ' ')} {b['value']:.1%} > {b['threshold']:.1%}"
        for b in breaches
    )
    return MonitorVerdict(kind=kind, status=MonitorStatus.BREACH, sample_size=n, metrics=metrics,
                          details={"features": features_report}, reasons=reasons)


def freshness(*, model: RegisteredModel, period_end: datetime) -> MonitorVerdict:
    """Hours since the model's last prediction and last actual, as of the period's end."""
    kind = MonitorKind.FRESHNESS
    logs = PredictionLog.objects.filter(model=model)
    last_prediction = logs.filter(created_at__lte=period_end).aggregate(at=Max("created_at"))["at"]
    last_actual = logs.filter(actual_at__isnull=False, actual_at__lte=period_end).aggregate(at=Max("actual_at"))["at"]
    if last_prediction is None:
        return MonitorVerdict(kind=kind, status=MonitorStatus.NO_DATA, reasons=("the model has never served",))
    metrics: dict[str, Any] = {
        "hours_since_prediction": (period_end - last_prediction).total_seconds() / 3600.0,
        "last_prediction": last_prediction.isoformat(),
        "hours_since_actual": (period_end - last_actual).total_seconds() / 3600.0 if last_actual else None,
        "last_actual": last_actual.isoformat() if last_actual else None,
    }
    statuses, reasons, offending = [], [], []
    for label, key, bar in (
        ("prediction", "hours_since_prediction", settings.MONITOR_FRESHNESS_PREDICTION_HOURS),
        ("actual", "hours_since_actual", settings.MONITOR_FRESHNESS_ACTUAL_HOURS),
    ):
        hours = metrics[key]
        if hours is None:
            reasons.append(f"no {label} has arrived yet")
            continue
        if hours > bar:
            statuses.append(MonitorStatus.BREACH)
            offending.append(label)
            reasons.append(f"breach: last {label} {hours:.1f} h ago > {bar:g} h (silent upstream?)")
        else:
            statuses.append(MonitorStatus.OK)
            reasons.append(f"ok: last {label} {hours:.1f} h ago (bar {bar:g} h)")
    metrics["offending_features"] = offending
    status = max(statuses, key=MonitorStatus.rank, default=MonitorStatus.OK)
    return MonitorVerdict(kind=kind, status=status, sample_size=0, metrics=metrics, reasons=tuple(reasons))


def output_quality(*, model: RegisteredModel, data: PeriodData, fitted: FittedModel | None) -> MonitorVerdict:
    """Predictions outside the plausible range (probabilities in [0, 1]; regression near the reference's range)."""
    kind = MonitorKind.OUTPUT_QUALITY
    predictions = data.predictions
    if predictions.size < MIN_QUALITY_ROWS:
        return MonitorVerdict(kind=kind, status=MonitorStatus.NO_DATA, sample_size=int(predictions.size),
                              reasons=(f"{predictions.size} predictions (need {MIN_QUALITY_ROWS})",))
    if model.task == ModelTask.CLASSIFICATION:
        low, high = 0.0, 1.0
    else:
        reference = fitted.reference if fitted is not None else None
        if reference is None or "prediction" not in reference.columns:
            return MonitorVerdict(kind=kind, status=MonitorStatus.NO_DATA, reasons=("no reference predictions",))
        ref = reference["prediction"].to_numpy(dtype=np.float64)
        margin = OUTPUT_MARGIN * float(ref.max() - ref.min())
        low, high = float(ref.min()) - margin, float(ref.max()) + margin
    invalid = ~np.isfinite(predictions) | (predictions < low) | (predictions > high)
    share = float(invalid.mean())
    bar = settings.MONITOR_OUTPUT_INVALID_SHARE
    examples = []
    for position in np.flatnonzero(invalid)[:EXAMPLES]:
        row = data.raw.iloc[int(position)].to_dict() if len(data.raw) > position else {}
        examples.append({"prediction": float(predictions[position]), "record": row})
    metrics = {"invalid_share": share, "plausible_range": [low, high], "examples": examples,
               "offending_features": ["prediction"] if share > bar else []}
    if share > bar:
        return MonitorVerdict(kind=kind, status=MonitorStatus.BREACH, sample_size=int(predictions.size),
                              metrics=metrics,
                              reasons=(f"breach: {share:.1%} of predictions outside [{low:.3g}, {high:.3g}] "
                                       f"> {bar:.1%}",))
    return MonitorVerdict(kind=kind, status=MonitorStatus.OK, sample_size=int(predictions.size), metrics=metrics,
                          reasons=(f"ok: {share:.1%} of predictions outside [{low:.3g}, {high:.3g}]",))


def at_risk_list_precision(*, version: ModelVersion, period_start: datetime, period_end: datetime) -> MonitorVerdict:
    """Precision of each daily list's top AT_RISK_CAPACITY once outcomes arrived."""
    kind = MonitorKind.AT_RISK_PRECISION
    capacity = settings.AT_RISK_CAPACITY
    result = at_risk_precision(version=version, period_start=period_start, period_end=period_end, capacity=capacity)
    metrics = {"capacity": capacity, "lists": result.lists, "labelled": result.labelled, "hits": result.hits,
               "precision_at_capacity": result.precision, "per_list": result.per_list}
    if result.precision is None or result.labelled < MIN_LIST_OUTCOMES:
        return MonitorVerdict(kind=kind, status=MonitorStatus.NO_DATA, sample_size=result.labelled, metrics=metrics,
                              reasons=(f"{result.labelled} top-{capacity} entries with an outcome "
                                       f"(need {MIN_LIST_OUTCOMES})",))
    bar = settings.AT_RISK_MIN_PRECISION
    text = f"precision at top {capacity}: {result.precision:.1%} over {result.lists} list(s) (bar {bar:.0%})"
    if result.precision < bar:
        return MonitorVerdict(kind=kind, status=MonitorStatus.BREACH, sample_size=result.labelled, metrics=metrics,
                              reasons=(f"breach: {text}",))
    return MonitorVerdict(kind=kind, status=MonitorStatus.OK, sample_size=result.labelled, metrics=metrics,
                          reasons=(f"ok: {text}",))
