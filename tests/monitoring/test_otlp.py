"""OTLP/HTTP metrics: the real OpenTelemetry SDK exporter, the JSON mapping, and bad bodies."""
from __future__ import annotations

import gzip
import time

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from core.choices import IntegrationKind
from monitoring.models import MetricSeries, Point, TelemetryBatch

URL = "/otlp/v1/metrics"


def series_values(service, metric):
    series = MetricSeries.objects.get(service=service, metric=metric)
    return list(Point.objects.filter(series=series).order_by("ts").values_list("value", flat=True))


@pytest.mark.django_db(transaction=True)
def test_the_opentelemetry_sdk_exports_gauges_counters_and_histograms(live_server, make_integration, make_service,
                                                                      monkeypatch):
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    service = make_service("checkout-api")
    _, token = make_integration(IntegrationKind.OTLP, service=service)
    # Configured the way an operator would: through the standard environment variables.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"{live_server.url}/otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer {token}")
    exporter = OTLPMetricExporter()
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create({"service.name": "checkout-api"}), metric_readers=[reader])
    meter = provider.get_meter("shop")
    requests = meter.create_counter("http.requests", unit="1")
    in_flight = meter.create_up_down_counter("http.in_flight")
    queue = meter.create_gauge("queue.depth")
    latency = meter.create_histogram("http.latency", unit="ms")
    try:
        requests.add(10, {"route": "/pay"})
        in_flight.add(3)
        queue.set(42)
        latency.record(10)
        latency.record(30)
        assert reader.force_flush(timeout_millis=20_000)
        time.sleep(1.1)
        requests.add(20, {"route": "/pay"})
        latency.record(50)
        assert reader.force_flush(timeout_millis=20_000)
    finally:
        provider.shutdown()

    # Two flushes, plus the final export of shutdown().
    assert TelemetryBatch.objects.filter(source="otlp", status="stored").count() == 3
    assert series_values(service, "queue.depth")[:2] == [42.0, 42.0]
    assert series_values(service, "http.in_flight")[:2] == [3.0, 3.0], "an up-down counter is a level, not a rate"
    # The first cumulative total has nothing to compare with; the second gives 20 per ~1.1 s.
    rate = series_values(service, "http.requests.rate")
    assert 10 < rate[0] < 20
    assert MetricSeries.objects.get(service=service, metric="http.requests.rate").labels == {"route": "/pay"}
    assert series_values(service, "http.latency.count")[0] == 1.0  # one observation in the second interval
    assert series_values(service, "http.latency.mean")[0] == 50.0


def export_request(*, service_name: str | None = "checkout-api", value: float = 7.5, ts: float | None = None):
    ts_ns = int((ts or time.time()) * 1e9)
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    if service_name:
        rm.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=service_name)))
    metric = rm.scope_metrics.add().metrics.add()
    metric.name = "cpu.utilisation"
    metric.unit = "1"
    point = metric.gauge.data_points.add()
    point.time_unix_nano = ts_ns
    point.as_double = value
    point.attributes.append(KeyValue(key="core", value=AnyValue(int_value=3)))
    return request


def otlp_post(client, body: bytes, content_type: str, **headers):
    return client.post(URL, data=body, content_type=content_type, **headers)


@pytest.fixture
def agent(integration_client, make_service):
    return integration_client(IntegrationKind.OTLP, service=make_service("checkout-api"))


def test_the_json_encoding_is_accepted_and_answered_in_json(agent, django_capture_on_commit_callbacks):
    body = json_format.MessageToJson(export_request()).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = otlp_post(agent, body, "application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    json_format.Parse(response.content, ExportMetricsServiceResponse())
    series = MetricSeries.objects.get(metric="cpu.utilisation")
    assert series.service.name == "checkout-api" and series.labels == {"core": "3"}
    assert series_values(series.service, "cpu.utilisation") == [7.5]


def test_protobuf_is_answered_with_a_protobuf_response(agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = otlp_post(agent, export_request().SerializeToString(), "application/x-protobuf")
    assert response.status_code == 200 and response["Content-Type"] == "application/x-protobuf"
    ExportMetricsServiceResponse().ParseFromString(response.content)
    assert Point.objects.count() == 1


def test_a_gzipped_body_is_accepted(agent, django_capture_on_commit_callbacks):
    body = gzip.compress(export_request().SerializeToString())
    with django_capture_on_commit_callbacks(execute=True):
        response = otlp_post(agent, body, "application/x-protobuf", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200 and Point.objects.count() == 1


def test_a_corrupt_protobuf_is_a_400_and_nothing_is_stored(agent):
    from google.rpc import status_pb2

    response = otlp_post(agent, b"\x0a\xff\xff\xff\xff\x0fgarbage", "application/x-protobuf")
    assert response.status_code == 400
    status = status_pb2.Status()
    status.ParseFromString(response.content)
    assert status.code == 3 and "protobuf" in status.message
    assert not TelemetryBatch.objects.exists()


def test_a_corrupt_json_body_is_a_400(agent):
    response = otlp_post(agent, b'{"resourceMetrics": 5}', "application/json")
    assert response.status_code == 400 and "JSON" in response.json()["message"]


def test_an_unknown_service_name_is_a_400_naming_it(agent):
    response = otlp_post(agent, export_request(service_name="nope").SerializeToString(), "application/x-protobuf")
    assert response.status_code == 400
    assert not TelemetryBatch.objects.exists()


def test_without_a_service_name_the_integration_default_service_is_used(agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = otlp_post(agent, json_format.MessageToJson(export_request(service_name=None)).encode(),
                             "application/json")
    assert response.status_code == 200
    assert MetricSeries.objects.get().service == agent.integration.service


def test_a_non_finite_value_or_a_future_time_is_a_400(agent):
    nan = otlp_post(agent, export_request(value=float("nan")).SerializeToString(), "application/x-protobuf")
    future = otlp_post(agent, export_request(ts=time.time() + 86400).SerializeToString(), "application/x-protobuf")
    assert nan.status_code == future.status_code == 400
    assert not TelemetryBatch.objects.exists()


def test_a_wrong_content_type_is_a_400(agent):
    assert otlp_post(agent, b"x", "text/plain").status_code == 400


def test_a_cumulative_counter_restart_counts_from_zero(agent, django_capture_on_commit_callbacks):
    start = time.time() - 100

    def counter(total: float, at: float, started: float):
        request = export_request()
        metric = request.resource_metrics[0].scope_metrics[0].metrics[0]
        metric.ClearField("gauge")
        metric.name = "jobs"
        metric.sum.is_monotonic = True
        metric.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
        point = metric.sum.data_points.add()
        point.start_time_unix_nano = int(started * 1e9)
        point.time_unix_nano = int(at * 1e9)
        point.as_int = int(total)
        return request.SerializeToString()

    with django_capture_on_commit_callbacks(execute=True):
        for body in (counter(100, start + 10, start), counter(160, start + 20, start),
                     counter(30, start + 30, start + 25)):  # the process restarted at +25 s
            assert otlp_post(agent, body, "application/x-protobuf").status_code == 200
    service = MetricSeries.objects.get(metric="jobs.rate").service
    assert series_values(service, "jobs.rate") == [pytest.approx(6.0), pytest.approx(6.0)]


def test_otlp_needs_an_integration_token(api_client):
    assert otlp_post(api_client, b"", "application/x-protobuf").status_code == 401
