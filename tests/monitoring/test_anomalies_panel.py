"""The incident page's `anomalies` panel: related anomalies with a chart of each affected series around the
incident (value, expected band, anomaly points); absent when nothing is related."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from core.choices import Role
from incidents.panels import incident_panels, incident_panels_data
from monitoring.models import Anomaly, Point

pytestmark = pytest.mark.django_db


@pytest.fixture
def series_with_anomaly(make_series):
    def make(*, service, at, incident_id=None):
        series = make_series(service=service, metric="latency_ms", unit="ms", labels={"route": "/pay"})
        start = at - timedelta(minutes=90)
        Point.objects.bulk_create([Point(series=series, ts=start + timedelta(minutes=i), value=100.0 + (i % 5))
                                   for i in range(120)])
        Point.objects.filter(series=series, ts=at).update(value=900.0)
        Anomaly.objects.create(series=series, ts=at, value=900.0, score=8.5, expected=102.0, lower=95.0, upper=110.0,
                               direction="up", detector="ewma", reasons=["far above the band"],
                               incident_id=incident_id)
        return series

    return make


def test_it_shows_anomalies_of_the_incidents_service_with_a_chart(make_incident, make_service, make_user,
                                                                  series_with_anomaly, client):
    service = make_service("checkout")
    now = timezone.now().replace(second=0, microsecond=0)
    incident = make_incident(service=service, opened_at=now - timedelta(minutes=20))
    series = series_with_anomaly(service=service, at=now - timedelta(minutes=25))
    make_service("elsewhere")
    user = make_user(Role.MANAGER)

    data = incident_panels_data(incident=incident, user=user)["anomalies"]
    json.dumps(data)  # the API carries it
    [entry] = data["series"]
    assert entry["id"] == series.pk and entry["count"] == 1 and entry["anomalies"][0]["value"] == 900.0
    chart = entry["chart"]
    assert len(chart["t"]) == len(chart["mean"]) == len(chart["upper"]) > 10
    assert max(v for v in chart["mean"] if v is not None) > 300  # the spike is in the window
    assert any(u is not None for u in chart["upper"])  # the expected band is drawn
    assert chart["anomalies"][0]["y"] == 900.0

    client.force_login(user)
    body = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Related anomalies" in body and f'data-series="anomaly-data-{series.pk}"' in body
    assert "js/series-chart.js" in body


def test_an_anomaly_linked_to_the_incident_counts_even_on_another_service(make_incident, make_service, make_user,
                                                                          series_with_anomaly):
    incident = make_incident(opened_at=timezone.now() - timedelta(days=3))
    series = series_with_anomaly(service=make_service(), at=timezone.now() - timedelta(days=3), incident_id=incident.pk)
    data = incident_panels_data(incident=incident, user=make_user(Role.OPERATOR))
    assert [s["id"] for s in data["anomalies"]["series"]] == [series.pk]


def test_it_is_absent_without_related_anomalies(make_incident, make_service, make_user, series_with_anomaly, client):
    incident = make_incident(opened_at=timezone.now())
    series_with_anomaly(service=make_service(), at=timezone.now())  # another service, not linked
    series_with_anomaly(service=incident.service, at=timezone.now() - timedelta(days=2))  # long before
    user = make_user(Role.MANAGER)
    assert "anomalies" not in [p.key for p in incident_panels(incident=incident, user=user)]
    client.force_login(user)
    assert "Related anomalies" not in client.get(f"/incidents/{incident.pk}/").content.decode()
