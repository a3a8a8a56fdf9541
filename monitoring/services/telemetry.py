"""Telemetry intake: store a validated batch durably (the outbox), then write its points in bulk."""
from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.exceptions import DomainError
from core.models import Integration, Service
from core.services import integration_record_receipt
from monitoring import tasks
from monitoring.choices import BatchSource, BatchStatus
from monitoring.models import MetricSeries, TelemetryBatch

from . import points as points_service
from .telemetry_input import (
    NormalisedBatch,
    SeriesKey,
    pack_points,
    parse_telemetry_json,
    unpack_points,
)

logger = logging.getLogger(__name__)

# A batch claimed this long ago whose worker never finished is taken over by the next delivery
# (acks_late redelivers it); longer than the task's hard time limit so two never overlap.
STALE_CLAIM = timedelta(minutes=5)
MAX_ATTEMPTS = 5  # a batch failing this often is marked FAILED with its error, not retried forever
DETECT_CHUNK = 200  # series per detect task: enough to amortise a task, small enough to spread


class IdempotencyKeyReused(DomainError):
    status_code = 409
    code = "idempotency_key_reused"


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchAccepted:
    batch_id: int
    accepted: int
    replayed: bool = False  # an earlier request with the same Idempotency-Key was answered


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchIngested:
    batch_id: int
    stored: int  # new points (duplicates are not counted)
    series: int
    detect_tasks: int
    skipped: bool = False  # another worker has it or it was done already


def services_by_name(names: Iterable[str]) -> Mapping[str, int]:
    return dict(Service.objects.filter(name__in=list(names)).values_list("name", "id"))


def telemetry_receive(
    *, integration: Integration, body: bytes, idempotency_key: str = "", now: datetime | None = None
) -> BatchAccepted:
    """Validate a native telemetry body (raises InvalidTelemetry) and store it as a batch."""
    digest = hashlib.sha256(body).hexdigest()
    if idempotency_key:
        replay = _replay(integration=integration, idempotency_key=idempotency_key, digest=digest)
        if replay is not None:
            return replay
    batch = parse_telemetry_json(
        body=body, resolve_services=services_by_name, now=now or timezone.now(),
        max_future_skew_seconds=settings.MAX_FUTURE_SKEW_SECONDS,
    )
    return telemetry_batch_create(
        integration=integration, batch=batch, source=BatchSource.NATIVE, idempotency_key=idempotency_key,
        body_sha256=digest,
    )


def _replay(*, integration: Integration, idempotency_key: str, digest: str) -> BatchAccepted | None:
    earlier = TelemetryBatch.objects.filter(integration=integration, idempotency_key=idempotency_key).first()
    if earlier is None:
        return None
    if earlier.body_sha256 != digest:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used for a different body; use a new key for new data",
            field="Idempotency-Key",
        )
    return BatchAccepted(batch_id=earlier.pk, accepted=earlier.point_count, replayed=True)


def telemetry_batch_create(
    *, integration: Integration | None, batch: NormalisedBatch, source: str, idempotency_key: str = "",
    body_sha256: str = "",
) -> BatchAccepted:
    """Store the batch (committed before the caller answers) and queue its ingestion after commit."""
    try:
        with transaction.atomic():
            row = TelemetryBatch.objects.create(
                integration=integration, source=source, idempotency_key=idempotency_key, body_sha256=body_sha256,
                point_count=len(batch), series_count=len(batch.series),
                series_keys=[key.as_list() for key in batch.series], data=pack_points(batch),
            )
            transaction.on_commit(lambda: tasks.ingest_batch.delay(row.pk))
    except IntegrityError:
        # Two retries of one batch raced; the loser answers like a replay.
        if idempotency_key and integration is not None:
            replay = _replay(integration=integration, idempotency_key=idempotency_key, digest=body_sha256)
            if replay is not None:
                return replay
        raise
    if integration is not None:
        integration_record_receipt(integration_id=integration.pk)
    return BatchAccepted(batch_id=row.pk, accepted=len(batch))


