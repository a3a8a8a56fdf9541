"""OTLP/HTTP metrics: decode an ExportMetricsServiceRequest into a telemetry batch.

Gauges and non-monotonic sums are stored as they are; monotonic sums become per-second
rates (cumulative ones from the previous total remembered on the series, delta ones over
their own interval); histograms, exponential histograms and summaries become
`<name>.count`, `<name>.sum` (per interval) and `<name>.mean` series. Only data point
attributes label a series: resource attributes other than `service.name` (host, SDK
version, ...) would split a series every time a process restarts.
"""
from __future__ import annotations

import gzip
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2

from core.models import Integration, Service
from core.permissions import integration_check_services
from monitoring.choices import BatchSource
from monitoring.models import MetricSeries

from ..formats.native import (
    InvalidTelemetry,
    NormalisedBatch,
    SeriesKey,
    build_batch,
    canonical_labels,
)
from . import points as points_service
from .telemetry import BatchAccepted, telemetry_batch_create

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MEDIA_TYPES = (PROTOBUF, JSON)
MAX_POINTS = 50_000  # an SDK flushes all its instruments at once; more than this is a runaway exporter
MAX_DECOMPRESSED = 64 * 1024 * 1024  # gzip bomb guard
_NO_RECORDED_VALUE = 1  # DataPointFlags.FLAG_NO_RECORDED_VALUE: a stale marker, not a sample
_CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
_DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA


@dataclass(frozen=True, slots=True, kw_only=True)
class OtlpResult:
    body: bytes
    content_type: str
    accepted: BatchAccepted | None


@dataclass(slots=True, kw_only=True)
class _Sample:
    service_id: int
    metric: str
    labels: dict[str, str]
    unit: str
    ts: float
    value: float
    where: str
    # For running totals: how to turn them into a per-interval value.
    cumulative: bool = False
    start: float = 0.0
    per_second: bool = False  # rate (sums) or plain delta (histogram count/sum)


