"""Every monitor's verdict for one version and period, computed from the prediction logs (no writes)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings

from ...choices import ModelTask, MonitorKind, MonitorStatus
from ...exceptions import ArtifactIntegrityError
from ...models import ModelVersion, PredictionLog, RegisteredModel
from ...pipelines import get_pipeline
from ...statistics.drift import drift_report, feature_drift
from ...statistics.performance import operational_stats, performance_metrics, segment_bias
from ..serving import fitted_model_for
from ..serving_errors import serving_errors_count
from . import quality
from .thresholds import MonitorThresholds
from .verdicts import MonitorVerdict, PeriodData

# Newest rows a run reads per version and period: a month of a busy model is millions of rows,
# and 50k already pins PSI/KS/MAE far below any threshold we act on.
MAX_ROWS = 50_000
MIN_DRIFT_ROWS = 100  # fewer current rows than this: drift is "no data" (PSI on a handful is noise)
BIAS_DIMENSIONS = ("carrier", "origin")  # raw inputs we report fairness over, when the model has them


def period_data(*, version: ModelVersion, period_start: datetime, period_end: datetime) -> PeriodData:
    rows = list(
        PredictionLog.objects.filter(version=version, created_at__gte=period_start, created_at__lt=period_end)
        .order_by("-created_at", "-id")
        .values_list("features", "prediction", "actual", "latency_ms")[:MAX_ROWS]
    )
    raw = pd.DataFrame.from_records([row[0] for row in rows]) if rows else pd.DataFrame()
    return PeriodData(
        raw=raw,
        predictions=np.array([row[1] for row in rows], dtype=np.float64),
        actuals=np.array([np.nan if row[2] is None else row[2] for row in rows], dtype=np.float64),
        latencies_ms=np.array([row[3] for row in rows], dtype=np.float64),
        # Refused requests log no prediction: the serving service counts them per day.
        errors=serving_errors_count(model=version.model, period_start=period_start, period_end=period_end),
    )


def monitors_compute(
    *, version: ModelVersion, period_start: datetime, period_end: datetime, thresholds: MonitorThresholds
) -> list[MonitorVerdict]:
    """Every monitor's verdict for one version and period (pure given the rows; nothing written)."""
    model = version.model
    data = period_data(version=version, period_start=period_start, period_end=period_end)
    reference: pd.DataFrame | None = None
    reference_problem = ""
    fitted = None
    try:
        fitted = fitted_model_for(version=version)
        reference = fitted.reference
        if reference is None:
            reference_problem = "the version's artifact holds no training reference sample"
    except ArtifactIntegrityError as exc:
        reference_problem = f"cannot load the version's artifact: {exc.message}"
    performance = _performance(model=model, version=version, data=data, thresholds=thresholds)
    data_drift = _data_drift(
        model=model, data=data, reference=reference, reference_problem=reference_problem, thresholds=thresholds,
        performance=performance,
    )
    return [
        data_drift,
        _prediction_drift(data=data, reference=reference, reference_problem=reference_problem, thresholds=thresholds),
        performance,
        _bias(model=model, data=data, thresholds=thresholds),
        _operational(data=data, thresholds=thresholds),
        # Issue #14: input quality, freshness, output validation, the at-risk list's precision.
        quality.data_quality(model=model, data=data, fitted=fitted, period_start=period_start, period_end=period_end),
        quality.freshness(model=model, period_end=period_end),
        quality.output_quality(model=model, data=data, fitted=fitted),
        quality.at_risk_list_precision(version=version, period_start=period_start, period_end=period_end),
    ]


