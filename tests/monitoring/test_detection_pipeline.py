"""The ingest and detect drains: late points rescored in order, replay after a lost worker, one drain per partition."""
from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import orjson
import pytest
from django.utils import timezone

from core.drain import LeaseLost, drain_run, lease_take, partition_of
from monitoring.detection import get_detector, score_series
from monitoring.models import Anomaly, DetectQueue, DrainLease, MetricSeries, Point, TelemetryBatch
from monitoring.services import anomalies as anomaly_services
from monitoring.services import drains
from monitoring.services import telemetry as telemetry_services
from monitoring.services.anomalies import drain as detect_drain
from monitoring.services.anomalies import state as detect_state

STEP = 60.0


@pytest.fixture
def series_data():
    """A daily-seasonal series with noise and a level shift, one point a minute."""
    rng = np.random.default_rng(7)
    start = time.time() - 3 * 86400
    ts = start + STEP * np.arange(400)
    values = 100 + 10 * np.sin(2 * np.pi * ts / 86400) + rng.normal(0, 1, ts.shape[0])
    values[300:] += 30
    return ts, values


@pytest.fixture
def send(make_integration, django_capture_on_commit_callbacks):
    integration, _ = make_integration()
    service = integration.service

    def send(ts, values):
        points = [{"service": service.name, "metric": "latency_ms", "timestamp": float(t), "value": float(v)}
                  for t, v in zip(ts, values, strict=False)]
        with django_capture_on_commit_callbacks(execute=True):
            telemetry_services.telemetry_receive(integration=integration, body=orjson.dumps({"points": points}))
        return MetricSeries.objects.get(service=service, metric="latency_ms")

    return send


def in_order_state(ts, values):
    detector = get_detector()
    order = np.argsort(ts, kind="stable")
    result, state = score_series(detector=detector, state=detector.initial_state(), timestamps=ts[order],
                                 values=values[order])
    return result, state


def assert_same_state(series: MetricSeries, expected) -> None:
    stored = get_detector().load_state(bytes(series.detector_state))
    for key, value in expected.items():
        np.testing.assert_array_equal(stored[key], value, err_msg=key)


def test_points_arriving_late_are_rescored_in_time_order(send, series_data):
    ts, values = series_data
    late = np.zeros(ts.shape[0], dtype=bool)
    late[150:170] = True
    send(ts[:250][~late[:250]], values[:250][~late[:250]])
    series = send(np.concatenate([ts[150:170], ts[250:]]), np.concatenate([values[150:170], values[250:]]))
    assert series.points_scored == ts.shape[0], "every point went through the detector once, in order"
    assert series.last_scored_ts.timestamp() == pytest.approx(ts[-1], abs=1e-3)
    result, state = in_order_state(ts, values)
    assert_same_state(series, state)
    threshold = get_detector().default_threshold
    expected = {round(t, 3) for t in ts[result.scores > threshold]}
    assert {round(a.ts.timestamp(), 3) for a in Anomaly.objects.filter(series=series)} >= expected


def test_points_older_than_every_checkpoint_are_stored_but_not_scored(send, series_data, settings):
    settings.TELEMETRY_ALLOWED_LATENESS_SECONDS = 10 * STEP
    ts, values = series_data
    for part in (slice(0, 30), slice(30, 60), slice(60, 90)):
        series = send(ts[part], values[part])
    # Checkpoint A now trails the watermark by at least ten minutes; this point is older than it.
    assert series.ckpt_a_ts is not None and series.ckpt_a_ts <= ts[89] - 10 * STEP
    too_late = ts[0] - 30
    series = send(np.array([too_late]), np.array([100.0]))
    assert Point.objects.filter(series=series).count() == 91
    assert series.points_scored == 90, "stored, not scored"
    # A point between checkpoint A and the watermark is still scored in order.
    between = (ts[40] + ts[41]) / 2
    series = send(np.array([between]), np.array([101.0]))
    assert series.points_scored == 91
    keep = np.concatenate([ts[:90], [between]])
    _, state = in_order_state(keep, np.concatenate([values[:90], [101.0]]))
    assert_same_state(series, state)


def test_a_worker_that_lost_its_state_replays_from_the_stored_one(send, series_data, monkeypatch):
    ts, values = series_data
    send(ts[:100], values[:100])
    # The next run's worker dies before it writes its state: the row keeps the state at ts[99].
    monkeypatch.setattr(detect_drain, "series_states_persist", lambda: 0)
    series = send(ts[100:200], values[100:200])
    assert series.state_ts == pytest.approx(ts[99]) and series.last_scored_ts.timestamp() == pytest.approx(ts[199])
    anomaly_services.state_cache_clear()  # another worker takes over
    monkeypatch.undo()
    anomalies_before = set(Anomaly.objects.values_list("ts", flat=True))
    series = send(ts[200:], values[200:])
    assert series.points_scored == ts.shape[0]
    _, state = in_order_state(ts, values)
    assert_same_state(series, state)
    replayed = set(Anomaly.objects.filter(ts__lte=series.last_scored_ts).values_list("ts", flat=True))
    assert anomalies_before <= replayed, "the replay neither lost nor duplicated anomalies"
    assert Anomaly.objects.count() == len(replayed)


