"""The native telemetry API: good batches are stored and scored, bad ones rejected whole with index and field."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone

import orjson
import pytest

from core.choices import Role
from monitoring.models import MetricSeries, Point, TelemetryBatch

URL = "/api/v1/telemetry"


@pytest.fixture
def agent(integration_client, make_service):
    client = integration_client()
    client.service = client.integration.service
    return client


def post(client, body, **headers):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(URL, data=data, content_type=headers.pop("content_type", "application/json"), **headers)


def points(service: str, n: int = 5, *, metric: str = "latency_ms", start: float | None = None, labels=None):
    start = start if start is not None else time.time() - n * 60
    return [
        {"service": service, "metric": metric, "labels": labels or {"route": "/pay"}, "timestamp": start + 60 * i,
         "value": 100.0 + i}
        for i in range(n)
    ]


def test_a_good_batch_is_stored_and_answered_202(agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(agent, {"points": points(agent.service.name, 5)})
    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == 5
    batch = TelemetryBatch.objects.get(pk=response.json()["batch_id"])
    assert batch.status == "stored" and batch.stored_count == 5
    series = MetricSeries.objects.get()
    assert (series.service, series.metric, series.labels) == (agent.service, "latency_ms", {"route": "/pay"})
    assert list(Point.objects.filter(series=series).values_list("value", flat=True)) == [100, 101, 102, 103, 104]
    series.refresh_from_db()
    assert series.last_scored_ts is not None, "detection ran over the new points"


def test_timestamps_may_be_rfc3339_epoch_seconds_or_milliseconds(agent, django_capture_on_commit_callbacks):
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    body = {"points": [
        {"service": agent.service.name, "metric": "m", "timestamp": base.isoformat().replace("+00:00", "Z"),
         "value": 1},
        {"service": agent.service.name, "metric": "m", "timestamp": (base + timedelta(minutes=1)).astimezone(
            dt_timezone(timedelta(hours=2))).isoformat(), "value": 2},
        {"service": agent.service.name, "metric": "m", "timestamp": (base + timedelta(minutes=2)).timestamp(),
         "value": 3},
        {"service": agent.service.name, "metric": "m",
         "timestamp": int((base + timedelta(minutes=3)).timestamp() * 1000), "value": 4},
    ]}
    with django_capture_on_commit_callbacks(execute=True):
        assert post(agent, body).status_code == 202
    stored = list(Point.objects.order_by("ts").values_list("ts", "value"))
    assert stored == [(base + timedelta(minutes=i), float(i + 1)) for i in range(4)]


BAD_CASES = {
    "value_is_a_string": (3, "value", {"value": "12"}),
    "value_is_missing": (2, "value", {"value": None}),
    "value_is_a_boolean": (1, "value", {"value": True}),
    "metric_is_missing": (4, "metric", {"metric": None}),
    "metric_is_empty": (0, "metric", {"metric": ""}),
    "service_is_missing": (2, "service", {"service": None}),
    "service_is_unknown": (3, "service", {"service": "no-such-service"}),
    "timestamp_is_missing": (1, "timestamp", {"timestamp": None}),
    "timestamp_is_unparseable": (2, "timestamp", {"timestamp": "yesterday"}),
    "timestamp_has_no_offset": (2, "timestamp", {"timestamp": "2026-01-01T00:00:00"}),
    "timestamp_is_in_the_future": (4, "timestamp", {"timestamp": time.time() + 3600}),
    "labels_are_not_an_object": (1, "labels", {"labels": ["a"]}),
    "label_value_is_an_object": (3, "labels", {"labels": {"a": {"b": 1}}}),
    "kind_is_unknown": (2, "kind", {"kind": "weird"}),
}


@pytest.mark.parametrize("index,field,change", BAD_CASES.values(), ids=BAD_CASES.keys())
def test_a_bad_point_rejects_the_whole_batch_naming_index_and_field(agent, index, field, change,
                                                                   django_capture_on_commit_callbacks):
    body = points(agent.service.name, 6)
    body[index].update(change)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(agent, {"points": body})
    assert response.status_code == 400, response.content
    assert response.json()["index"] == index
    assert response.json()["field"] == field
    assert f"points[{index}].{field}" in response.json()["detail"]
    assert not TelemetryBatch.objects.exists() and not Point.objects.exists() and not MetricSeries.objects.exists()


def test_the_first_bad_point_is_named_when_several_fields_are_bad(agent):
    body = points(agent.service.name, 6)
    body[4]["metric"] = None
    body[2]["value"] = "x"
    response = post(agent, {"points": body})
    assert (response.json()["index"], response.json()["field"]) == (2, "value")


def test_a_point_that_is_not_an_object_is_rejected(agent):
    response = post(agent, {"points": [*points(agent.service.name, 2), 5]})
    assert response.status_code == 400 and response.json()["index"] == 2


@pytest.mark.parametrize("body,field", [
    (b"{not json", "body"),
    (b'{"points": [{"value": 1e999}]}', "body"),
    (b'{"data": []}', "points"),
    (b'{"points": {}}', "points"),
    (b'{"points": []}', "points"),
], ids=["not_json", "infinite_number", "no_points_key", "points_not_a_list", "empty_batch"])
def test_a_malformed_body_is_a_400(agent, body, field):
    response = post(agent, body)
    assert response.status_code == 400
    assert response.json()["field"] == field and response.json()["index"] is None
    assert not TelemetryBatch.objects.exists()


def test_a_batch_over_the_limit_is_rejected(agent):
    body = points(agent.service.name, 10_001, start=time.time() - 20_000 * 60)
    response = post(agent, {"points": body})
    assert response.status_code == 400 and response.json()["field"] == "points"
    assert "10000" in response.json()["detail"]
    assert not TelemetryBatch.objects.exists()


def test_a_wrong_content_type_is_a_400(agent):
    response = post(agent, orjson.dumps({"points": points(agent.service.name, 1)}), content_type="text/plain")
    assert response.status_code == 400 and response.json()["field"] == "Content-Type"
    assert not TelemetryBatch.objects.exists()


def test_a_retried_batch_with_the_same_idempotency_key_is_stored_once(agent, django_capture_on_commit_callbacks):
    body = {"points": points(agent.service.name, 5)}
    with django_capture_on_commit_callbacks(execute=True):
        first = post(agent, body, HTTP_IDEMPOTENCY_KEY="batch-42")
        again = post(agent, body, HTTP_IDEMPOTENCY_KEY="batch-42")
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert TelemetryBatch.objects.count() == 1 and Point.objects.count() == 5


def test_an_idempotency_key_reused_for_other_data_is_a_conflict(agent):
    post(agent, {"points": points(agent.service.name, 2)}, HTTP_IDEMPOTENCY_KEY="k")
    response = post(agent, {"points": points(agent.service.name, 3)}, HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 409
    assert TelemetryBatch.objects.count() == 1


def test_duplicate_points_are_ignored(agent, django_capture_on_commit_callbacks):
    body = points(agent.service.name, 4, start=time.time() - 600)
    with django_capture_on_commit_callbacks(execute=True):
        post(agent, {"points": body})
        second = post(agent, {"points": body + [dict(body[0], value=999.0)]})
    assert second.status_code == 202
    assert Point.objects.count() == 4
    assert TelemetryBatch.objects.get(pk=second.json()["batch_id"]).stored_count == 0
    assert not Point.objects.filter(value=999.0).exists(), "the first value of a (series, ts) wins"


def test_out_of_order_points_are_stored_and_scored_in_time_order(agent, django_capture_on_commit_callbacks):
    start = time.time() - 3600
    body = points(agent.service.name, 40, start=start)
    shuffled = body[20:] + body[:20][::-1]
    with django_capture_on_commit_callbacks(execute=True):
        assert post(agent, {"points": shuffled}).status_code == 202
    series = MetricSeries.objects.get()
    assert Point.objects.filter(series=series).count() == 40
    assert series.last_scored_ts.timestamp() == pytest.approx(start + 39 * 60, abs=1e-3)
    assert series.points_scored == 40
    # A point older than the last scored one is scored in order too: the series is rescored from a
    # checkpoint before it (the watermark stays where it was).
    with django_capture_on_commit_callbacks(execute=True):
        assert post(agent, {"points": [dict(body[0], timestamp=start - 60)]}).status_code == 202
    series.refresh_from_db()
    assert Point.objects.filter(series=series).count() == 41
    assert series.last_scored_ts.timestamp() == pytest.approx(start + 39 * 60, abs=1e-3)
    assert series.points_scored == 41


def test_people_cannot_post_telemetry_and_agents_cannot_read_series(client_as, agent):
    assert client_as(Role.OPERATOR).post(URL, data=b"{}", content_type="application/json").status_code == 403
    assert agent.get("/api/v1/series/").status_code == 403


def test_telemetry_needs_a_token(api_client):
    assert api_client.post(URL, data=b"{}", content_type="application/json").status_code == 401


def test_up_to_32_labels_of_200_characters_are_accepted_and_more_refused(agent):
    body = points(agent.service.name, 1)
    body[0]["labels"] = {f"l{i}": "v" * 200 for i in range(32)}
    assert post(agent, {"points": body}).status_code == 202
    body[0]["labels"] = {f"l{i}": "v" for i in range(33)}
    assert post(agent, {"points": body}).json()["field"] == "labels"
    body[0]["labels"] = {"l": "v" * 201}
    assert post(agent, {"points": body}).json()["field"] == "labels"


def test_a_series_labels_fit_the_signal_contract_with_room_for_the_anomaly_signals_own():
    from incidents import contracts
    from monitoring.formats import native

    assert native.MAX_LABELS + native.ANOMALY_SIGNAL_LABELS <= contracts.MAX_LABELS
    assert native.MAX_LABEL_LENGTH <= contracts.MAX_LABEL_CHARS
    assert len(native.ANOMALY_LABEL_PREFIX) + native.MAX_LABEL_NAME_LENGTH <= contracts.MAX_LABEL_NAME_CHARS


def test_a_label_name_too_long_for_the_anomaly_signal_is_refused_naming_the_limit(agent):
    body = points(agent.service.name, 1)
    body[0]["labels"] = {"n" * 95: "v"}
    response = post(agent, {"points": body})
    assert response.status_code == 400 and "longer than 94" in response.json()["detail"]
    body[0]["labels"] = {"n" * 94: "v"}
    assert post(agent, {"points": body}).status_code == 202
