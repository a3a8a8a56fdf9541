"""Column-wise validation of telemetry batches into a normalised, packed form (no per-point serializer)."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import orjson
import pandas as pd

from core.api.parsers import depth_problem, json_too_deep
from core.exceptions import InvalidInput
from incidents.contracts import MAX_LABEL_NAME_CHARS
from monitoring.choices import SeriesKind

MAX_BATCH_POINTS = 10_000  # one request stays well under a second of work and a few MB of JSON
MAX_METRIC_LENGTH = 200  # MetricSeries.metric
# Series labels, refused over these limits (not truncated: they name the series). A series'
# anomaly signal carries them as `label_<name>` plus its own `metric` and `kind`, so they sit well
# inside the signal contract's limits (incidents.contracts, the one set of label limits), leaving
# ANOMALY_SIGNAL_LABELS of room: 32 + 2 <= 64 labels, values 200 <= 500 characters (a test keeps
# them so).
ANOMALY_SIGNAL_LABELS = 2
MAX_LABELS = 32  # Prometheus practice: more labels than this is a cardinality accident
MAX_LABEL_LENGTH = 200  # a label's value
# A label's name: the anomaly signal carries it as `label_<name>`, which must fit the contract's name limit.
ANOMALY_LABEL_PREFIX = "label_"
MAX_LABEL_NAME_LENGTH = MAX_LABEL_NAME_CHARS - len(ANOMALY_LABEL_PREFIX)
MAX_UNIT_LENGTH = 32  # MetricSeries.unit
# Epoch numbers above this are milliseconds: 1e11 seconds is the year 5138, 1e11 ms is 1973.
EPOCH_MS_THRESHOLD = 1e11
_NUMERIC = {"integer", "floating", "mixed-integer-float"}


class InvalidTelemetry(InvalidInput):
    """A batch that cannot be stored; names the first bad point (`index`) and its field."""

    def __init__(self, message: str, *, field: str, index: int | None = None) -> None:
        where = f"points[{index}].{field}" if index is not None else field
        super().__init__(f"{where}: {message}", field=field)
        self.index = index


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesKey:
    service_id: int
    metric: str
    labels: dict[str, str]
    labels_json: str  # canonical (sorted keys) JSON of labels; hashed into MetricSeries.labels_hash
    kind: str = SeriesKind.SYSTEM
    unit: str = ""

    def as_list(self) -> list:
        return [self.service_id, self.metric, self.labels, self.kind, self.unit]

    @classmethod
    def from_list(cls, row: Sequence) -> SeriesKey:
        service_id, metric, labels, kind, unit = row
        return cls(service_id=service_id, metric=metric, labels=labels, labels_json=canonical_labels(labels),
                   kind=kind, unit=unit)


@dataclass(frozen=True, slots=True, kw_only=True)
class NormalisedBatch:
    """Points column-wise: `series_index[i]` points into `series`; `ts` in epoch seconds."""

    series: list[SeriesKey]
    series_index: np.ndarray  # int32
    ts: np.ndarray  # float64 epoch seconds
    values: np.ndarray  # float64, finite

    def __len__(self) -> int:
        return int(self.ts.shape[0])


def canonical_labels(labels: Mapping[str, str]) -> str:
    return orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()


# --- packing for TelemetryBatch.data ---------------------------------------------------------
# Three little-endian columns back to back: int32 series index, float64 ts, float64 value.
_ROW_BYTES = 4 + 8 + 8


def pack_points(batch: NormalisedBatch) -> bytes:
    return (
        batch.series_index.astype("<i4").tobytes()
        + batch.ts.astype("<f8").tobytes()
        + batch.values.astype("<f8").tobytes()
    )


def unpack_points(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = bytes(data)
    n = len(data) // _ROW_BYTES
    if n * _ROW_BYTES != len(data):
        raise ValueError(f"packed telemetry of {len(data)} bytes is not a whole number of rows")
    index = np.frombuffer(data, dtype="<i4", count=n, offset=0).astype(np.int64)
    ts = np.frombuffer(data, dtype="<f8", count=n, offset=4 * n).astype(np.float64)
    values = np.frombuffer(data, dtype="<f8", count=n, offset=12 * n).astype(np.float64)
    return index, ts, values


# --- validation ------------------------------------------------------------------------------
def parse_telemetry_json(
    *, body: bytes, resolve_services: Callable[[Iterable[str]], Mapping[str, int]], now: datetime,
    max_future_skew_seconds: float,
) -> NormalisedBatch:
    """Validate a native telemetry body; raise InvalidTelemetry naming the first bad point and field.

    `resolve_services` maps the distinct service names of the batch to ids (unknown names absent).
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidTelemetry(f"body is not valid JSON ({exc})", field="body") from None
    if json_too_deep(doc):
        raise InvalidTelemetry(f"body is {depth_problem()}", field="body")
    if not isinstance(doc, dict) or "points" not in doc:
        raise InvalidTelemetry('body must be an object with a "points" list', field="points")
    points = doc["points"]
    if not isinstance(points, list):
        raise InvalidTelemetry("must be a list of point objects", field="points")
    if not points:
        raise InvalidTelemetry("the batch holds no points", field="points")
    if len(points) > MAX_BATCH_POINTS:
        raise InvalidTelemetry(
            f"the batch holds {len(points)} points; at most {MAX_BATCH_POINTS} per request", field="points"
        )
    for i, point in enumerate(points):
        if type(point) is not dict:
            raise InvalidTelemetry("must be an object", field="point", index=i)

    services = [p.get("service") for p in points]
    metrics = [p.get("metric") for p in points]
    timestamps = [p.get("timestamp") for p in points]
    values = [p.get("value") for p in points]
    labels = [p.get("labels") for p in points]
    kinds = [p.get("kind") for p in points]
    units = [p.get("unit") for p in points]
    # Each column is checked as a whole; of the errors found, the lowest point index wins
    # (ties go to the field a reader meets first), so the message names the first bad point.
    errors: list[InvalidTelemetry] = []
    ts = _collect(
        errors, lambda: parse_timestamps(timestamps, now=now, max_future_skew_seconds=max_future_skew_seconds)
    )
    vals = _collect(errors, lambda: _parse_values(values))
    service_ids = [-1] * len(points)
    if _collect(errors, lambda: _check_strings(services, field="service", max_length=MAX_METRIC_LENGTH)) is not None:
        known = resolve_services(set(services))
        if len(known) < len(set(services)):
            first = next(i for i, name in enumerate(services) if name not in known)
            errors.append(InvalidTelemetry(f"unknown service {services[first]!r}", field="service", index=first))
        service_ids = [known.get(name, -1) for name in services]
    _collect(errors, lambda: _check_strings(metrics, field="metric", max_length=MAX_METRIC_LENGTH))
    _collect(errors, lambda: _check_optional(kinds, field="kind", check=_kind))
    _collect(errors, lambda: _check_optional(units, field="unit", check=_unit))
    batch = _collect(errors, lambda: build_batch(
        service_ids=service_ids, metrics=metrics, labels=labels, ts=np.zeros(0), values=np.zeros(0),
        kinds=kinds, units=units,
    ))
    if errors:
        order = ("service", "metric", "labels", "timestamp", "value", "kind", "unit")
        raise min(errors, key=lambda e: (e.index if e.index is not None else -1, order.index(e.field)
                                         if e.field in order else len(order)))
    return NormalisedBatch(series=batch.series, series_index=batch.series_index, ts=ts, values=vals)


