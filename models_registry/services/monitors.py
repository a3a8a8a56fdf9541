"""Model monitors: compute drift, performance, bias and operational health from prediction logs, store
the results per version and period, and raise a signal into the incident core on a breach."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

import incidents.services as incident_services
from core.exceptions import InvalidInput
from incidents.contracts import SignalIn

from .. import tasks
from ..choices import (
    ModelTask,
    MonitorKind,
    MonitorRunState,
    MonitorStatus,
    MonitorTrigger,
    VersionAlias,
)
from ..exceptions import ArtifactIntegrityError, NoChampion
from ..models import ModelVersion, MonitorResult, MonitorRun, PredictionLog, RegisteredModel
from ..pipelines import get_pipeline
from ..statistics.drift import DriftThresholds, drift_report, feature_drift
from ..statistics.performance import operational_stats, performance_metrics, segment_bias
from .serving import fitted_model_for
from .serving_errors import serving_errors_count

logger = logging.getLogger(__name__)

# Newest rows a run reads per version and period: a month of a busy model is millions of rows,
# and 50k already pins PSI/KS/MAE far below any threshold we act on.
MAX_ROWS = 50_000
MIN_DRIFT_ROWS = 100  # fewer current rows than this: drift is "no data" (PSI on a handful is noise)
BIAS_DIMENSIONS = ("carrier", "origin")  # raw inputs we report fairness over, when the model has them
SIGNAL_SOURCE = "model-monitor"
STUCK_RUNNING = timedelta(hours=1)  # far past the default task hard limit (180 s): the worker is gone
STUCK_QUEUED = timedelta(hours=6)  # a daily pass queues fresh runs anyway; older ones are noise
# Kinds whose breach means the business is being told wrong things right now: page high.
HIGH_SEVERITY_KINDS = {MonitorKind.PERFORMANCE, MonitorKind.OPERATIONAL}
SIGNAL_ORDER = (
    MonitorKind.PERFORMANCE, MonitorKind.OPERATIONAL, MonitorKind.PREDICTION_DRIFT, MonitorKind.BIAS,
    MonitorKind.DATA_DRIFT,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorThresholds:
    """Monitor bars, from settings (environment); see aiops/settings.py for their reasons."""

    psi_drift: float
    ks_drift: float
    cramers_v_drift: float
    prediction_psi_breach: float
    mae_warning_ratio: float
    mae_breach_ratio: float
    share_warning_points: float
    share_breach_points: float
    min_actuals: int
    bias_warning_ratio: float
    bias_breach_ratio: float
    latency_p99_warning_ms: float
    latency_p99_breach_ms: float
    error_rate_warning: float
    error_rate_breach: float

    @classmethod
    def from_settings(cls) -> MonitorThresholds:
        return cls(
            psi_drift=settings.MONITOR_PSI_DRIFT,
            ks_drift=settings.MONITOR_KS_DRIFT,
            cramers_v_drift=settings.MONITOR_CRAMERS_V_DRIFT,
            prediction_psi_breach=settings.MONITOR_PREDICTION_PSI_BREACH,
            mae_warning_ratio=settings.MONITOR_MAE_WARNING_RATIO,
            mae_breach_ratio=settings.MONITOR_MAE_BREACH_RATIO,
            share_warning_points=settings.MONITOR_SHARE_WARNING_POINTS,
            share_breach_points=settings.MONITOR_SHARE_BREACH_POINTS,
            min_actuals=settings.MONITOR_MIN_ACTUALS,
            bias_warning_ratio=settings.MONITOR_BIAS_WARNING_RATIO,
            bias_breach_ratio=settings.MONITOR_BIAS_BREACH_RATIO,
            latency_p99_warning_ms=settings.MONITOR_LATENCY_P99_WARNING_MS,
            latency_p99_breach_ms=settings.MONITOR_LATENCY_P99_BREACH_MS,
            error_rate_warning=settings.MONITOR_ERROR_RATE_WARNING,
            error_rate_breach=settings.MONITOR_ERROR_RATE_BREACH,
        )

    def drift(self) -> DriftThresholds:
        return DriftThresholds(psi=self.psi_drift, ks=self.ks_drift, cramers_v=self.cramers_v_drift)


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorVerdict:
    """One monitor's outcome before it is stored."""

    kind: str
    status: str
    sample_size: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PeriodData:
    """What the monitors read for one version and period."""

    raw: pd.DataFrame  # raw records as logged
    predictions: np.ndarray
    actuals: np.ndarray  # NaN where the label has not arrived yet
    latencies_ms: np.ndarray
    errors: int


# --- creating and running --------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    return timezone.make_aware(moment, timezone.get_current_timezone()) if timezone.is_naive(moment) else moment


def monitor_run_create(
    *,
    version: ModelVersion,
    period_start: datetime,
    period_end: datetime,
    trigger: str = MonitorTrigger.SCHEDULE,
    enqueue: bool = True,
) -> MonitorRun:
    """A queued run over [period_start, period_end); with `enqueue` a worker executes it after commit."""
    period_start, period_end = _aware(period_start), _aware(period_end)
    if period_end <= period_start:
        raise InvalidInput("period_end must be after period_start", field="period_end")
    run = MonitorRun.objects.create(
        model_id=version.model_id, version=version, period_start=period_start, period_end=period_end, trigger=trigger
    )
    if enqueue:
        transaction.on_commit(lambda: tasks.execute_monitor_run.delay(run.pk))
    return run


