"""Telemetry intake: store a validated batch durably (the outbox), then write its points in bulk.

The request path validates, stores the batch row and answers; it only asks for a drain of the
batch's partition (a debounced "kick"; partitions are integrations, so one sender's batches are
written in the order they were accepted). The ingest drain, one worker per partition at a time,
claims queued batches in steps of up to INGEST_STEP_POINTS points, writes their points in one COPY
and queues the new points for the detect drain of their service's partition (services.anomalies),
all in one transaction per step.
"""
from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import orjson
from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from core.db import rows_insert, rows_update
from core.drain import (
    Lease,
    LeaseLost,
    drain_kick,
    drain_kick_on_commit,
    drain_partitions,
    drain_run,
    partition_count,
    partition_of,
    partitions_rehome,
)
from core.exceptions import DomainError
from core.models import Integration, Service
from core.permissions import integration_check_services
from monitoring.choices import BatchSource, BatchStatus
from monitoring.models import DetectQueue, TelemetryBatch

from ..formats.native import (
    NormalisedBatch,
    SeriesKey,
    pack_points,
    parse_telemetry_json,
    unpack_points,
)
from . import points as points_service
from .drains import DETECT, INGEST

logger = logging.getLogger(__name__)

# Batches left PROCESSING by an earlier version whose worker died are queued again after this.
STALE_CLAIM = timedelta(minutes=5)
# Points written per ingest step (one transaction, one COPY): large enough to amortise the
# per-step statements and commit, small enough that a step takes well under a second.
INGEST_STEP_POINTS = 50_000
INGEST_STEP_BATCHES = 200


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
    # Not cached: a service deleted and created again under its name would leave a cached id that
    # fails the accepted batch later; one indexed query per request is cheap.
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
    def resolve_services(names: Iterable[str]) -> Mapping[str, int]:
        known = services_by_name(names)
        # 403 before anything is stored when a point names a service the token may not write to.
        integration_check_services(integration=integration, services=known)
        return known

    batch = parse_telemetry_json(
        body=body, resolve_services=resolve_services, now=now or timezone.now(),
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
    partition = partition_of(integration.pk if integration is not None else None)
    try:
        with transaction.atomic():
            row = TelemetryBatch.objects.create(
                integration=integration, source=source, idempotency_key=idempotency_key, body_sha256=body_sha256,
                point_count=len(batch), series_count=len(batch.series),
                series_keys=[key.as_list() for key in batch.series], data=pack_points(batch), partition=partition,
            )
            drain_kick_on_commit(INGEST, [partition])
    except IntegrityError:
        # Two retries of one batch raced; the loser answers like a replay.
        if idempotency_key and integration is not None:
            replay = _replay(integration=integration, idempotency_key=idempotency_key, digest=body_sha256)
            if replay is not None:
                return replay
        raise
    # The integration's received_count is counted by the ingest drain (one update per step).
    return BatchAccepted(batch_id=row.pk, accepted=len(batch))


def telemetry_ingest_kick(*, partition: int, force: bool = False) -> None:
    """Ask for an ingest drain of the partition (after a batch row is committed)."""
    drain_kick(INGEST, partition, force=force)


def telemetry_ingest_drain(*, partition: int | None = None, idle_seconds: float | None = None,
                           max_seconds: float | None = None) -> int:
    """Write the partition's queued batches (every partition's when None) step by step until none
    is left; returns the points taken (-1: another worker holds the partition)."""
    queued = TelemetryBatch.objects.filter(status=BatchStatus.QUEUED)

    def run(p: int) -> int:
        return drain_run(
            INGEST, p, lambda lease: telemetry_ingest_step(partition=p, lease=lease).points,
            pending=lambda: queued.filter(partition=p).exists(),
            pending_elsewhere=lambda: queued.exclude(partition=p).exists(),
            idle_seconds=idle_seconds, max_seconds=max_seconds,
        )

    return drain_partitions(run, partition)


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestStep:
    batches: int = 0
    points: int = 0  # points in the claimed batches
    stored: int = 0  # new points (duplicates are not counted)
    series: int = 0
    failed: int = 0


def telemetry_ingest_step(*, max_points: int = INGEST_STEP_POINTS, batch_ids: list[int] | None = None,
                          partition: int | None = None, lease: Lease | None = None) -> IngestStep:
    """Claim the oldest queued batches (of `partition`, else of any; up to `max_points` points) and
    write them in one transaction; with a drain's `lease`, only while it holds it.

    A step that fails for a reason other than the database being unavailable is redone one batch
    at a time, so one bad batch is marked FAILED with its error and the others are written.
    """
    try:
        with transaction.atomic():
            if lease is not None:
                lease.hold()
            claimed = _claim(max_points=max_points, batch_ids=batch_ids, partition=partition)
            if not claimed:
                return IngestStep()
            return _write(claimed)
    except (OperationalError, InterfaceError):
        raise  # transient: everything rolled back; the task retries with backoff
    except LeaseLost:
        raise  # another worker holds the partition now: it writes these batches
    except Exception as exc:
        points_service.series_cache_clear()  # a deleted series is the likely cause of an FK error
        points_service.stored_max_clear()
        if batch_ids is not None and len(batch_ids) == 1:
            TelemetryBatch.objects.filter(pk=batch_ids[0], status=BatchStatus.QUEUED).update(
                status=BatchStatus.FAILED, attempts=F("attempts") + 1, error=f"{type(exc).__name__}: {exc}"[:2000],
            )
            logger.exception("telemetry batch %s failed", batch_ids[0])
            return IngestStep(batches=1, failed=1)
    queued = TelemetryBatch.objects.filter(status=BatchStatus.QUEUED)
    if batch_ids:
        queued = queued.filter(pk__in=batch_ids)
    if partition is not None:
        queued = queued.filter(partition=partition)
    ids = list(queued.order_by("pk").values_list("pk", flat=True)[:INGEST_STEP_BATCHES])
    totals: Counter[str] = Counter()
    for batch_id in ids:  # one at a time, in order
        one = telemetry_ingest_step(batch_ids=[batch_id], lease=lease)
        totals.update(batches=one.batches, points=one.points, stored=one.stored, series=one.series, failed=one.failed)
    return IngestStep(**totals)


def _claim(*, max_points: int, batch_ids: list[int] | None, partition: int | None) -> list[TelemetryBatch]:
    rows = TelemetryBatch.objects.select_for_update(skip_locked=True).filter(status=BatchStatus.QUEUED)
    if batch_ids is not None:
        rows = rows.filter(pk__in=batch_ids)
    if partition is not None:
        rows = rows.filter(partition=partition)
    head = list(rows.order_by("pk").values_list("pk", "point_count")[:INGEST_STEP_BATCHES])
    ids: list[int] = []
    total = 0
    for pk, count in head:
        if ids and total + count > max_points:
            break
        ids.append(pk)
        total += count
    if not ids:
        return []
    return list(
        TelemetryBatch.objects.filter(pk__in=ids).order_by("pk")
        .only("pk", "integration_id", "series_keys", "data", "attempts", "received_at")
    )


def _write(claimed: list[TelemetryBatch]) -> IngestStep:
    now = timezone.now()
    keys: list[SeriesKey] = []
    key_pos: dict[tuple[str, str, bytes], int] = {}
    parts_index: list[np.ndarray] = []
    parts_ts: list[np.ndarray] = []
    parts_values: list[np.ndarray] = []
    parts_batch: list[np.ndarray] = []
    for position, row in enumerate(claimed):
        local = np.empty(len(row.series_keys), dtype=np.int64)
        for j, raw in enumerate(row.series_keys):
            ident = (raw[0], raw[1], orjson.dumps(raw[2], option=orjson.OPT_SORT_KEYS))
            at = key_pos.get(ident)
            if at is None:
                at = key_pos[ident] = len(keys)
                keys.append(SeriesKey.from_list(raw))
            local[j] = at
        index, ts, values = unpack_points(bytes(row.data))
        parts_index.append(local[index])
        parts_ts.append(ts)
        parts_values.append(values)
        parts_batch.append(np.full(ts.shape[0], position, dtype=np.int64))
    series_of_key = np.asarray(points_service.series_resolve(keys=keys), dtype=np.int64)
    service_of_key = np.asarray([key.service_id for key in keys], dtype=np.int64)
    key_index = np.concatenate(parts_index)
    series_ids = series_of_key[key_index]
    ts = np.concatenate(parts_ts)
    values = np.concatenate(parts_values)
    batch = np.concatenate(parts_batch)
    stored = points_service.points_insert(series_ids=series_ids, ts=ts, values=values)
    per_batch = np.bincount(batch[stored], minlength=len(claimed))
    _batches_mark_stored(claimed, per_batch, now)
    partitions = _detect_enqueue(series_ids[stored], points_service.stored_epoch(ts[stored]),
                                 service_of_key[key_index][stored])
    _count_receipts(claimed)
    drain_kick_on_commit(DETECT, partitions)
    return IngestStep(batches=len(claimed), points=int(ts.shape[0]), stored=int(stored.sum()), series=len(keys))


def _batches_mark_stored(claimed: list[TelemetryBatch], per_batch: np.ndarray, now: datetime) -> None:
    rows_update(
        table=TelemetryBatch._meta.db_table,
        assignments="status = :status, stored_count = :n, processed_at = :at, error = ''",
        rows=[{"id": row.pk, "status": BatchStatus.STORED, "n": n, "at": now}
              for row, n in zip(claimed, per_batch.tolist(), strict=True)],
        types={"id": "bigint", "status": "text", "n": "int", "at": "timestamptz"},
    )


def _detect_enqueue(series_ids: np.ndarray, ts: np.ndarray, service_ids: np.ndarray) -> set[int]:
    """One DetectQueue row per series with new points: their first and last event time and count,
    in the partition of the series' service. Returns the partitions that got rows."""
    if series_ids.shape[0] == 0:
        return set()
    order = np.lexsort((ts, series_ids))
    s, t = series_ids[order], ts[order]
    head = np.ones(s.shape[0], dtype=bool)
    head[1:] = s[1:] != s[:-1]
    starts = np.flatnonzero(head)
    ends = np.append(starts[1:], s.shape[0]) - 1
    partitions = (service_ids[order][starts] % partition_count()).tolist()
    rows_insert(
        table=DetectQueue._meta.db_table,
        columns={"series_id": "bigint", "first_ts": "float8", "last_ts": "float8", "points": "int", "partition": "int"},
        rows=list(zip(s[starts].tolist(), t[starts].tolist(), t[ends].tolist(), (ends - starts + 1).tolist(),
                      partitions, strict=True)),
    )
    return set(partitions)


def _count_receipts(claimed: list[TelemetryBatch]) -> None:
    """A batch counts as a received request of its integration when it is first written."""
    first = [row for row in claimed if row.integration_id is not None]
    counts: Counter[int] = Counter(row.integration_id for row in first if row.integration_id is not None)
    for integration_id, count in counts.items():
        latest = max(row.received_at for row in first if row.integration_id == integration_id)
        Integration.objects.filter(pk=integration_id).update(
            received_count=F("received_count") + count,
            last_received_at=Greatest(Coalesce(F("last_received_at"), latest), latest),
        )


# A queued batch older than this has lost its message (the broker was down at commit time).
REQUEUE_AFTER = timedelta(minutes=2)


def telemetry_batches_requeue() -> int:
    """Ask for a drain when batches wait longer than they should (a lost kick, a dead worker)."""
    now = timezone.now()
    # Left PROCESSING by an earlier version's worker: the drain takes queued rows only.
    TelemetryBatch.objects.filter(status=BatchStatus.PROCESSING, claimed_at__lt=now - STALE_CLAIM).update(
        status=BatchStatus.QUEUED
    )
    queued = TelemetryBatch.objects.filter(status=BatchStatus.QUEUED)
    partitions_rehome(queued)
    partitions_rehome(DetectQueue.objects.all())
    late = queued.filter(received_at__lt=now - REQUEUE_AFTER)
    waiting = late.count()
    for partition in range(partition_count()):  # one indexed probe per partition
        if waiting and late.filter(partition=partition).exists():
            telemetry_ingest_kick(partition=partition, force=True)
        if DetectQueue.objects.filter(partition=partition).exists():
            drain_kick(DETECT, partition, force=True)
    return waiting


# Stored batches are only needed to answer a retried request with the same Idempotency-Key:
# agents retry within minutes, so a day is ample and keeps the outbox table small.
BATCH_RETENTION = timedelta(days=1)


def telemetry_batches_expire(*, now: datetime | None = None) -> int:
    """Delete processed batches past BATCH_RETENTION (failed ones stay for inspection)."""
    cutoff = (now or timezone.now()) - BATCH_RETENTION
    deleted, _ = TelemetryBatch.objects.filter(status=BatchStatus.STORED, processed_at__lt=cutoff).delete()
    return deleted