def _collect(errors: list[InvalidTelemetry], check: Callable[[], object]):
    try:
        result = check()
    except InvalidTelemetry as exc:
        errors.append(exc)
        return None
    return True if result is None else result


def build_batch(
    *, service_ids: Sequence[int], metrics: Sequence[str], labels: Sequence[object], ts: np.ndarray,
    values: np.ndarray, kinds: Sequence[object] | None = None, units: Sequence[object] | None = None,
) -> NormalisedBatch:
    """Factorise points into distinct series; validates labels, kind and unit once per distinct value."""
    label_json: list[str] = []
    seen_labels: dict[str, dict[str, str]] = {}
    for i, raw in enumerate(labels):
        if raw is None:
            raw = {}
        if type(raw) is not dict:
            raise InvalidTelemetry("must be an object of name → string", field="labels", index=i)
        text = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS).decode()
        if text not in seen_labels:
            seen_labels[text] = _clean_labels(raw, index=i)
        label_json.append(text)
    keys: dict[tuple[int, str, str], int] = {}
    series: list[SeriesKey] = []
    index = np.empty(len(label_json), dtype=np.int32)
    for i, key in enumerate(zip(service_ids, metrics, label_json, strict=False)):
        position = keys.get(key)
        if position is None:
            position = keys[key] = len(series)
            clean = seen_labels[key[2]]
            series.append(SeriesKey(
                service_id=key[0], metric=key[1], labels=clean, labels_json=canonical_labels(clean),
                kind=_kind(kinds[i] if kinds else None, index=i), unit=_unit(units[i] if units else None, index=i),
            ))
        index[i] = position
    return NormalisedBatch(series=series, series_index=index, ts=ts, values=values)


def parse_timestamps(column: list, *, now: datetime, max_future_skew_seconds: float) -> np.ndarray:
    """RFC 3339 strings (with an offset) or epoch seconds/milliseconds → float64 epoch seconds."""
    kind = pd.api.types.infer_dtype(column, skipna=False)
    if kind in _NUMERIC:
        ts = np.asarray(column, dtype=np.float64)
        ts = np.where(ts > EPOCH_MS_THRESHOLD, ts / 1000.0, ts)
    elif kind == "string":
        ts = _parse_rfc3339(column)
    else:
        ts = np.full(len(column), np.nan)
        numeric = [i for i, v in enumerate(column) if type(v) in (int, float)]
        text = [i for i, v in enumerate(column) if type(v) is str]
        if numeric:
            raw = np.asarray([column[i] for i in numeric], dtype=np.float64)
            ts[numeric] = np.where(raw > EPOCH_MS_THRESHOLD, raw / 1000.0, raw)
        if text:
            ts[text] = _parse_rfc3339([column[i] for i in text])
    bad = ~np.isfinite(ts)
    if bad.any():
        i = int(np.argmax(bad))
        value = column[i]
        if value is None:
            raise InvalidTelemetry("is missing", field="timestamp", index=i)
        raise InvalidTelemetry(
            f"{value!r} is not an RFC 3339 time with offset or epoch seconds/milliseconds", field="timestamp", index=i
        )
    early = ts <= 0
    if early.any():
        i = int(np.argmax(early))
        raise InvalidTelemetry(f"{column[i]!r} is not after 1970", field="timestamp", index=i)
    limit = now.timestamp() + max_future_skew_seconds
    ahead = ts > limit
    if ahead.any():
        i = int(np.argmax(ahead))
        raise InvalidTelemetry(
            f"{column[i]!r} is more than {max_future_skew_seconds:g} s in the future", field="timestamp", index=i
        )
    return ts


