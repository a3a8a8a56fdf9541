"""Bulk storage of points (PostgreSQL COPY into a staging table), series resolution, rollups and retention."""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import connection, transaction
from django.db.models import Avg, Count, Max, Min
from django.db.models.functions import TruncHour

from monitoring.models import MetricSeries, Point, PointRollup

from .telemetry_input import SeriesKey

# --- series resolution -------------------------------------------------------------------------
# (service_id, metric, labels_hash) → series id. Series are never re-keyed, so a process-wide
# cache saves a query per batch; a deleted series surfaces as an FK error and clears it.
_SERIES_CACHE: dict[tuple[int, str, str], int] = {}
_SERIES_CACHE_MAX = 200_000  # ~40 MB worst case per worker process


def labels_hash(labels_json: str) -> str:
    return hashlib.sha256(labels_json.encode()).hexdigest()


def series_cache_clear() -> None:
    _SERIES_CACHE.clear()


def series_resolve(*, keys: list[SeriesKey]) -> list[int]:
    """Ids of the series for `keys`, creating missing ones (concurrent creators are safe)."""
    cache_keys = [(k.service_id, k.metric, labels_hash(k.labels_json)) for k in keys]
    missing = [i for i, ck in enumerate(cache_keys) if ck not in _SERIES_CACHE]
    if missing:
        if len(_SERIES_CACHE) > _SERIES_CACHE_MAX:
            _SERIES_CACHE.clear()
        wanted = {cache_keys[i] for i in missing}
        found = _series_lookup(wanted)
        # Only rows that existed before are cached: a row created here is not committed yet and
        # would leave a dangling id behind if this transaction rolled back.
        _SERIES_CACHE.update(found)
        absent = [i for i in missing if cache_keys[i] not in found]
        if absent:
            MetricSeries.objects.bulk_create(
                [
                    MetricSeries(
                        service_id=keys[i].service_id, metric=keys[i].metric, labels=keys[i].labels,
                        labels_hash=cache_keys[i][2], kind=keys[i].kind, unit=keys[i].unit,
                    )
                    for i in absent
                ],
                ignore_conflicts=True,  # another worker may create the same series right now
            )
            found.update(_series_lookup({cache_keys[i] for i in absent}))
        return [_SERIES_CACHE.get(ck) or found[ck] for ck in cache_keys]
    return [_SERIES_CACHE[ck] for ck in cache_keys]


def _series_lookup(wanted: set[tuple[int, str, str]]) -> dict[tuple[int, str, str], int]:
    rows = MetricSeries.objects.filter(
        service_id__in={w[0] for w in wanted}, labels_hash__in={w[2] for w in wanted},
        metric__in={w[1] for w in wanted},
    ).values_list("service_id", "metric", "labels_hash", "id")
    return {(s, m, h): pk for s, m, h, pk in rows if (s, m, h) in wanted}


# --- point storage -------------------------------------------------------------------------------
_PG_EPOCH = 946_684_800.0  # 2000-01-01 in Unix seconds: PostgreSQL's binary timestamp origin
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_COPY_ROW = np.dtype([
    ("fields", ">i2"), ("l_series", ">i4"), ("series", ">i8"), ("l_ts", ">i4"), ("ts", ">i8"),
    ("l_value", ">i4"), ("value", ">f8"),
])
STAGING_TABLE = "monitoring_point_staging"


def pg_copy_binary(series_ids: np.ndarray, ts: np.ndarray, values: np.ndarray) -> bytes:
    """Rows (bigint, timestamptz, double) in PostgreSQL's binary COPY format, built without a loop."""
    rows = np.empty(ts.shape[0], dtype=_COPY_ROW)
    rows["fields"] = 3
    rows["l_series"] = 8
    rows["series"] = series_ids
    rows["l_ts"] = 8
    rows["ts"] = np.rint((ts - _PG_EPOCH) * 1e6).astype(np.int64)
    rows["l_value"] = 8
    rows["value"] = values
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


