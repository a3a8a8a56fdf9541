"""Root cause on a real incident: alerts and the service graph, anomaly evidence from monitoring's provider,
the panel on the page and the API."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from core.choices import Role
from core.services import service_set_dependencies
from incidents.services.rootcause import incident_rootcause
from monitoring.models import Anomaly

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def shop(make_service):
    db, api, web = make_service("rc-db"), make_service("rc-api"), make_service("rc-web")
    service_set_dependencies(service=api, depends_on=[db])
    service_set_dependencies(service=web, depends_on=[api])
    return {"db": db, "api": api, "web": web}


def _anomaly(series, *, at, value, expected=100.0, half=10.0, direction="up"):
    return Anomaly.objects.create(series=series, ts=at, value=value, score=0.99, expected=expected,
                                  lower=expected - half, upper=expected + half, direction=direction,
                                  detector="test")


def test_without_telemetry_the_ranking_comes_from_alerts_and_says_so(shop, make_incident, make_alert):
    incident = make_incident(service=shop["web"], title="web errors")
    make_alert(incident=incident, service=shop["db"], title="db connections exhausted", severity_hint="critical")
    data = incident_rootcause(incident=incident)
    assert data["basis"] == "alerts"
    assert "alerts" in data["note"].lower()
    assert data["candidates"][0]["service"] == "rc-db"
    assert data["candidates"][0]["path"] == ["rc-web", "rc-api", "rc-db"]


def test_anomalies_handed_over_by_monitoring_rank_the_callee_first(shop, make_incident, make_series):
    now = timezone.now()
    incident = make_incident(service=shop["web"], title="web slow", opened_at=now)
    db_latency = make_series(service=shop["db"], metric="latency_ms")
    web_latency = make_series(service=shop["web"], metric="latency_ms")
    api_latency = make_series(service=shop["api"], metric="latency_ms")
    _anomaly(db_latency, at=now - timedelta(minutes=10), value=180)
    _anomaly(api_latency, at=now - timedelta(minutes=5), value=400)
    _anomaly(web_latency, at=now - timedelta(minutes=4), value=500)
    data = incident_rootcause(incident=incident)
    assert data["basis"] == "telemetry"
    top = data["candidates"][0]
    assert top["service"] == "rc-db"
    assert top["metrics"][0]["metric"] == "latency_ms" and top["metrics"][0]["z"] > 3
    assert top["onset"].startswith((now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M"))


def test_a_joining_alert_changes_the_ranking_on_the_next_read(shop, make_incident, make_alert):
    incident = make_incident(service=shop["web"], title="web errors")
    assert incident_rootcause(incident=incident)["candidates"][0]["service"] == "rc-web"
    make_alert(incident=incident, service=shop["db"], title="db down", severity_hint="critical")
    incident.alert_count += 1
    incident.last_alert_at = timezone.now() + timedelta(seconds=1)
    incident.save()
    assert incident_rootcause(incident=incident)["candidates"][0]["service"] == "rc-db"


def test_the_page_and_the_api_show_the_candidates(shop, make_incident, make_alert, client_as, make_user, client):
    incident = make_incident(service=shop["web"], title="web errors")
    make_alert(incident=incident, service=shop["db"], title="db down", severity_hint="critical")
    api = client_as(Role.EXECUTIVE)
    response = api.get(f"/api/v1/incidents/{incident.pk}/rootcause/")
    assert response.status_code == 200
    assert response.json()["candidates"][0]["service"] == "rc-db"
    assert api.get("/api/v1/incidents/999999/rootcause/").status_code == 404
    client.force_login(make_user(Role.OPERATOR))
    body = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Probable root cause" in body and "rc-web → rc-api → rc-db" in body