def _data_drift(
    *,
    model: RegisteredModel,
    data: PeriodData,
    reference: pd.DataFrame | None,
    reference_problem: str,
    thresholds: MonitorThresholds,
    performance: MonitorVerdict,
) -> MonitorVerdict:
    kind = MonitorKind.DATA_DRIFT
    if reference is None:
        return MonitorVerdict(kind=kind, status=MonitorStatus.NO_DATA, reasons=(reference_problem,))
    if len(data.raw) < MIN_DRIFT_ROWS:
        return MonitorVerdict(
            kind=kind, status=MonitorStatus.NO_DATA, sample_size=len(data.raw),
            reasons=(f"{len(data.raw)} predictions in the period (need {MIN_DRIFT_ROWS})",),
        )
    pipeline = get_pipeline(model.pipeline)
    current = pipeline.build_features(pipeline.frame_from_records(data.raw.to_dict("records")))
    ignored = [name for name in settings.MONITOR_DRIFT_IGNORE_FEATURES if name in pipeline.features]
    names = [
        name for name in pipeline.features
        if name in reference.columns and name in current.columns and name not in ignored
    ]
    report = drift_report(
        reference={n: reference[n].to_numpy() for n in names},
        current={n: current[n].to_numpy() for n in names},
        features=names,
        categorical=pipeline.categorical,
        thresholds=thresholds.drift(),
    )
    drifted = [f.feature for f in report.drifted]
    metrics = {
        "max_psi": report.max_psi,
        "share_drifted": report.share_drifted,
        "drifted_features": len(drifted),
        "features": len(report.features),
        "psi": {f.feature: f.psi for f in report.features},
        "ignored": ignored,
    }
    details = {"features": [f.as_dict() for f in report.features]}
    if not drifted:
        return MonitorVerdict(
            kind=kind, status=MonitorStatus.OK, sample_size=len(current), metrics=metrics, details=details,
            reasons=(f"no feature drifted (max PSI {report.max_psi:.3f})",),
        )
    # Drift alone only warns: inputs that "make business sense" shift every season (weather,
    # schedules) and the model may cope fine; paging on it trains people to ignore the page. Drift
    # becomes part of a breach when the outcome we are paid for (performance) breaches too, and then
    # the drifted features are the first clue for the investigation.
    status = MonitorStatus.BREACH if performance.status == MonitorStatus.BREACH else MonitorStatus.WARNING
    reasons = [f"{len(drifted)}/{len(report.features)} features drifted: {', '.join(drifted)}"]
    reasons.append(
        "performance breaches too: drift reported as part of the breach"
        if status == MonitorStatus.BREACH
        else "warning only: drift alone does not page while performance holds"
    )
    return MonitorVerdict(
        kind=kind, status=status, sample_size=len(current), metrics=metrics, details=details, reasons=tuple(reasons)
    )


def _prediction_drift(
    *, data: PeriodData, reference: pd.DataFrame | None, reference_problem: str, thresholds: MonitorThresholds
) -> MonitorVerdict:
    kind = MonitorKind.PREDICTION_DRIFT
    if reference is None or "prediction" not in reference.columns:
        return MonitorVerdict(
            kind=kind, status=MonitorStatus.NO_DATA,
            reasons=(reference_problem or "the reference sample has no predictions",),
        )
    if data.predictions.size < MIN_DRIFT_ROWS:
        return MonitorVerdict(
            kind=kind, status=MonitorStatus.NO_DATA, sample_size=int(data.predictions.size),
            reasons=(f"{data.predictions.size} predictions in the period (need {MIN_DRIFT_ROWS})",),
        )
    result = feature_drift(
        feature="prediction", reference=reference["prediction"].to_numpy(dtype=np.float64),
        current=data.predictions, thresholds=thresholds.drift(),
    )
    metrics = {
        "psi": result.psi, "ks": result.statistic, "p_value": result.p_value,
        "mean_prediction": float(np.mean(data.predictions)),
        "reference_mean_prediction": float(reference["prediction"].mean()),
    }
    if not result.drifted:
        status, reason = MonitorStatus.OK, f"predictions stable (PSI {result.psi:.3f}, KS {result.statistic:.3f})"
    elif result.psi >= thresholds.prediction_psi_breach:
        # What the business is told moved a lot even before any label arrives: that pages.
        status = MonitorStatus.BREACH
        reason = f"predictions shifted: PSI {result.psi:.3f} ≥ {thresholds.prediction_psi_breach}"
    else:
        status, reason = MonitorStatus.WARNING, f"predictions drifted: PSI {result.psi:.3f}, KS {result.statistic:.3f}"
    return MonitorVerdict(
        kind=kind, status=status, sample_size=int(data.predictions.size), metrics=metrics,
        details={"prediction": result.as_dict()}, reasons=(reason,),
    )


