"""Tasks of the monitoring app."""
from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from celery.signals import worker_init
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

# Modules, not names, so the services can import this module for .delay() without a cycle.
from .services import anomalies as anomaly_services
from .services import points as point_services
from .services import telemetry as telemetry_services


# --- telemetry (ingest and detect queues) ------------------------------------------------------
@worker_init.connect
def _warm_detectors(**_kwargs) -> None:
    """Load the compiled detectors and pyod once in the worker's main process, before it forks its
    pool (no database work), so no detect task waits a second or two for them."""
    try:
        anomaly_services.detectors_warm()
    except Exception:  # noqa: BLE001  warming is an optimisation; the first task loads what it needs
        pass



# Operational database errors are transient (a restart, a deadlock victim, a full pool): retry
# with backoff; the services claim rows so a retry never stores or scores anything twice.
# Programming and integrity errors are bugs or bad data and fail at once.
_RETRY = {"autoretry_for": (OperationalError, InterfaceError), "retry_backoff": 2, "retry_backoff_max": 60, "max_retries": 5}


# The drains: kicked (debounced) after commits, swept by beat; one of each runs at a time and
# hands over to a fresh task every few seconds. ignore_result: nobody reads it.
@shared_task(name="monitoring.ingest_telemetry", ignore_result=True, **_RETRY)
def ingest_telemetry() -> int:
    return telemetry_services.telemetry_ingest_drain()


@shared_task(name="monitoring.detect_telemetry", ignore_result=True, **_RETRY)
def detect_telemetry() -> int:
    return anomaly_services.telemetry_detect_drain()


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
from .services import intake as intake_services  # noqa: E402  (grouped with its tasks)

# Transient database trouble (operational errors, as for telemetry) is retried with backoff;
# anything else is a bug or a refused signal and is recorded on the row as FAILED at once.
ALERT_INTAKE_MAX_RETRIES = 5


# The drain: kicked (debounced) by the request path, swept every minute by beat. ignore_result:
# nobody reads it. Rows it was working on when the database failed are back in the queue
# (FAILED after MAX_ATTEMPTS claims); the retry only makes sure someone drains them soon.
@shared_task(name="monitoring.process_alert_intakes", bind=True, max_retries=ALERT_INTAKE_MAX_RETRIES,
             ignore_result=True)
def process_alert_intakes(self) -> int:
    eager = settings.CELERY_TASK_ALWAYS_EAGER  # in-process: the kick ran after the commit, nothing to wait for
    intake_services.alert_intakes_drain_started()
    try:
        result = intake_services.alert_intakes_drain(
            min_seconds=0.0 if eager else intake_services.KICK_DEBOUNCE_SECONDS, fan_out=not eager
        )
    except intake_services.TRANSIENT_DB_ERRORS as exc:
        raise self.retry(exc=exc, countdown=min(60, 2 ** (self.request.retries + 1))) from exc
    return result.claimed


# One row (messages queued by earlier versions, bench_notify's storm); same processing as the drain.
@shared_task(name="monitoring.process_alert_intake", bind=True, max_retries=ALERT_INTAKE_MAX_RETRIES, ignore_result=True)
def process_alert_intake(self, intake_id: int) -> str:
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


@shared_task(name="monitoring.requeue_alert_intakes")
def requeue_alert_intakes() -> int:
    return intake_services.alert_intakes_requeue_stale()