def monitor_run_execute(*, run_id: int) -> MonitorRun:
    """Claim a queued run, compute every monitor, store the results, then raise signals for breaches."""
    claimed = MonitorRun.objects.filter(pk=run_id, state=MonitorRunState.QUEUED).update(
        state=MonitorRunState.RUNNING, started_at=timezone.now()
    )
    run = MonitorRun.objects.select_related("model", "model__service", "version").get(pk=run_id)
    if not claimed:
        return run  # redelivered, or another worker has it
    try:
        verdicts = monitors_compute(
            version=run.version, period_start=run.period_start, period_end=run.period_end,
            thresholds=MonitorThresholds.from_settings(),
        )
        with transaction.atomic():
            results = [
                MonitorResult.objects.create(
                    run=run, model=run.model, version=run.version, kind=v.kind, period_start=run.period_start,
                    period_end=run.period_end, status=v.status, sample_size=v.sample_size, metrics=_json_safe(v.metrics),
                    details=_json_safe(v.details), reasons=list(v.reasons),
                )
                for v in verdicts
            ]
        worst = max((v.status for v in verdicts), key=MonitorStatus.rank, default=MonitorStatus.NO_DATA)
    except Exception as exc:
        logger.exception("monitor run %s failed", run.pk)
        MonitorRun.objects.filter(pk=run.pk).update(
            state=MonitorRunState.FAILED, error=f"{exc.__class__.__name__}: {exc}"[:5000], finished_at=timezone.now()
        )
        run.refresh_from_db()
        return run
    # Outside the results' transaction: the incident core commits its own work, and a signal that
    # cannot be raised must not lose the monitor history.
    # The cause first: the incident opens on performance (its title and severity), drift joins it.
    for result in sorted(results, key=lambda r: SIGNAL_ORDER.index(r.kind)):
        _signal_for(result=result, run=run)
    # Succeeded only now, so whoever polls the run finds the incidents its breaches raised.
    MonitorRun.objects.filter(pk=run.pk).update(state=MonitorRunState.SUCCEEDED, status=worst, finished_at=timezone.now())
    run.refresh_from_db()
    return run


def monitors_run_now(
    *,
    model: RegisteredModel,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
    trigger: str = MonitorTrigger.MANUAL,
) -> list[MonitorRun]:
    """Run the monitors synchronously for every version that served in the period (command, replay, API)."""
    period_end = _aware(period_end) if period_end else timezone.now()
    period_start = _aware(period_start) if period_start else period_end - timedelta(days=settings.MONITOR_PERIOD_DAYS)
    runs = []
    for version in versions_serving(model=model, period_start=period_start, period_end=period_end):
        run = monitor_run_create(
            version=version, period_start=period_start, period_end=period_end, trigger=trigger, enqueue=False
        )
        runs.append(monitor_run_execute(run_id=run.pk))
    return runs


def monitors_request(
    *,
    model: RegisteredModel,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
    trigger: str = MonitorTrigger.API,
) -> list[MonitorRun]:
    """On demand (API): queue a run per serving version; a worker executes them after commit."""
    period_end = _aware(period_end) if period_end else timezone.now()
    period_start = _aware(period_start) if period_start else period_end - timedelta(days=settings.MONITOR_PERIOD_DAYS)
    if period_end <= period_start:
        raise InvalidInput("period_end must be after period_start", field="period_end")
    versions = versions_serving(model=model, period_start=period_start, period_end=period_end)
    if not versions:
        raise NoChampion(f"model {model.name!r} has no champion and served nothing in the period")
    return [
        monitor_run_create(version=v, period_start=period_start, period_end=period_end, trigger=trigger)
        for v in versions
    ]


def monitors_schedule(*, now: datetime | None = None) -> list[MonitorRun]:
    """The daily beat pass: queue a run per model and serving version over the last period."""
    period_end = now or timezone.now()
    period_start = period_end - timedelta(days=settings.MONITOR_PERIOD_DAYS)
    monitor_runs_reap(now=period_end)
    runs = []
    for model in RegisteredModel.objects.all():
        for version in versions_serving(model=model, period_start=period_start, period_end=period_end):
            runs.append(
                monitor_run_create(version=version, period_start=period_start, period_end=period_end)
            )
    return runs


def monitor_runs_reap(*, now: datetime | None = None) -> int:
    """Fail runs whose worker died (running past the task's hard limit) or never picked up."""
    now = now or timezone.now()
    running = MonitorRun.objects.filter(
        state=MonitorRunState.RUNNING, started_at__lt=now - STUCK_RUNNING
    ).update(state=MonitorRunState.FAILED, finished_at=now, error="reaped: the worker stopped mid-run")
    queued = MonitorRun.objects.filter(state=MonitorRunState.QUEUED, created_at__lt=now - STUCK_QUEUED).update(
        state=MonitorRunState.FAILED, finished_at=now, error="reaped: never picked up by a worker"
    )
    return running + queued


