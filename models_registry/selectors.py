"""Reads of the models_registry app: models with their health at a glance, versions, runs, decisions."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypedDict

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from .choices import BatchJobSource, BatchJobStatus, MonitorKind, MonitorStatus, TrainingRunStatus, VersionAlias
from .exceptions import ModelNotFound
from .models import (
    AtRiskEntry,
    BatchScoringJob,
    CostEntry,
    GateDecision,
    JourneyHandled,
    ModelVersion,
    MonitorResult,
    PredictionLog,
    RegisteredModel,
    TrainingRun,
)
from .pipelines.flights import LOCAL_TZ


def model_get_by_name(*, name: str) -> RegisteredModel:
    model = RegisteredModel.objects.select_related("team", "service").filter(name=name).first()
    if model is None:
        raise ModelNotFound(f"no registered model named {name!r}", field="name")
    return model


def model_list() -> QuerySet[RegisteredModel]:
    return RegisteredModel.objects.select_related("team", "service").order_by("name")


def model_champion(*, model: RegisteredModel) -> ModelVersion | None:
    return ModelVersion.objects.filter(model=model, alias=VersionAlias.CHAMPION).first()


_SERVING_MODEL_FIELDS = frozenset({"id", "name", "task", "pipeline", "shadow_id"})
_SERVING_VERSION_FIELDS = frozenset({"id", "model_id", "version", "artifact_path", "artifact_sha256"})


def model_serving_get(*, name: str) -> tuple[RegisteredModel, ModelVersion | None]:
    """The model named `name` and its champion (None: it has none) in one query; ModelNotFound otherwise.

    Read on every prediction request, so a promotion or rollback is served as soon as it commits.
    Hand-written SQL because the ORM spent ~1 ms of CPU building this query per request, more than
    scoring 100 records. The instances hold the columns serving reads; any other field loads on
    access, as with `.only()`.
    """
    model_fields, version_fields, sql = _serving_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [str(VersionAlias.CHAMPION), name])
        row = cursor.fetchone()
    if row is None:
        raise ModelNotFound(f"no registered model named {name!r}", field="name")
    model = RegisteredModel.from_db(connection.alias, model_fields, row[:len(model_fields)])
    version_row = row[len(model_fields):]
    if version_row[0] is None:
        return model, None
    champion = ModelVersion.from_db(connection.alias, version_fields, version_row)
    champion.model = model
    return model, champion


@functools.cache
def _serving_query() -> tuple[list[str], list[str], str]:
    def quote(column: str | None) -> str:
        assert column is not None  # concrete fields always have a column
        return connection.ops.quote_name(column)

    models_meta, versions_meta = RegisteredModel._meta, ModelVersion._meta
    # Columns in concrete-field order, as Model.from_db expects them.
    model_fields = [f for f in models_meta.concrete_fields if f.attname in _SERVING_MODEL_FIELDS]
    version_fields = [f for f in versions_meta.concrete_fields if f.attname in _SERVING_VERSION_FIELDS]
    columns = [f"m.{quote(f.column)}" for f in model_fields] + [f"v.{quote(f.column)}" for f in version_fields]
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(models_meta.db_table)} m "
        f"LEFT JOIN {quote(versions_meta.db_table)} v ON v.{quote(versions_meta.get_field('model').column)} = m.id "
        f"AND v.{quote(versions_meta.get_field('alias').column)} = %s "
        f"WHERE m.{quote(models_meta.get_field('name').column)} = %s"
    )
    return [f.attname for f in model_fields], [f.attname for f in version_fields], sql


def model_challenger(*, model: RegisteredModel) -> ModelVersion | None:
    return ModelVersion.objects.filter(model=model, alias=VersionAlias.CHALLENGER).first()


def version_list(*, model: RegisteredModel) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.filter(model=model).select_related("training_run").order_by("-version")


def version_get(*, model: RegisteredModel, number: int) -> ModelVersion | None:
    return ModelVersion.objects.filter(model=model, version=number).first()


def training_run_list(*, model: RegisteredModel | None = None) -> QuerySet[TrainingRun]:
    runs = TrainingRun.objects.select_related("model", "requested_by")
    return runs.filter(model=model) if model is not None else runs


def gate_decision_list(*, model: RegisteredModel) -> QuerySet[GateDecision]:
    return GateDecision.objects.filter(model=model).select_related("challenger", "champion", "training_run")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelHealth:
    """One row of the models list: what serves, when it was last retrained, what the gate last said."""

    model: RegisteredModel
    champion: ModelVersion | None
    challenger: ModelVersion | None
    last_run: TrainingRun | None
    last_decision: GateDecision | None


def model_health_list() -> list[ModelHealth]:
    models = list(model_list())
    champions = {v.model_id: v for v in ModelVersion.objects.filter(alias=VersionAlias.CHAMPION)}
    challengers = {v.model_id: v for v in ModelVersion.objects.filter(alias=VersionAlias.CHALLENGER)}
    rows = []
    for model in models:
        rows.append(
            ModelHealth(
                model=model,
                champion=champions.get(model.pk),
                challenger=challengers.get(model.pk),
                last_run=TrainingRun.objects.filter(model=model).order_by("-created_at", "-id").first(),
                last_decision=GateDecision.objects.filter(model=model).select_related("challenger").first(),
            )
        )
    return rows


class VersionMetricSeries(TypedDict):
    labels: list[str]
    statuses: list[str]
    datasets: dict[str, list[Any]]


def version_metric_series(*, model: RegisteredModel) -> VersionMetricSeries:
    """Validation metrics per version, oldest first: the model page's chart data."""
    versions = list(ModelVersion.objects.filter(model=model).order_by("version"))
    keys: list[str] = []
    for version in versions:
        for key, value in version.metrics.items():
            if key not in ("n", "alert_budget") and isinstance(value, (int, float)) and key not in keys:
                keys.append(key)
    return {
        "labels": [f"v{v.version}" for v in versions],
        "statuses": [v.status for v in versions],
        "datasets": {key: [v.metrics.get(key) for v in versions] for key in keys},
    }


