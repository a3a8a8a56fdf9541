"""Tasks of the monitoring app."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_init
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from .services import anomalies as anomaly_services
from .services import capacity as capacity_services
from .services import intake as intake_services
from .services import points as point_services
from .services import telemetry as telemetry_services


# --- telemetry (ingest and detect queues) ------------------------------------------------------
@worker_init.connect
def _warm_detectors(**_kwargs: Any) -> None:
    """Load the compiled detectors and pyod once in the worker's main process, before it forks its
    pool (no database work), so no detect task waits a second or two for them."""
    try:
        anomaly_services.detectors_warm()
    except Exception:  # noqa: BLE001  warming is an optimisation; the first task loads what it needs
        pass


# Operational database errors are transient (a restart, a deadlock victim, a full pool): retry
# with backoff; the services claim rows so a retry never stores or scores anything twice.
# Programming and integrity errors are bugs or bad data and fail at once.
_RETRY: dict[str, Any] = {
    "autoretry_for": (OperationalError, InterfaceError), "retry_backoff": 2, "retry_backoff_max": 60, "max_retries": 5,
}


# The drains (core.drain): kicked (debounced) after commits with their partition, swept by beat;
# one worker at a time per partition, handing over to a fresh task every few seconds. Without a
# partition (messages of earlier versions), every partition in turn. ignore_result: nobody reads it.
@shared_task(name="monitoring.ingest_telemetry", ignore_result=True, **_RETRY)
def ingest_telemetry(partition: int | None = None) -> int:
    return telemetry_services.telemetry_ingest_drain(partition=partition)


@shared_task(name="monitoring.detect_telemetry", ignore_result=True, **_RETRY)
def detect_telemetry(partition: int | None = None) -> int:
    return anomaly_services.telemetry_detect_drain(partition=partition)


# Messages queued by earlier versions (one per batch / per chunk of series): same work as the drains.
@shared_task(name="monitoring.ingest_batch", ignore_result=True, **_RETRY)
def ingest_batch(batch_id: int) -> int:
    return telemetry_services.telemetry_ingest_drain()


@shared_task(name="monitoring.detect_series", ignore_result=True, **_RETRY)
def detect_series(series_ids: list[int]) -> int:
    return anomaly_services.series_detect(series_ids=list(series_ids))


@shared_task(name="monitoring.expire_points", soft_time_limit=1800, time_limit=1900)
def expire_points() -> int:
    cutoff = timezone.now() - timedelta(days=settings.POINT_RETENTION_DAYS)
    return point_services.points_expire(older_than=cutoff).deleted_points


@shared_task(name="monitoring.requeue_batches")
def requeue_batches() -> int:
    return telemetry_services.telemetry_batches_requeue()


@shared_task(name="monitoring.expire_batches")
def expire_batches() -> int:
    return telemetry_services.telemetry_batches_expire()


# --- alert intake (ingest queue) ----------------------------------------------------------------
# Transient database trouble (operational errors, as for telemetry) is retried with backoff;
# anything else is a bug or a refused signal and is recorded on the row as FAILED at once.
ALERT_INTAKE_MAX_RETRIES = 5


# The drain of one partition: kicked (debounced) by the request path, swept every few seconds by
# beat. ignore_result: nobody reads it. Rows it was working on when the database failed are back
# in the queue (FAILED after MAX_ATTEMPTS claims); the retry only makes sure someone drains them soon.
@shared_task(name="monitoring.process_alert_intakes", bind=True, max_retries=ALERT_INTAKE_MAX_RETRIES,
             ignore_result=True)
def process_alert_intakes(self: Task, partition: int | None = None) -> int:
    try:
        result = intake_services.alert_intakes_drain(partition=partition)
    except intake_services.TRANSIENT_DB_ERRORS as exc:
        raise self.retry(exc=exc, countdown=min(60, 2 ** (self.request.retries + 1))) from exc
    return result.claimed


# One row (messages queued by earlier versions, bench_notify's storm); same processing as the drain.
@shared_task(name="monitoring.process_alert_intake", bind=True, max_retries=ALERT_INTAKE_MAX_RETRIES,
             ignore_result=True)
def process_alert_intake(self: Task, intake_id: int) -> str:
    try:
        intake = intake_services.alert_intake_process(intake_id=intake_id)
    except (OperationalError, InterfaceError) as exc:
        if self.request.retries >= ALERT_INTAKE_MAX_RETRIES:
            intake_services.alert_intake_fail(intake_id=intake_id, error=f"{type(exc).__name__}: {exc}")
            raise
        raise self.retry(exc=exc, countdown=min(60, 2 ** (self.request.retries + 1))) from exc
    except Exception as exc:
        intake_services.alert_intake_fail(intake_id=intake_id, error=f"{type(exc).__name__}: {exc}")
        raise
    return intake.status if intake is not None else "already claimed"


# A request carrying a firing critical alert: processed at once on `notify` (issue 16's storm test),
# through the same claim as the drain, so whichever comes first processes it, once.
@shared_task(name="monitoring.priority_alert_intake", ignore_result=True)
def priority_alert_intake(intake_id: int) -> str:
    try:
        intake = intake_services.alert_intake_process_priority(intake_id=intake_id)
    except (OperationalError, InterfaceError):
        return "left to the drain"  # the row is still queued or its claim runs out: the drain takes it
    return intake.status if intake is not None else "left to the drain"


@shared_task(name="monitoring.requeue_alert_intakes")
def requeue_alert_intakes() -> int:
    return intake_services.alert_intakes_requeue_stale()


# --- capacity (issue 13) ----------------------------------------------------------------------
@shared_task(name="monitoring.forecast_capacity", ignore_result=True, **_RETRY)
def forecast_capacity() -> int:
    """Recompute every capacity series' time-to-exhaustion forecast (beat, every 15 minutes)."""
    return capacity_services.capacity_forecast_all()