def decompress(body: bytes, encoding: str) -> bytes:
    encoding = (encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise InvalidTelemetry(
            f"unsupported Content-Encoding {encoding!r} (use gzip or none)", field="Content-Encoding"
        )
    try:
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = decoder.decompress(body, MAX_DECOMPRESSED)
        if decoder.unconsumed_tail:
            raise InvalidTelemetry("the decompressed body is too large", field="body")
        return out
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise InvalidTelemetry(f"corrupt gzip body ({exc})", field="body") from None


def otlp_decode(*, body: bytes, media_type: str) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    if media_type == PROTOBUF:
        try:
            request.ParseFromString(body)
        except (DecodeError, ValueError) as exc:
            raise InvalidTelemetry(f"not a valid ExportMetricsServiceRequest protobuf ({exc})", field="body") from None
    else:
        try:
            json_format.Parse(body, request, ignore_unknown_fields=True)
        except (json_format.ParseError, ValueError, UnicodeDecodeError) as exc:
            raise InvalidTelemetry(f"not a valid ExportMetricsServiceRequest JSON ({exc})", field="body") from None
    return request


def otlp_metrics_receive(
    *, integration: Integration, body: bytes, media_type: str, content_encoding: str = "",
    now: datetime | None = None,
) -> OtlpResult:
    """Validate and store an OTLP export as a telemetry batch; answers an ExportMetricsServiceResponse."""
    request = otlp_decode(body=decompress(body, content_encoding), media_type=media_type)
    now = now or timezone.now()
    samples = list(_samples(request, integration=integration, now=now))
    accepted = None
    with transaction.atomic():
        samples = _rates(samples)
        if samples:
            accepted = telemetry_batch_create(
                integration=integration, batch=_to_batch(samples), source=BatchSource.OTLP,
            )
    return OtlpResult(body=_response(media_type), content_type=media_type, accepted=accepted)


def _response(media_type: str) -> bytes:
    response = ExportMetricsServiceResponse()
    if media_type == PROTOBUF:
        return response.SerializeToString()
    return json_format.MessageToJson(response).encode()


def otlp_error_body(*, message: str, media_type: str, code: int = 3) -> tuple[bytes, str]:
    """A google.rpc.Status in the request's encoding, as OTLP/HTTP asks (code 3 INVALID_ARGUMENT,
    7 PERMISSION_DENIED)."""
    if media_type == PROTOBUF:
        # google.rpc.Status{code=1: varint, message=2: string}, encoded by hand: its generated
        # module ships with googleapis-common-protos, which the service does not otherwise need.
        text = message.encode()
        return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text, PROTOBUF
    return orjson.dumps({"code": code, "message": message}), JSON


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _any_value(value) -> str:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return repr(value.double_value)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    if kind is None:
        return ""
    return json_format.MessageToJson(value, indent=None)


def _attributes(attrs) -> dict[str, str]:
    return {kv.key: _any_value(kv.value) for kv in attrs}


def _services(request: ExportMetricsServiceRequest, integration: Integration) -> list[int]:
    names: list[str | None] = []
    for rm in request.resource_metrics:
        attrs = _attributes(rm.resource.attributes)
        names.append(attrs.get("service.name") or None)
    known = dict(Service.objects.filter(name__in={n for n in names if n}).values_list("name", "id"))
    # 403 before anything is stored when a resource names a service the token may not write to.
    integration_check_services(integration=integration, services=known)
    ids: list[int] = []
    for i, name in enumerate(names):
        where = f"resourceMetrics[{i}].resource.attributes"
        if name is None:
            if integration.service_id is None:
                raise InvalidTelemetry(
                    "has no service.name and the integration has no default service", field=where + "[service.name]"
                )
            ids.append(integration.service_id)
        elif name not in known:
            raise InvalidTelemetry(f"unknown service {name!r} (service.name)", field=where + "[service.name]")
        else:
            ids.append(known[name])
    return ids


def _samples(request: ExportMetricsServiceRequest, *, integration: Integration, now: datetime) -> Iterator[_Sample]:
    limit = now.timestamp() + settings.MAX_FUTURE_SKEW_SECONDS
    count = 0
    for r, (rm, service_id) in enumerate(zip(request.resource_metrics, _services(request, integration), strict=False)):
        for s, sm in enumerate(rm.scope_metrics):
            for m, metric in enumerate(sm.metrics):
                base = f"resourceMetrics[{r}].scopeMetrics[{s}].metrics[{m}]"
                if not metric.name:
                    raise InvalidTelemetry("has no name", field=base + ".name")
                kind = metric.WhichOneof("data")
                for sample in _metric_samples(metric, kind, service_id, base):
                    if not (0 < sample.ts <= limit):
                        raise InvalidTelemetry(
                            f"timeUnixNano {sample.ts:.0f}s is missing or more than "
                            f"{settings.MAX_FUTURE_SKEW_SECONDS} s in the future", field=sample.where + ".timeUnixNano",
                        )
                    if not math.isfinite(sample.value):
                        raise InvalidTelemetry("is not a finite number", field=sample.where + ".value")
                    count += 1
                    if count > MAX_POINTS:
                        raise InvalidTelemetry(f"more than {MAX_POINTS} data points in one request", field="body")
                    yield sample


def _number(point) -> float:
    return float(point.as_double) if point.WhichOneof("value") == "as_double" else float(point.as_int)


def _metric_samples(metric, kind: str | None, service_id: int, base: str) -> Iterator[_Sample]:
    name, unit = metric.name, metric.unit[:32]
    if kind == "gauge" or kind == "sum":
        data = getattr(metric, kind)
        monotonic = kind == "sum" and data.is_monotonic
        cumulative = kind == "sum" and data.aggregation_temporality == _CUMULATIVE
        for p, point in enumerate(data.data_points):
            if point.flags & _NO_RECORDED_VALUE:
                continue
            where = f"{base}.{kind}.dataPoints[{p}]"
            ts, start = point.time_unix_nano / 1e9, point.start_time_unix_nano / 1e9
            labels = _attributes(point.attributes)
            if not monotonic:
                yield _Sample(service_id=service_id, metric=name, labels=labels, unit=unit, ts=ts, value=_number(point),
                              where=where)
            elif cumulative:
                yield _Sample(service_id=service_id, metric=f"{name}.rate", labels=labels, unit=f"{unit}/s"[:32],
                              ts=ts, value=_number(point), where=where, cumulative=True, start=start, per_second=True)
            else:  # delta monotonic: the increase over [start, ts]
                interval = ts - start
                if start <= 0 or interval <= 0:
                    continue
                yield _Sample(service_id=service_id, metric=f"{name}.rate", labels=labels, unit=f"{unit}/s"[:32],
                              ts=ts, value=_number(point) / interval, where=where)
    elif kind in ("histogram", "exponential_histogram", "summary"):
        data = getattr(metric, kind)
        cumulative = kind == "summary" or data.aggregation_temporality == _CUMULATIVE
        for p, point in enumerate(data.data_points):
            if point.flags & _NO_RECORDED_VALUE:
                continue
            where = f"{base}.{kind}.dataPoints[{p}]"
            ts, start = point.time_unix_nano / 1e9, point.start_time_unix_nano / 1e9
            labels = _attributes(point.attributes)
            yield _Sample(service_id=service_id, metric=f"{name}.count", labels=labels, unit="1", ts=ts,
                          value=float(point.count), where=where, cumulative=cumulative, start=start)
            yield _Sample(service_id=service_id, metric=f"{name}.sum", labels=labels, unit=unit, ts=ts,
                          value=float(point.sum), where=where, cumulative=cumulative, start=start)
    # other kinds carry no numeric series we can store: ignored, as the spec allows


def _rates(samples: list[_Sample]) -> list[_Sample]:
    """Turn running totals into per-interval values using the previous total kept on each series.

    Runs inside the caller's transaction with the series rows locked, so two exports of the
    same counter never read the same previous total. A total lower than the previous one, or a
    new start time, is a restart of the counter: it counts from zero again.
    """
    running = [s for s in samples if s.cumulative]
    if not running:
        return _means(samples)
    keys = [SeriesKey(service_id=s.service_id, metric=s.metric, labels=s.labels, labels_json=canonical_labels(s.labels),
                      unit=s.unit) for s in running]
    ids = points_service.series_resolve(keys=keys)
    rows = {row.pk: row for row in MetricSeries.objects.select_for_update().filter(pk__in=set(ids)).order_by("pk")}
    out_of_running: dict[int, _Sample | None] = {}
    changed: dict[int, MetricSeries] = {}
    for position, (sample, series_id) in sorted(enumerate(zip(running, ids, strict=False)), key=lambda x: x[1][0].ts):
        row = rows[series_id]
        start_ts = datetime.fromtimestamp(sample.start, tz=UTC) if sample.start > 0 else None
        prev_ts = row.counter_ts.timestamp() if row.counter_ts else None
        result: _Sample | None = None
        if prev_ts is not None and sample.ts <= prev_ts:
            pass  # an old or repeated export: nothing new to derive
        else:
            restarted = row.counter_value is None or sample.value < row.counter_value or (
                start_ts is not None and row.counter_start_ts is not None and start_ts != row.counter_start_ts
            )
            # Not restarted means a stored value, and its time is stored with it.
            if not restarted and row.counter_value is not None and prev_ts is not None:
                delta, interval = sample.value - row.counter_value, sample.ts - prev_ts
            elif row.counter_value is not None and start_ts is not None and sample.ts > sample.start:
                delta, interval = sample.value, sample.ts - sample.start  # counted since its (re)start
            else:
                delta, interval = None, None  # first sight of this counter: nothing to compare with
            if delta is not None and interval and interval > 0:
                value = delta / interval if sample.per_second else delta
                result = _Sample(
                    service_id=sample.service_id,
                    metric=sample.metric,
                    labels=sample.labels,
                    unit=sample.unit,
                    ts=sample.ts,
                    value=value,
                    where=sample.where,
                )
            row.counter_value = sample.value
            row.counter_ts = datetime.fromtimestamp(sample.ts, tz=UTC)
            row.counter_start_ts = start_ts
            changed[row.pk] = row
        out_of_running[position] = result
    if changed:
        MetricSeries.objects.bulk_update(list(changed.values()), ["counter_value", "counter_ts", "counter_start_ts"])
    derived = iter(out_of_running[i] for i in range(len(running)))
    merged = [s if not s.cumulative else next(derived) for s in samples]
    return _means([s for s in merged if s is not None])


def _means(samples: list[_Sample]) -> list[_Sample]:
    """Histogram `<name>.mean` = sum / count of the same interval (skipped when nothing was observed)."""
    counts = {(s.service_id, s.metric[: -len(".count")], canonical_labels(s.labels), s.ts): s
              for s in samples if s.metric.endswith(".count")}
    means = []
    for s in samples:
        if not s.metric.endswith(".sum"):
            continue
        c = counts.get((s.service_id, s.metric[: -len(".sum")], canonical_labels(s.labels), s.ts))
        if c is not None and c.value > 0:
            means.append(_Sample(service_id=s.service_id, metric=s.metric[: -len(".sum")] + ".mean", labels=s.labels,
                                 unit=s.unit, ts=s.ts, value=s.value / c.value, where=s.where))
    return samples + means


def _to_batch(samples: list[_Sample]) -> NormalisedBatch:
    return build_batch(
        service_ids=[s.service_id for s in samples], metrics=[s.metric for s in samples],
        labels=[s.labels for s in samples], ts=np.array([s.ts for s in samples], dtype=np.float64),
        values=np.array([s.value for s in samples], dtype=np.float64), units=[s.unit for s in samples],
    )
