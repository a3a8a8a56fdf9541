"""Point storage on PostgreSQL: new rows are COPYed straight into the points table, anything that may
exist goes through INSERT ... ON CONFLICT, and a COPY that meets an existing row is redone safely."""
from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import pytest

from monitoring.models import MetricSeries, Point
from monitoring.services import points as point_services

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def series(make_service):
    service = make_service()
    point_services.stored_max_clear()
    yield [MetricSeries.objects.create(service=service, metric=f"m{i}", labels_hash=f"h{i}") for i in range(2)]
    point_services.stored_max_clear()


def insert(ids, ts, values):
    return point_services.points_insert(series_ids=np.asarray(ids, dtype=np.int64), ts=np.asarray(ts, dtype=float),
                                        values=np.asarray(values, dtype=float))


def test_new_rows_duplicates_and_rows_behind_the_newest_stored_one(series):
    a, b = (s.pk for s in series)
    t0 = time.time() - 3600
    stored = insert([a, a, b, a], [t0, t0 + 60, t0, t0], [1, 2, 3, 9])
    assert stored.tolist() == [True, True, True, False], "within one call the first (series, ts) wins"
    # Behind the newest stored point of `a` (slow path): one new row, one duplicate; `b` moves on.
    stored = insert([a, a, b], [t0 + 30, t0 + 60, t0 + 60], [4, 5, 6])
    assert stored.tolist() == [True, False, True]
    assert sorted(Point.objects.filter(series_id=a).values_list("value", flat=True)) == [1.0, 2.0, 4.0]


def test_a_copy_that_meets_a_row_another_worker_stored_is_redone(series):
    a, _ = (s.pk for s in series)
    # Whole seconds: the other worker's row below goes through datetime.fromtimestamp, which rounds a
    # float's microseconds differently from the store's key one time in a few (then the rows differ).
    t0 = float(int(time.time()) - 3600)
    insert([a], [t0], [1])
    # This process believes nothing newer than t0 is stored; another worker stored t0 + 60 meanwhile.
    Point.objects.create(series_id=a, ts=datetime.fromtimestamp(t0 + 60, tz=UTC), value=7)
    stored = insert([a, a], [t0 + 60, t0 + 120], [8, 9])
    assert stored.tolist() == [False, True]
    assert sorted(Point.objects.filter(series_id=a).values_list("value", flat=True)) == [1.0, 7.0, 9.0]