def _parse_rfc3339(strings: list[str]) -> np.ndarray:
    # RFC 3339 requires an offset; pandas would silently read a naive time in the previous
    # string's offset, so naive strings are rejected up front.
    has_offset = np.fromiter(
        (len(s) > 6 and (s[-1] in "Zz" or s[-6] in "+-" or s[-5] in "+-") for s in strings), dtype=bool,
        count=len(strings),
    )
    parsed = pd.to_datetime(pd.Series(strings, dtype=object).str.upper(), utc=True, format="ISO8601",
                            errors="coerce")
    seconds = parsed.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
    seconds[parsed.isna().to_numpy()] = np.nan
    seconds[~has_offset] = np.nan
    return seconds


def _parse_values(column: list) -> np.ndarray:
    kind = pd.api.types.infer_dtype(column, skipna=False)
    if kind in _NUMERIC:
        try:
            values = np.asarray(column, dtype=np.float64)
        except OverflowError:
            values = None
        if values is not None and np.isfinite(values).all():
            return values
    for i, v in enumerate(column):  # slow path: only a bad batch gets here, to name the point
        if v is None:
            raise InvalidTelemetry("is missing", field="value", index=i)
        if type(v) not in (int, float):
            raise InvalidTelemetry(f"{v!r} is not a number", field="value", index=i)
        try:
            if not math.isfinite(float(v)):
                raise OverflowError
        except OverflowError:
            raise InvalidTelemetry(f"{v!r} is not a finite number", field="value", index=i) from None
    raise AssertionError("unreachable: a numeric column failed conversion without a bad value")


def _check_strings(column: list, *, field: str, max_length: int) -> None:
    if (pd.api.types.infer_dtype(column, skipna=False) == "string" and all(column)
            and max(map(len, column)) <= max_length):
        return
    for i, v in enumerate(column):
        if v is None:
            raise InvalidTelemetry("is missing", field=field, index=i)
        if type(v) is not str or not v.strip():
            raise InvalidTelemetry("must be a non-empty string", field=field, index=i)
        if len(v) > max_length:
            raise InvalidTelemetry(f"is longer than {max_length} characters", field=field, index=i)


def _check_optional(column: list, *, field: str, check: Callable[..., str]) -> None:
    """Check each distinct value of an optional column once; most batches have one or two."""
    try:
        distinct = set(column)
    except TypeError:  # an unhashable value (list/object) is wrong anyway
        distinct = None
    if distinct is not None:
        for value in distinct:
            try:
                check(value, index=0)
            except InvalidTelemetry:
                break
        else:
            return
    for i, value in enumerate(column):
        check(value, index=i)


def _clean_labels(raw: dict, *, index: int) -> dict[str, str]:
    if len(raw) > MAX_LABELS:
        raise InvalidTelemetry(f"has {len(raw)} labels; at most {MAX_LABELS}", field="labels", index=index)
    clean: dict[str, str] = {}
    for name, value in raw.items():
        if not name or len(name) > MAX_LABEL_NAME_LENGTH:
            raise InvalidTelemetry(f"label name {name[:40]!r} is empty or longer than {MAX_LABEL_NAME_LENGTH}",
                                   field="labels", index=index)
        if type(value) is bool:
            value = "true" if value else "false"
        elif type(value) in (int, float):
            value = str(value)
        elif type(value) is not str:
            raise InvalidTelemetry(f"label {name!r} must be a string", field="labels", index=index)
        if len(value) > MAX_LABEL_LENGTH:
            raise InvalidTelemetry(f"label {name!r} is longer than {MAX_LABEL_LENGTH}", field="labels", index=index)
        clean[name] = value
    return clean


def _kind(value: object, *, index: int) -> str:
    if value is None or value == "":
        return SeriesKind.SYSTEM
    if value not in SeriesKind.values:
        raise InvalidTelemetry(f"must be one of {', '.join(SeriesKind.values)}", field="kind", index=index)
    return str(value)


def _unit(value: object, *, index: int) -> str:
    if value is None:
        return ""
    if type(value) is not str or len(value) > MAX_UNIT_LENGTH:
        raise InvalidTelemetry(f"must be a string of at most {MAX_UNIT_LENGTH} characters", field="unit",
                               index=index)
    return value
