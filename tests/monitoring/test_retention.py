"""Retention: raw points past the age are rolled into hourly min/max/mean/count, then deleted."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.models import MetricSeries, Point, PointRollup
from monitoring.services.points import labels_hash, points_expire
from monitoring.tasks import expire_points

HOUR = datetime(2026, 1, 1, 10, tzinfo=UTC)


@pytest.fixture
def series(make_service):
    return MetricSeries.objects.create(service=make_service(), metric="m", labels={}, labels_hash=labels_hash("{}"))


def add(series, start, values, step=timedelta(minutes=10)):
    Point.objects.bulk_create([Point(series=series, ts=start + i * step, value=v) for i, v in enumerate(values)])


def test_old_points_become_hourly_rollups_and_recent_ones_stay(series):
    add(series, HOUR, [1, 2, 3, 4, 5, 6])  # 10:00-10:50
    add(series, HOUR + timedelta(hours=1), [10, 20])  # 11:00, 11:10
    add(series, HOUR + timedelta(hours=5), [7])  # recent
    result = points_expire(older_than=HOUR + timedelta(hours=2, minutes=30))
    assert result.deleted_points == 8
    rollups = {r.hour: (r.min, r.max, r.mean, r.count) for r in PointRollup.objects.filter(series=series)}
    assert rollups == {HOUR: (1, 6, 3.5, 6), HOUR + timedelta(hours=1): (10, 20, 15, 2)}
    assert list(Point.objects.values_list("value", flat=True)) == [7.0]


def test_a_late_point_for_a_rolled_hour_is_merged_into_its_rollup(series):
    add(series, HOUR, [2, 4])
    points_expire(older_than=HOUR + timedelta(hours=3))
    add(series, HOUR + timedelta(minutes=30), [12])
    points_expire(older_than=HOUR + timedelta(hours=3))
    rollup = PointRollup.objects.get(series=series, hour=HOUR)
    assert (rollup.min, rollup.max, rollup.mean, rollup.count) == (2, 12, 6, 3)
    assert not Point.objects.exists()


def test_the_cutoff_is_rounded_down_to_the_hour_so_an_hour_is_never_split(series):
    add(series, HOUR, [1, 2, 3, 4, 5, 6])
    result = points_expire(older_than=HOUR + timedelta(minutes=35))
    assert result.deleted_points == 0 and Point.objects.count() == 6


def test_the_beat_task_uses_the_configured_age(series, settings):
    from django.utils import timezone

    settings.POINT_RETENTION_DAYS = 2
    now = timezone.now()
    # On the hour, so both old points share one hourly rollup whatever the wall clock's minute.
    add(series, (now - timedelta(days=3)).replace(minute=0, second=0, microsecond=0), [1, 1])
    add(series, now - timedelta(days=1), [2])
    assert expire_points.delay().get() == 2
    assert Point.objects.count() == 1 and PointRollup.objects.count() == 1
    assert "monitoring-expire-points" in settings.CELERY_BEAT_SCHEDULE


def test_lost_batches_are_queued_again_and_old_ones_expire(make_integration, django_capture_on_commit_callbacks):
    import time as _time

    import orjson
    from django.utils import timezone

    from monitoring.models import TelemetryBatch
    from monitoring.services import telemetry as telemetry_services
    from monitoring.tasks import expire_batches, requeue_batches

    integration, _ = make_integration()
    body = orjson.dumps({"points": [{"service": integration.service.name, "metric": "m",
                                     "timestamp": _time.time() - 60, "value": 1.0}]})
    # Stored, but its ingest message never reached a worker (callbacks not run).
    accepted = telemetry_services.telemetry_receive(integration=integration, body=body)
    TelemetryBatch.objects.filter(pk=accepted.batch_id).update(received_at=timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_batches.delay().get() == 1
    batch = TelemetryBatch.objects.get(pk=accepted.batch_id)
    assert batch.status == "stored" and Point.objects.count() == 1
    TelemetryBatch.objects.filter(pk=batch.pk).update(processed_at=timezone.now() - timedelta(days=2))
    assert expire_batches.delay().get() == 1
    assert not TelemetryBatch.objects.exists() and Point.objects.count() == 1