def versions_serving(*, model: RegisteredModel, period_start: datetime, period_end: datetime) -> list[ModelVersion]:
    """Versions with predictions in the period, else the champion (whose run then says "no data")."""
    ids = set(
        PredictionLog.objects.filter(model=model, created_at__gte=period_start, created_at__lt=period_end)
        .values_list("version_id", flat=True)
        .distinct()
    )
    if ids:
        return list(ModelVersion.objects.filter(pk__in=ids).order_by("version"))
    champion = ModelVersion.objects.filter(model=model, alias=VersionAlias.CHAMPION).first()
    return [champion] if champion else []


# --- computing (no writes) -------------------------------------------------------------------


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
    try:
        reference = fitted_model_for(version=version).reference
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
    metrics = performance_metrics(
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


# --- signals into the incident core ----------------------------------------------------------


def _previous_status(*, result: MonitorResult) -> str | None:
    previous = (
        MonitorResult.objects.filter(model=result.model, kind=result.kind, run__period_end__lte=result.period_end)
        .exclude(pk=result.pk)
        .exclude(run_id=result.run_id)
        .exclude(status=MonitorStatus.NO_DATA)
        .order_by("-period_end", "-id")
        .values_list("status", flat=True)
        .first()
    )
    return previous


def _signal_for(*, result: MonitorResult, run: MonitorRun) -> None:
    """Breach → firing signal; first non-breach after a breach → resolved signal (same fingerprint)."""
    if result.status == MonitorStatus.BREACH:
        status = "firing"
    elif (
        result.status in (MonitorStatus.OK, MonitorStatus.WARNING)
        and _previous_status(result=result) == MonitorStatus.BREACH
    ):
        # No longer breaching (a warning does not page either): let the core resolve the alert.
        status = "resolved"
    else:
        return
    if run.model.service is None:
        MonitorResult.objects.filter(pk=result.pk).update(
            reasons=[*result.reasons, "no signal raised: the model has no service to raise it against"]
        )
        return
    try:
        signal = _signal_build(result=result, run=run, status=status)
        outcome = incident_services.signal_ingest(signal=signal)
    except Exception as exc:  # the incident core refused it: keep the monitor result, say why
        logger.exception("monitor result %s: signal not raised", result.pk)
        MonitorResult.objects.filter(pk=result.pk).update(
            signal_outcome="error", reasons=[*result.reasons, f"signal not raised: {exc}"]
        )
        return
    MonitorResult.objects.filter(pk=result.pk).update(
        signal_outcome=outcome.outcome, alert_id=outcome.alert_id, incident_id=outcome.incident_id
    )


def _signal_build(*, result: MonitorResult, run: MonitorRun, status: str) -> SignalIn:
    model, version = run.model, run.version
    kind_label = MonitorKind(result.kind).label.lower()
    return SignalIn(
        source_kind="model",
        source_name=SIGNAL_SOURCE,
        service=model.service.name,
        title=f"Model {model.name} v{version.version}: {kind_label} "
              f"{'breach' if status == 'firing' else 'back to normal'}",
        # One alert per model and monitor kind: the next breach of the same kind joins it.
        fingerprint=f"{SIGNAL_SOURCE}:{model.name}:{result.kind}",
        description="\n".join(result.reasons),
        labels={"model": model.name, "version": str(version.version), "monitor": result.kind},
        severity_hint="high" if result.kind in HIGH_SEVERITY_KINDS else "warning",
        status=status,
        payload={
            "model": model.name, "version": version.version, "monitor": result.kind, "status": result.status,
            "period_start": run.period_start.isoformat(), "period_end": run.period_end.isoformat(),
            "metrics": _json_safe(result.metrics),
        },
        links=[{"href": f"{settings.SITE_URL}/models/{model.name}/", "text": f"Model {model.name}"}],
        kpis=[model.business_kpi] if model.business_kpi else [],
    )


def monitor_alerts_resolve(*, model: RegisteredModel, reason: str) -> int:
    """Resolve the model's monitor alerts in the incident core (e.g. before its history is deleted)."""
    if model.service is None:
        return 0
    kinds = set(
        MonitorResult.objects.filter(model=model).exclude(signal_outcome="").values_list("kind", flat=True)
    )
    resolved = 0
    for kind in sorted(kinds):
        try:
            incident_services.signal_ingest(signal=SignalIn(
                source_kind="model", source_name=SIGNAL_SOURCE, service=model.service.name,
                title=f"Model {model.name}: {MonitorKind(kind).label.lower()} alert closed",
                fingerprint=f"{SIGNAL_SOURCE}:{model.name}:{kind}", description=reason, status="resolved",
                labels={"model": model.name, "monitor": kind},
            ))
            resolved += 1
        except Exception:  # the core refused: nothing else to do, the alert stays for a person to close
            logger.exception("could not resolve the %s alert of %s", kind, model.name)
    return resolved


def _json_safe(value: Any) -> Any:
    """NaN/inf become null: PostgreSQL's jsonb rejects them (and so do strict JSON clients)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