def _labelled(data: PeriodData) -> np.ndarray:
    return np.isfinite(data.actuals) & np.isfinite(data.predictions)


def _performance(
    *, model: RegisteredModel, version: ModelVersion, data: PeriodData, thresholds: MonitorThresholds
) -> MonitorVerdict:
    kind = MonitorKind.PERFORMANCE
    labelled = _labelled(data)
    n = int(labelled.sum())
    if n < thresholds.min_actuals:
        # Labels arrive late: a period whose actuals are not in yet is unknown, not healthy.
        return MonitorVerdict(
            kind=kind, status=MonitorStatus.NO_DATA, sample_size=n,
            metrics={"n": n, "predictions": int(data.predictions.size)},
            reasons=((f"{n} predictions with actuals (need {thresholds.min_actuals}); "
                     f"{int(data.predictions.size) - n} still waiting for their outcome"),),
        )
    metrics: dict[str, Any] = performance_metrics(
        task=model.task, actual=data.actuals[labelled], predicted=data.predictions[labelled],
        alert_budget=settings.MODEL_ALERT_BUDGET,
    )
    metrics["predictions"] = int(data.predictions.size)
    validation = version.metrics or {}
    checks: list[tuple[str, str]] = []  # (status, reason)
    if model.task == ModelTask.REGRESSION:
        checks.append(_relative_check(
            "MAE", metrics.get("mae"), validation.get("mae"), thresholds.mae_warning_ratio, thresholds.mae_breach_ratio
        ))
        for key, label in (("too_optimistic_share", "too-optimistic share"),
                           ("too_conservative_share", "too-conservative share")):
            checks.append(_points_check(
                label, metrics.get(key), validation.get(key), thresholds.share_warning_points,
                thresholds.share_breach_points, higher_is_worse=True,
            ))
    else:
        for key, label in (("recall_at_budget", "recall at budget"), ("precision_at_budget", "precision at budget")):
            checks.append(_points_check(
                label, metrics.get(key), validation.get(key), thresholds.share_warning_points,
                thresholds.share_breach_points, higher_is_worse=False,
            ))
    checks.sort(key=lambda c: -MonitorStatus.rank(c[0]))  # the reason for the status comes first
    status = checks[0][0] if checks else MonitorStatus.OK
    metrics["validation"] = {k: validation.get(k) for k in metrics if k in validation}
    return MonitorVerdict(
        kind=kind, status=status, sample_size=n, metrics=metrics, reasons=tuple(c[1] for c in checks)
    )


def _relative_check(label: str, value, baseline, warning: float, breach: float) -> tuple[str, str]:
    if value is None or not baseline:
        return MonitorStatus.OK, f"{label} {value}: no validation figure to compare with"
    ratio = value / baseline - 1.0
    text = f"{label} {value:.2f} vs validation {baseline:.2f} ({ratio:+.0%})"
    if ratio >= breach:
        return MonitorStatus.BREACH, f"breach: {text}, limit +{breach:.0%}"
    if ratio >= warning:
        return MonitorStatus.WARNING, f"warning: {text}, warn at +{warning:.0%}"
    return MonitorStatus.OK, f"ok: {text}"


def _points_check(
    label: str, value, baseline, warning: float, breach: float, *, higher_is_worse: bool
) -> tuple[str, str]:
    if value is None or baseline is None:
        return MonitorStatus.OK, f"{label} {value}: no validation figure to compare with"
    worse_by = (value - baseline) if higher_is_worse else (baseline - value)
    text = f"{label} {value:.3f} vs validation {baseline:.3f} ({worse_by:+.3f} worse)"
    if worse_by >= breach:
        return MonitorStatus.BREACH, f"breach: {text}, limit {breach:.2f}"
    if worse_by >= warning:
        return MonitorStatus.WARNING, f"warning: {text}, warn at {warning:.2f}"
    return MonitorStatus.OK, f"ok: {text}"


