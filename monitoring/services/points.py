"""Bulk storage of points (PostgreSQL COPY), series resolution, rollups and retention."""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import IntegrityError, connection, transaction
from django.db.models import Avg, Count, Max, Min
from django.db.models.functions import TruncHour

from core.db import is_postgres
from monitoring.models import MetricSeries, Point, PointRollup

from ..formats.native import SeriesKey

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
STAGING_TABLE = "monitoring_point_staging_k"  # (series_id, ts, value, k): k = row position
_COPY_POINTS = f"COPY {Point._meta.db_table} (series_id, ts, value) FROM STDIN (FORMAT BINARY)"


_PG_EPOCH_US = 946_684_800 * 1_000_000
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
    """Insert points, ignoring duplicates of (series, ts); returns how many were new."""
    return int(points_insert(series_ids=series_ids, ts=ts, values=values).sum())


def points_insert(*, series_ids: np.ndarray, ts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Insert points, ignoring duplicates of (series, ts) (in the database, and within the input: the
    first occurrence wins); returns a mask of the input rows that were stored.

    On PostgreSQL, rows newer than everything stored for their series are COPYed straight into the
    points table (inside a savepoint: a row that turns out to exist fails the COPY, which is then
    redone the slow way); older rows go through a staging table and INSERT ... ON CONFLICT.
    """
    n = ts.shape[0]
    stored = np.zeros(n, dtype=bool)
    if n == 0:
        return stored
    series_ids = np.asarray(series_ids, dtype=np.int64)
    keys = _ts_key(ts)
    first = _first_occurrences(series_ids, keys)
    if not is_postgres():
        stored[first[_absent_generic(series_ids[first], keys[first])]] = True
        _insert_generic(series_ids[stored], ts[stored], values[stored])
        return stored
    for attempt in range(2):
        newest = _stored_max(np.unique(series_ids[first]), refresh=attempt > 0)
        lookup = np.array([newest.get(int(sid), _NEVER) for sid in series_ids[first].tolist()], dtype=np.int64)
        fresh = first[keys[first] > lookup]
        if fresh.shape[0] == 0:
            break
        try:
            # A savepoint: a duplicate fails this COPY alone (COPY bypasses Django's error wrapping).
            with transaction.atomic(), connection.wrap_database_errors:
                with connection.cursor() as cursor:
                    with cursor.copy(_COPY_POINTS) as copy:
                        copy.write(pg_copy_binary(series_ids[fresh], ts[fresh], values[fresh]))
        except IntegrityError:
            continue  # another process stored newer points meanwhile: ask the database again
        stored[fresh] = True
        first = first[~np.isin(first, fresh)]
        _stored_max_note(series_ids[fresh], keys[fresh])
        break
    if first.shape[0]:
        stored[first[_insert_on_conflict(series_ids[first], ts[first], values[first])]] = True
        _stored_max_note(series_ids[first], keys[first])
    return stored


def _ts_key(ts: np.ndarray) -> np.ndarray:
    """Microseconds since 2000-01-01: exactly what PostgreSQL stores for the timestamp."""
    return np.rint((np.asarray(ts, dtype=np.float64) - _PG_EPOCH) * 1e6).astype(np.int64)


def stored_epoch(ts: np.ndarray) -> np.ndarray:
    """Epoch seconds of the timestamps as stored (rounded to the microsecond), as read back."""
    return (_ts_key(ts) + _PG_EPOCH_US) / 1e6


def _first_occurrences(series_ids: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Indices of the first row of every distinct (series, ts), in input order."""
    order = np.lexsort((np.arange(keys.shape[0]), keys, series_ids))
    s, k = series_ids[order], keys[order]
    head = np.ones(order.shape[0], dtype=bool)
    head[1:] = (s[1:] != s[:-1]) | (k[1:] != k[:-1])
    return np.sort(order[head])


# series id -> newest stored ts (key units) this process knows of. Only ever too high when a
# transaction that stored it rolled back or retention emptied the series: then rows take the
# slow (ON CONFLICT) path, which is still correct. Too low is caught by the savepoint.
_STORED_MAX: dict[int, int] = {}
_NEVER = np.iinfo(np.int64).min


def _stored_max(series_ids: np.ndarray, *, refresh: bool) -> dict[int, int]:
    ids = series_ids.tolist()
    missing = ids if refresh else [i for i in ids if i not in _STORED_MAX]
    if missing:
        if len(_STORED_MAX) > _SERIES_CACHE_MAX:
            _STORED_MAX.clear()
        with connection.cursor() as cursor:
            # One backwards step on the (series, ts) key per series.
            cursor.execute(
                "SELECT v.id, (SELECT "
                "(EXTRACT(EPOCH FROM max(p.ts) - timestamptz '2000-01-01 00:00:00+00') * 1000000)::bigint "
                f"FROM {Point._meta.db_table} p WHERE p.series_id = v.id) FROM unnest(%s::bigint[]) AS v(id)",
                [missing],
            )
            for sid, newest in cursor.fetchall():
                _STORED_MAX[int(sid)] = int(newest) if newest is not None else _NEVER
    return {i: _STORED_MAX.get(i, _NEVER) for i in ids}


def _stored_max_note(series_ids: np.ndarray, keys: np.ndarray) -> None:
    if series_ids.shape[0] == 0:
        return
    order = np.lexsort((keys, series_ids))
    s, k = series_ids[order], keys[order]
    last = np.ones(s.shape[0], dtype=bool)
    last[:-1] = s[1:] != s[:-1]
    for sid, key in zip(s[last].tolist(), k[last].tolist(), strict=False):
        if key > _STORED_MAX.get(sid, _NEVER):
            _STORED_MAX[sid] = key


def stored_max_clear() -> None:
    _STORED_MAX.clear()


_COPY_ROW_K = np.dtype([
    ("fields", ">i2"), ("l_series", ">i4"), ("series", ">i8"), ("l_ts", ">i4"), ("ts", ">i8"),
    ("l_value", ">i4"), ("value", ">f8"), ("l_k", ">i4"), ("k", ">i4"),
])


def _insert_on_conflict(series_ids: np.ndarray, ts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Rows that may exist already: staged, then INSERT ... ON CONFLICT DO NOTHING; returns the
    positions (into the arguments) of the rows that were new."""
    rows = np.empty(ts.shape[0], dtype=_COPY_ROW_K)
    rows["fields"] = 4
    rows["l_series"] = rows["l_ts"] = rows["l_value"] = 8
    rows["l_k"] = 4
    rows["series"] = series_ids
    rows["ts"] = _ts_key(ts)
    rows["value"] = values
    rows["k"] = np.arange(ts.shape[0])
    with transaction.atomic(), connection.cursor() as cursor:  # the staging table empties on commit
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGING_TABLE} "
            "(series_id bigint, ts timestamptz, value double precision, k int) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY {STAGING_TABLE} (series_id, ts, value, k) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(_COPY_HEADER + rows.tobytes() + _COPY_TRAILER)
        cursor.execute(
            f"WITH ins AS (INSERT INTO {Point._meta.db_table} (series_id, ts, value) "
            f"SELECT series_id, ts, value FROM {STAGING_TABLE} ON CONFLICT DO NOTHING RETURNING series_id, ts) "
            f"SELECT s.k FROM {STAGING_TABLE} s JOIN ins USING (series_id, ts)"
        )
        new = np.array([r[0] for r in cursor.fetchall()], dtype=np.int64)
        cursor.execute(f"TRUNCATE {STAGING_TABLE}")
    return new


def _absent_generic(series_ids: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Mask of (series, ts) not stored yet (SQLite: one range query per series)."""
    absent = np.ones(series_ids.shape[0], dtype=bool)
    for sid in np.unique(series_ids).tolist():
        mine = series_ids == sid
        lo, hi = keys[mine].min(), keys[mine].max()
        stored = Point.objects.filter(
            series_id=sid, ts__gte=_key_datetime(lo), ts__lte=_key_datetime(hi)
        ).values_list("ts", flat=True)
        have = np.array([_datetime_key(t) for t in stored], dtype=np.int64)
        absent[mine] = ~np.isin(keys[mine], have)
    return absent


_PG_EPOCH_DT = datetime(2000, 1, 1, tzinfo=UTC)


def _key_datetime(key: int) -> datetime:
    return _PG_EPOCH_DT + timedelta(microseconds=int(key))


def _datetime_key(value: datetime) -> int:
    return (value - _PG_EPOCH_DT) // timedelta(microseconds=1)


def _insert_generic(series_ids: np.ndarray, ts: np.ndarray, values: np.ndarray) -> None:
    Point.objects.bulk_create(
        [
            Point(series_id=int(s), ts=_key_datetime(k), value=float(v))
            for s, k, v in zip(series_ids.tolist(), _ts_key(ts).tolist(), values.tolist(), strict=False)
        ],
        ignore_conflicts=True,
        batch_size=2000,
    )


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