# --- monitors ----------------------------------------------------------------------------------

MONITOR_SERIES_LIMIT = 120  # periods on a chart: four months of daily runs, ten years of monthly ones


def monitor_result_list() -> QuerySet[MonitorResult]:
    return MonitorResult.objects.select_related("model", "version").order_by("-period_end", "kind", "-id")


def monitor_latest_status(*, model: RegisteredModel) -> dict[str, MonitorResult]:
    """The newest result of each monitor kind for a model (what the models list shows)."""
    latest: dict[str, MonitorResult] = {}
    for kind in MonitorKind.values:
        result = MonitorResult.objects.filter(model=model, kind=kind).order_by("-period_end", "-id").first()
        if result is not None:
            latest[kind] = result
    return latest


MONITOR_GAP_FILL_MAX = 52  # at most a year of missing weekly periods drawn as gaps; more is not one chart


def _periods_with_gaps(periods: list) -> list:
    """The measured periods plus the ones never measured between them (at the usual step), so a chart
    shows a gap there instead of a line through weeks nobody measured."""
    if len(periods) < 3:
        return periods
    step = min(b - a for a, b in zip(periods, periods[1:], strict=False))
    if not step:
        return periods
    filled, added = [periods[0]], 0
    for current in periods[1:]:
        while current - filled[-1] >= 2 * step and added < MONITOR_GAP_FILL_MAX:
            filled.append(filled[-1] + step)
            added += 1
        filled.append(current)
    return filled