def points_store(*, series_ids: np.ndarray, ts: np.ndarray, values: np.ndarray) -> int:
    """Insert points, ignoring duplicates of (series, ts); returns how many were new.

    Must run inside a transaction (the PostgreSQL staging table empties on commit).
    """
    if ts.shape[0] == 0:
        return 0
    if connection.vendor == "postgresql":
        return _points_store_postgres(series_ids, ts, values)
    return _points_store_generic(series_ids, ts, values)


def _points_store_postgres(series_ids: np.ndarray, ts: np.ndarray, values: np.ndarray) -> int:
    # COPY cannot skip conflicts, so rows land in a per-connection temp table first and one
    # INSERT ... SELECT ... ON CONFLICT DO NOTHING moves them: two set operations per batch.
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGING_TABLE} "
            "(series_id bigint, ts timestamptz, value double precision) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY {STAGING_TABLE} (series_id, ts, value) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(pg_copy_binary(series_ids, ts, values))
        cursor.execute(
            f"INSERT INTO {Point._meta.db_table} (series_id, ts, value) "
            f"SELECT series_id, ts, value FROM {STAGING_TABLE} ON CONFLICT DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute(f"TRUNCATE {STAGING_TABLE}")
    return inserted


def _points_store_generic(series_ids: np.ndarray, ts: np.ndarray, values: np.ndarray) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT total_changes()")
        before = cursor.fetchone()[0]
    Point.objects.bulk_create(
        [
            Point(series_id=int(s), ts=datetime.fromtimestamp(float(t), tz=UTC), value=float(v))
            for s, t, v in zip(series_ids.tolist(), ts.tolist(), values.tolist())
        ],
        ignore_conflicts=True,
        batch_size=2000,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT total_changes()")
        return cursor.fetchone()[0] - before


# --- rollups and retention -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionResult:
    rolled_hours: int
    deleted_points: int


RETENTION_SLICE = timedelta(days=1)  # one transaction per day of old points keeps locks short


def points_expire(*, older_than: datetime) -> RetentionResult:
    """Roll raw points older than `older_than` (rounded down to the hour) into hourly rollups, then
    delete them. Late points for an hour already rolled are merged into its rollup."""
    cutoff = older_than.replace(minute=0, second=0, microsecond=0)
    oldest = Point.objects.filter(ts__lt=cutoff).order_by("ts").values_list("ts", flat=True).first()
    rolled = deleted = 0
    while oldest is not None and oldest < cutoff:
        end = min(cutoff, oldest.replace(minute=0, second=0, microsecond=0) + RETENTION_SLICE)
        r, d = _expire_slice(start=oldest, end=end)
        rolled += r
        deleted += d
        oldest = Point.objects.filter(ts__gte=end, ts__lt=cutoff).order_by("ts").values_list("ts", flat=True).first()
    return RetentionResult(rolled_hours=rolled, deleted_points=deleted)


@transaction.atomic
def _expire_slice(*, start: datetime, end: datetime) -> tuple[int, int]:
    window = Point.objects.filter(ts__gte=start, ts__lt=end)
    groups = list(
        window.annotate(hour=TruncHour("ts")).values("series_id", "hour")
        .annotate(lo=Min("value"), hi=Max("value"), avg=Avg("value"), n=Count("value"))
    )
    if not groups:
        return 0, 0
    existing = {
        (r.series_id, r.hour): r
        for r in PointRollup.objects.filter(
            series_id__in={g["series_id"] for g in groups}, hour__gte=start.replace(minute=0, second=0, microsecond=0),
            hour__lt=end,
        )
    }
    merged = []
    for g in groups:
        old = existing.get((g["series_id"], g["hour"]))
        lo, hi, avg, n = g["lo"], g["hi"], g["avg"], g["n"]
        if old is not None:
            total = old.count + n
            avg = (old.mean * old.count + avg * n) / total
            lo, hi, n = min(lo, old.min), max(hi, old.max), total
        merged.append(PointRollup(series_id=g["series_id"], hour=g["hour"], min=lo, max=hi, mean=avg, count=n))
    for key in existing:
        PointRollup.objects.filter(series_id=key[0], hour=key[1]).delete()
    PointRollup.objects.bulk_create(merged, batch_size=2000)
    deleted, _ = window.delete()
    return len(merged), deleted