def telemetry_batch_ingest(*, batch_id: int) -> BatchIngested:
    """Write a batch's points (idempotent: claims the row; duplicates are ignored by the key)."""
    now = timezone.now()
    claimed = TelemetryBatch.objects.filter(
        Q(status=BatchStatus.QUEUED) | Q(status=BatchStatus.PROCESSING, claimed_at__lt=now - STALE_CLAIM),
        pk=batch_id,
    ).update(status=BatchStatus.PROCESSING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return BatchIngested(batch_id=batch_id, stored=0, series=0, detect_tasks=0, skipped=True)
    row = TelemetryBatch.objects.get(pk=batch_id)
    try:
        result = _ingest(row)
    except Exception as exc:
        points_service.series_cache_clear()  # a deleted series is the likely cause of an FK error
        failed = row.attempts >= MAX_ATTEMPTS
        TelemetryBatch.objects.filter(pk=batch_id).update(
            status=BatchStatus.FAILED if failed else BatchStatus.QUEUED, error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        raise
    return result


def _ingest(row: TelemetryBatch) -> BatchIngested:
    keys = [SeriesKey.from_list(k) for k in row.series_keys]
    index, ts, values = unpack_points(row.data)
    with transaction.atomic():
        series_of_key = np.asarray(points_service.series_resolve(keys=keys), dtype=np.int64)
        series_ids = series_of_key[index]
        stored = points_service.points_store(series_ids=series_ids, ts=ts, values=values)
        queued = series_mark_detect_queued(series_ids=sorted(set(series_of_key.tolist())))
        TelemetryBatch.objects.filter(pk=row.pk).update(
            status=BatchStatus.STORED, stored_count=stored, processed_at=timezone.now(), error="",
        )
        chunks = detect_chunks(queued)
        for chunk in chunks:
            transaction.on_commit(
                lambda chunk=chunk: tasks.detect_series.apply_async((chunk,), countdown=settings.DETECT_DELAY_SECONDS)
            )
    return BatchIngested(batch_id=row.pk, stored=stored, series=len(keys), detect_tasks=len(chunks))


def series_mark_detect_queued(*, series_ids: list[int]) -> list[tuple[int, int]]:
    """Flag series as having a detect task pending; returns (service_id, series_id) of those that
    were not flagged yet, so each series has at most one pending task however many batches arrive."""
    if not series_ids:
        return []
    table = MetricSeries._meta.db_table
    placeholders = ",".join(["%s"] * len(series_ids))
    with connection.cursor() as cursor:
        # One statement that both flips and reports which rows it flipped (RETURNING works on
        # PostgreSQL and SQLite >= 3.35); a read-then-write would race another ingest worker.
        cursor.execute(
            f"UPDATE {table} SET detect_queued_at = %s WHERE id IN ({placeholders}) AND detect_queued_at IS NULL "
            "RETURNING service_id, id",
            [timezone.now(), *series_ids],
        )
        return [(int(s), int(i)) for s, i in cursor.fetchall()]


def detect_chunks(queued: list[tuple[int, int]]) -> list[list[int]]:
    """Series ids grouped by service (a service's series are scored together, so anomalies across
    them become one signal), cut into chunks of DETECT_CHUNK."""
    by_service: dict[int, list[int]] = defaultdict(list)
    for service_id, series_id in queued:
        by_service[service_id].append(series_id)
    chunks: list[list[int]] = []
    current: list[int] = []
    for service_id in sorted(by_service):
        ids = sorted(by_service[service_id])
        if current and len(current) + len(ids) > DETECT_CHUNK:
            chunks.append(current)
            current = []
        while len(ids) > DETECT_CHUNK:
            chunks.append(ids[:DETECT_CHUNK])
            ids = ids[DETECT_CHUNK:]
        current.extend(ids)
    if current:
        chunks.append(current)
    return chunks


# A queued batch older than this has lost its message (the broker was down at commit time).
REQUEUE_AFTER = timedelta(minutes=2)


def telemetry_batches_requeue() -> int:
    """Queue again the batches whose ingest message was lost or whose worker died."""
    now = timezone.now()
    ids = list(
        TelemetryBatch.objects.filter(
            Q(status=BatchStatus.QUEUED, received_at__lt=now - REQUEUE_AFTER)
            | Q(status=BatchStatus.PROCESSING, claimed_at__lt=now - STALE_CLAIM)
        ).values_list("pk", flat=True)[:1000]
    )
    for batch_id in ids:
        tasks.ingest_batch.delay(batch_id)
    return len(ids)


# Stored batches are only needed to answer a retried request with the same Idempotency-Key:
# agents retry within minutes, so a day is ample and keeps the outbox table small.
BATCH_RETENTION = timedelta(days=1)


def telemetry_batches_expire(*, now: datetime | None = None) -> int:
    """Delete processed batches past BATCH_RETENTION (failed ones stay for inspection)."""
    cutoff = (now or timezone.now()) - BATCH_RETENTION
    deleted, _ = TelemetryBatch.objects.filter(status=BatchStatus.STORED, processed_at__lt=cutoff).delete()
    return deleted
