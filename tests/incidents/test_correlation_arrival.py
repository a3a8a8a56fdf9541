"""Correlation windows run on arrival time: an alert's own (old) timestamp never splits its service."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from incidents.choices import CorrelationRule, IncidentStatus
from incidents.models import Alert, Incident

pytestmark = pytest.mark.django_db


def alertmanager(ingest, service, *, started_minutes_ago: int):
    # Alertmanager stamps startsAt when the rule began firing, which may be long before delivery.
    return ingest(service, "Disk full", source_kind="alertmanager", source_name="am",
                  labels={"alertname": "DiskFull"}, at=timezone.now() - timedelta(minutes=started_minutes_ago))


def pagerduty(ingest, service):
    return ingest(service, "Checkout down", source_kind="pagerduty", source_name="pd",
                  labels={"dedup_key": "checkout-1"})


def open_incidents(service) -> list[Incident]:
    return list(Incident.objects.filter(service=service, status=IncidentStatus.TRIGGERED))


def test_an_old_alertmanager_alert_then_a_pagerduty_trigger_share_one_incident(make_service, ingest):
    service = make_service()
    first = alertmanager(ingest, service, started_minutes_ago=45)  # past the 30-minute window
    second = pagerduty(ingest, service)
    assert second.outcome == "joined" and second.incident_id == first.incident_id
    assert Alert.objects.get(pk=second.alert_id).grouped_by == CorrelationRule.SERVICE
    [incident] = open_incidents(service)
    assert incident.grouping_key == f"service:{service.pk}" and incident.alert_count == 2
    # The source's own time is still what the incident shows (MTTD is measured from it).
    assert incident.opened_at == Alert.objects.get(pk=first.alert_id).first_seen


def test_a_pagerduty_trigger_then_an_old_alertmanager_alert_share_one_incident(make_service, ingest):
    service = make_service()
    first = pagerduty(ingest, service)
    second = alertmanager(ingest, service, started_minutes_ago=45)
    assert second.outcome == "joined" and second.incident_id == first.incident_id
    [incident] = open_incidents(service)
    assert incident.grouping_key == f"service:{service.pk}" and incident.alert_count == 2


def test_alerts_arriving_further_apart_than_the_window_open_a_new_incident(make_service, ingest):
    service = make_service()
    start = timezone.now()
    with freeze_time(start):
        first = ingest(service, labels={"alertname": "Latency"})
    with freeze_time(start + timedelta(minutes=31)):
        # Stamped as if it happened with the first one: arrival decides, not the stamp.
        second = ingest(service, labels={"alertname": "Errors"}, at=start)
    assert second.outcome == "opened" and second.incident_id != first.incident_id
    assert len(open_incidents(service)) == 2