def _bias(*, model: RegisteredModel, data: PeriodData, thresholds: MonitorThresholds) -> MonitorVerdict:
    kind = MonitorKind.BIAS
    labelled = _labelled(data)
    n = int(labelled.sum())
    dimensions = [d for d in BIAS_DIMENSIONS if d in data.raw.columns]
    if n < thresholds.min_actuals or not dimensions:
        return MonitorVerdict(
            kind=kind, status=MonitorStatus.NO_DATA, sample_size=n,
            reasons=(f"{n} predictions with actuals (need {thresholds.min_actuals})" if dimensions
                     else "the model has no segment inputs (carrier, origin)",),
        )
    reports = [
        segment_bias(
            task=model.task, dimension=dimension, segments=data.raw[dimension].to_numpy()[labelled],
            actual=data.actuals[labelled], predicted=data.predictions[labelled],
            alert_budget=settings.MODEL_ALERT_BUDGET,
        )
        for dimension in dimensions
    ]
    statuses, reasons = [], []
    for report in reports:
        text = (f"{report.dimension}: worst {report.worst_segment or '—'} {report.metric} "
                f"{report.worst_value:.3f} vs overall {report.overall:.3f} (disparity {report.disparity_ratio:.2f})")
        if report.disparity_ratio >= thresholds.bias_breach_ratio:
            statuses.append(MonitorStatus.BREACH)
            reasons.append(f"breach: {text}, limit {thresholds.bias_breach_ratio}")
        elif report.disparity_ratio >= thresholds.bias_warning_ratio:
            statuses.append(MonitorStatus.WARNING)
            reasons.append(f"warning: {text}, warn at {thresholds.bias_warning_ratio}")
        else:
            statuses.append(MonitorStatus.OK)
            reasons.append(f"ok: {text}")
    order = sorted(range(len(statuses)), key=lambda i: -MonitorStatus.rank(statuses[i]))
    statuses, reasons = [statuses[i] for i in order], [reasons[i] for i in order]
    return MonitorVerdict(
        kind=kind,
        status=max(statuses, key=MonitorStatus.rank),
        sample_size=n,
        metrics={f"disparity_{r.dimension}": r.disparity_ratio for r in reports}
        | {f"worst_{r.dimension}": r.worst_segment for r in reports},
        details={r.dimension: r.as_dict() for r in reports},
        reasons=tuple(reasons),
    )


def _operational(*, data: PeriodData, thresholds: MonitorThresholds) -> MonitorVerdict:
    kind = MonitorKind.OPERATIONAL
    stats = operational_stats(latencies_ms=data.latencies_ms, errors=data.errors)
    metrics = stats.as_dict()
    if stats.volume == 0 and stats.errors == 0:
        return MonitorVerdict(kind=kind, status=MonitorStatus.NO_DATA, metrics=metrics,
                              reasons=("no prediction requests in the period",))
    statuses, reasons = [], []
    for label, value, warn, breach, fmt in (
        ("p99 latency", stats.latency_p99_ms, thresholds.latency_p99_warning_ms, thresholds.latency_p99_breach_ms,
         "{:.1f} ms"),
        ("error rate", stats.error_rate, thresholds.error_rate_warning, thresholds.error_rate_breach, "{:.2%}"),
    ):
        shown = fmt.format(value)
        if value >= breach:
            statuses.append(MonitorStatus.BREACH)
            reasons.append(f"breach: {label} {shown} ≥ {fmt.format(breach)}")
        elif value >= warn:
            statuses.append(MonitorStatus.WARNING)
            reasons.append(f"warning: {label} {shown} ≥ {fmt.format(warn)}")
        else:
            statuses.append(MonitorStatus.OK)
            reasons.append(f"ok: {label} {shown}")
    reasons.append(f"volume {stats.volume} predictions")
    return MonitorVerdict(
        kind=kind, status=max(statuses, key=MonitorStatus.rank), sample_size=stats.volume, metrics=metrics,
        reasons=tuple(reasons),
    )
