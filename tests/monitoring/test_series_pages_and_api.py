"""Series pages and the series/points/anomalies API: what people with a read role see."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.choices import Role
from monitoring.models import Anomaly, Point


@pytest.fixture
def series_with_points(make_service, make_series):
    series = make_series(service=make_service("checkout-api"), metric="latency_ms", labels={"route": "/pay"}, unit="ms")
    now = timezone.now().replace(microsecond=0)
    Point.objects.bulk_create(
        [Point(series=series, ts=now - timedelta(minutes=120 - i), value=100.0 + (i % 10)) for i in range(120)]
    )
    Anomaly.objects.create(series=series, ts=now - timedelta(minutes=5), value=109, score=0.9, expected=104,
                           lower=98, upper=108, direction="up", detector="adaptive", reasons=["test"])
    return series


def test_the_series_list_shows_anomaly_counts(client_as, series_with_points):
    response = client_as(Role.MANAGER).get("/api/v1/series/")
    assert response.status_code == 200
    row = response.json()["results"][0]
    assert (row["service"], row["metric"], row["anomaly_count"], row["anomaly_total"]) == (
        "checkout-api", "latency_ms", 1, 1)


def test_points_are_downsampled_server_side_with_the_expected_band(client_as, series_with_points):
    now = timezone.now()
    response = client_as(Role.OPERATOR).get(
        f"/api/v1/series/{series_with_points.pk}/points/",
        {"from": (now - timedelta(hours=3)).isoformat(), "to": now.timestamp(), "step": 600},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["step"] == 600 and sum(body["count"]) == 120
    assert len(body["t"]) <= 13, "ten-minute buckets over the two hours of data"
    assert all(98 <= m <= 111 for m in body["mean"])
    assert all(lo <= hi for lo, hi in zip(body["min"], body["max"], strict=False))
    assert len(body["expected"]) == len(body["t"]) and body["upper"][-1] >= body["lower"][-1]
    assert [a["value"] for a in body["anomalies"]] == [109.0]


@pytest.mark.parametrize("params,field", [
    ({"from": "yesterday"}, "from"),
    ({"step": "x"}, "step"),
    ({"from": "2030-01-01T00:00:00Z", "to": "2029-01-01T00:00:00Z"}, "from"),
], ids=["bad_from", "bad_step", "from_after_to"])
def test_bad_point_queries_are_400(client_as, series_with_points, params, field):
    response = client_as(Role.OPERATOR).get(f"/api/v1/series/{series_with_points.pk}/points/", params)
    assert response.status_code == 400 and response.json()["field"] == field


def test_the_anomaly_list_filters_by_series(client_as, series_with_points):
    client = client_as(Role.EXECUTIVE)
    assert client.get("/api/v1/anomalies/", {"series": series_with_points.pk}).json()["count"] == 1
    assert client.get("/api/v1/anomalies/", {"series": series_with_points.pk + 1}).json()["count"] == 0
    assert client.get("/api/v1/anomalies/", {"series": "x"}).status_code == 400


def test_reading_series_needs_a_role(client_as, api_client, series_with_points):
    assert client_as().get("/api/v1/series/").status_code == 403
    assert api_client.get("/api/v1/anomalies/").status_code == 401


def test_the_last_n_points_are_read_oldest_first(series_with_points):
    from monitoring.selectors.series import series_last_points

    last = series_last_points(series_id=series_with_points.pk, n=3)
    assert [v for _, v in last] == [107.0, 108.0, 109.0]


def test_the_monitoring_page_lists_series_and_recent_anomalies(client, make_user, series_with_points):
    client.force_login(make_user(Role.MANAGER))
    page = client.get("/monitoring/")
    assert page.status_code == 200
    assert b"latency_ms" in page.content and b"route=/pay" in page.content
    assert f'href="/monitoring/series/{series_with_points.pk}/"'.encode() in page.content


@pytest.mark.parametrize("range_", ["1h", "24h", "30d", "bogus"])
def test_the_series_page_draws_a_chart_for_each_range(client, make_user, series_with_points, range_):
    client.force_login(make_user(Role.OPERATOR))
    page = client.get(f"/monitoring/series/{series_with_points.pk}/", {"range": range_})
    assert page.status_code == 200
    assert b'id="series-chart"' in page.content and b"chart.umd.min.js" in page.content
    assert b'id="series-data"' in page.content


def test_pages_need_a_login(client, series_with_points):
    assert client.get("/monitoring/").status_code == 302
    assert client.get(f"/monitoring/series/{series_with_points.pk}/").status_code == 302


def test_admins_see_series_anomalies_and_batches_in_the_admin(client, make_user, series_with_points):
    admin = make_user(Role.ADMIN, is_staff=True, is_superuser=True)
    client.force_login(admin)
    for url in ("/admin/monitoring/metricseries/", f"/admin/monitoring/metricseries/{series_with_points.pk}/change/",
                "/admin/monitoring/anomaly/", "/admin/monitoring/telemetrybatch/"):
        assert client.get(url).status_code == 200, url


def test_the_home_page_counts_recent_anomalies(client, make_user, series_with_points):
    client.force_login(make_user(Role.MANAGER))
    page = client.get("/")
    assert page.status_code == 200
    assert b"Anomalies (24 h)" in page.content and b"in 1 of 1 series" in page.content


def test_a_series_with_an_unknown_detector_falls_back_to_the_default(client, make_user, series_with_points):
    from django.core.exceptions import ValidationError

    series_with_points.detector = "no-such-detector"
    with pytest.raises(ValidationError):
        series_with_points.full_clean()
    series_with_points.save()
    client.force_login(make_user(Role.OPERATOR))
    assert client.get(f"/monitoring/series/{series_with_points.pk}/").status_code == 200