def monitor_series(*, model: RegisteredModel) -> dict[str, object]:
    """Monitor metrics over time (oldest first): MAE / bias shares / recall, drift PSI per feature."""
    results = list(
        MonitorResult.objects.filter(
            model=model, kind__in=[MonitorKind.PERFORMANCE, MonitorKind.DATA_DRIFT, MonitorKind.PREDICTION_DRIFT]
        )
        .select_related("version")
        .order_by("-period_end", "-id")[: MONITOR_SERIES_LIMIT * 3]
    )
    results.reverse()
    periods = _periods_with_gaps(sorted({r.period_end for r in results}))
    index = {p: i for i, p in enumerate(periods)}
    blank = [None] * len(periods)
    performance: dict[str, list] = {}
    psi: dict[str, list] = {}
    versions: list[int | None] = [None] * len(periods)
    statuses: dict[str, list] = {kind: list(blank) for kind in MonitorKind.values}
    for r in results:
        i = index[r.period_end]
        statuses[r.kind][i] = r.status
        if r.kind == MonitorKind.PERFORMANCE:
            versions[i] = r.version.version
            for key in ("mae", "too_optimistic_share", "too_conservative_share", "recall_at_budget",
                        "precision_at_budget"):
                if isinstance(r.metrics.get(key), (int, float)):
                    performance.setdefault(key, list(blank))[i] = r.metrics[key]
        elif r.kind == MonitorKind.DATA_DRIFT:
            for feature, value in (r.metrics.get("psi") or {}).items():
                psi.setdefault(feature, list(blank))[i] = value
        elif r.kind == MonitorKind.PREDICTION_DRIFT and isinstance(r.metrics.get("psi"), (int, float)):
            psi.setdefault("prediction", list(blank))[i] = r.metrics["psi"]
    return {
        "periods": [p.isoformat() for p in periods],
        "versions": versions,
        "performance": performance,
        "psi": psi,
        "statuses": statuses,
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrySummary:
    registered: int
    serving: int  # models with a champion
    failed_runs_7d: int


def registry_summary() -> RegistrySummary:
    return RegistrySummary(
        registered=RegisteredModel.objects.count(),
        serving=ModelVersion.objects.filter(alias=VersionAlias.CHAMPION).count(),
        failed_runs_7d=TrainingRun.objects.filter(
            status=TrainingRunStatus.FAILED, created_at__gte=timezone.now() - timedelta(days=7)
        ).count(),
    )


def monitor_breaching_models() -> list[str]:
    """Names of models whose newest result of some monitor kind is a breach (the home page card)."""
    names = []
    for model in model_list():
        latest = monitor_latest_status(model=model)
        if any(result.status == MonitorStatus.BREACH for result in latest.values()):
            names.append(model.name)
    return names


def roi_default_period() -> tuple[date, date]:
    """The twelve months up to the latest month with a cost or a logged prediction (or this month)."""
    latest = [
        PredictionLog.objects.order_by("-created_at").values_list("created_at", flat=True).first(),
        CostEntry.objects.order_by("-period_start").values_list("period_start", flat=True).first(),
    ]
    moment = max((m for m in latest if m is not None), default=timezone.now())
    end = date(moment.year + (moment.month == 12), moment.month % 12 + 1, 1)
    start = date(end.year - 1, end.month, 1)
    return start, end


# ---- model operations (issue #14): batch jobs and the at-risk list ----------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class AtRiskRow:
    entry: AtRiskEntry
    handled: JourneyHandled | None
    is_new: bool  # not in the previous list: what today's triage has not seen yet


def batch_job_list(*, model: RegisteredModel | None = None) -> QuerySet[BatchScoringJob]:
    jobs = BatchScoringJob.objects.select_related("model", "version", "requested_by")
    return jobs.filter(model=model) if model is not None else jobs


def at_risk_latest_job(*, model_name: str) -> BatchScoringJob | None:
    return (
        BatchScoringJob.objects.filter(
            model__name=model_name, source=BatchJobSource.OPEN_JOURNEYS, status=BatchJobStatus.SUCCEEDED
        ).select_related("model", "version").order_by("-as_of", "-pk").first()
    )


def at_risk_rows(
    *, job: BatchScoringJob, origin: str = "", carrier: str = "", day: date | None = None, only_new: bool = False,
    hide_handled: bool = False, limit: int | None = None,
) -> list[AtRiskRow]:
    """The list's entries by rank, with their handled mark and whether they are new since the previous list."""
    entries = AtRiskEntry.objects.filter(job=job).select_related("version", "forecast_version").order_by("rank")
    if origin:
        entries = entries.filter(origin=origin.upper())
    if carrier:
        entries = entries.filter(carrier=carrier.upper())
    if day is not None:
        start = datetime.combine(day, time.min, tzinfo=LOCAL_TZ)
        entries = entries.filter(scheduled_departure__gte=start, scheduled_departure__lt=start + timedelta(days=1))
    previous = (
        BatchScoringJob.objects.filter(model=job.model, source=job.source, status=BatchJobStatus.SUCCEEDED)
        .filter(Q(as_of__lt=job.as_of) | Q(as_of=job.as_of, pk__lt=job.pk)).order_by("-as_of", "-pk").first()
    )
    seen: set[str] = (
        set(AtRiskEntry.objects.filter(job=previous).values_list("journey_key", flat=True)) if previous else set()
    )
    rows = list(entries if limit is None or hide_handled or only_new else entries[:limit])
    marks = {m.journey_key: m for m in JourneyHandled.objects.filter(
        journey_key__in=[e.journey_key for e in rows]).select_related("handled_by")}
    out = []
    for entry in rows:
        row = AtRiskRow(entry=entry, handled=marks.get(entry.journey_key),
                        is_new=previous is not None and entry.journey_key not in seen)
        if (only_new and not row.is_new) or (hide_handled and row.handled is not None):
            continue
        out.append(row)
        if limit is not None and len(out) >= limit:
            break
    return out


def at_risk_filters(*, job: BatchScoringJob) -> dict[str, list[str]]:
    entries = AtRiskEntry.objects.filter(job=job)
    return {
        "origins": sorted(set(entries.values_list("origin", flat=True))),
        "carriers": sorted(set(entries.values_list("carrier", flat=True))),
    }