def test_a_state_in_memory_is_used_only_while_the_row_has_not_moved_on(send, series_data):
    ts, values = series_data
    series = send(ts[:50], values[:50])
    entry = detect_state._STATE_CACHE[series.pk]
    assert entry.token == series.scored_token
    # Another worker scores the series meanwhile (its token is new): this worker's state is stale.
    MetricSeries.objects.filter(pk=series.pk).update(scored_token=entry.token + 1)
    series = send(ts[50:100], values[50:100])
    _, state = in_order_state(ts[:100], values[:100])
    assert_same_state(series, state)


def test_one_ingest_step_writes_many_batches_and_queues_their_series(make_integration):
    integration, _ = make_integration()
    name = integration.service.name
    start = time.time() - 3600
    for k in range(3):
        points = [{"service": name, "metric": f"m{j}", "timestamp": start + 60 * (10 * k + i), "value": float(i)}
                  for j in range(2) for i in range(10)]
        telemetry_services.telemetry_receive(integration=integration, body=orjson.dumps({"points": points}))
    step = telemetry_services.telemetry_ingest_step()
    assert (step.batches, step.points, step.stored, step.series) == (3, 60, 60, 2)
    assert set(TelemetryBatch.objects.values_list("status", "stored_count")) == {("stored", 20)}
    rows = list(DetectQueue.objects.values_list("series__metric", "first_ts", "last_ts", "points"))
    assert sorted((m, n) for m, _, _, n in rows) == [("m0", 30), ("m1", 30)]
    assert all(first == pytest.approx(start) and last == pytest.approx(start + 60 * 29) for _, first, last, _ in rows)
    integration.refresh_from_db()
    assert integration.received_count == 3
    outcome = anomaly_services.telemetry_detect_step()
    assert (outcome.series, outcome.scored, outcome.claimed) == (2, 60, 2)
    assert not DetectQueue.objects.exists()


def test_a_batch_that_cannot_be_written_fails_alone(make_integration, make_service):
    integration, _ = make_integration()
    good = [{"service": integration.service.name, "metric": "m", "timestamp": time.time() - 60, "value": 1.0}]
    doomed = make_service()
    integration.extra_services.add(doomed)
    bad = [{"service": doomed.name, "metric": "m", "timestamp": time.time() - 60, "value": 1.0}]
    first = telemetry_services.telemetry_receive(integration=integration, body=orjson.dumps({"points": good}))
    second = telemetry_services.telemetry_receive(integration=integration, body=orjson.dumps({"points": bad}))
    doomed.delete()  # after its batch was accepted: the batch names a service that is gone
    telemetry_services.telemetry_ingest_step()
    statuses = dict(TelemetryBatch.objects.values_list("pk", "status"))
    assert statuses == {first.batch_id: "stored", second.batch_id: "failed"}
    assert TelemetryBatch.objects.get(pk=second.batch_id).error


def test_only_one_drain_of_a_partition_runs_at_a_time_and_other_partitions_run_meanwhile(db):
    inner = []

    def step(lease):
        inner.append(drain_run(drains.DETECT, 0, lambda lease: 0, pending=lambda: False))
        inner.append(drain_run(drains.DETECT, 1, lambda lease: 0, pending=lambda: False))
        return 0

    assert drain_run(drains.DETECT, 0, step, pending=lambda: False) == 0
    assert inner == [-1, 0], "the second drain of partition 0 found the first one running and left"
    assert drain_run(drains.DETECT, 0, lambda lease: 0, pending=lambda: False) == 0, "released when done"


def test_a_partition_whose_worker_died_is_taken_over_once_its_lease_ran_out(db):
    dead = lease_take(drains.DETECT, 3)  # ... and its worker dies
    assert dead is not None and drain_run(drains.DETECT, 3, lambda lease: 0, pending=lambda: False) == -1
    DrainLease.objects.filter(drain=drains.DETECT.name, partition=3).update(
        lease_until=timezone.now() - timedelta(seconds=1))
    assert drain_run(drains.DETECT, 3, lambda lease: 0, pending=lambda: False) == 0
    with pytest.raises(LeaseLost):
        dead.hold()  # the stalled worker finds out before it writes anything


def test_batches_and_detect_rows_carry_the_partition_of_their_sender_and_service(make_integration, settings):
    settings.DRAIN_PARTITIONS = 4
    integration, _ = make_integration()
    points = [{"service": integration.service.name, "metric": f"m{j}", "timestamp": time.time() - 60, "value": 1.0}
              for j in range(3)]
    accepted = telemetry_services.telemetry_receive(integration=integration, body=orjson.dumps({"points": points}))
    assert TelemetryBatch.objects.get(pk=accepted.batch_id).partition == integration.pk % 4
    other = (integration.pk + 1) % 4
    assert telemetry_services.telemetry_ingest_step(partition=other).batches == 0, "another partition's batch"
    assert telemetry_services.telemetry_ingest_step(partition=partition_of(integration.pk)).batches == 1
    assert set(DetectQueue.objects.values_list("partition", flat=True)) == {integration.service_id % 4}
    assert anomaly_services.telemetry_detect_step(partition=(integration.service_id + 1) % 4).claimed == 0
    assert anomaly_services.telemetry_detect_step(partition=integration.service_id % 4).claimed == 3


def test_an_empty_partition_ends_its_drain_at_once_while_other_partitions_wait(db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # in-process drains never wait for rows anyway
    started = time.monotonic()
    assert drain_run(drains.DETECT, 0, lambda lease: 0, pending=lambda: False, pending_elsewhere=lambda: True,
                     idle_seconds=30) == 0
    assert time.monotonic() - started < 10, "the worker moves on to another partition's drain"
