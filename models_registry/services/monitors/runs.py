"""Monitor runs: create and enqueue, execute (compute, store, then raise signals), run now, schedule, reap."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.enqueue import enqueue as enqueue_task
from core.exceptions import InvalidInput

from ...choices import MonitorRunState, MonitorStatus, MonitorTrigger, VersionAlias
from ...exceptions import NoChampion
from ...models import ModelVersion, MonitorResult, MonitorRun, PredictionLog, RegisteredModel
from .compute import monitors_compute
from .signals import SIGNAL_ORDER, json_safe, result_signal_raise
from .thresholds import MonitorThresholds

logger = logging.getLogger(__name__)

STUCK_RUNNING = timedelta(hours=1)  # far past the default task hard limit (180 s): the worker is gone
STUCK_QUEUED = timedelta(hours=6)  # a daily pass queues fresh runs anyway; older ones are noise


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
        enqueue_task("models_registry.execute_monitor_run", run.pk)
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
                    period_end=run.period_end, status=v.status, sample_size=v.sample_size, metrics=json_safe(v.metrics),
                    details=json_safe(v.details), reasons=list(v.reasons),
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
        result_signal_raise(result=result, run=run)
    # Succeeded only now, so whoever polls the run finds the incidents its breaches raised.
    MonitorRun.objects.filter(pk=run.pk).update(
        state=MonitorRunState.SUCCEEDED, status=worst, finished_at=timezone.now()
    )
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
