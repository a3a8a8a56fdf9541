"""Signals become alerts: deduplication by fingerprint, resolution, acknowledgement and validation."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.choices import AlertStatus, IncidentStatus
from incidents.contracts import InvalidSignal, SignalIn, derive_fingerprint
from incidents.models import Alert, Incident, TimelineEvent
from incidents.services import signal_ingest, signals_ingest

pytestmark = pytest.mark.django_db


def test_repeats_of_a_firing_signal_are_one_alert_with_a_counter(make_service, ingest):
    service = make_service()
    first = ingest(service, labels={"alertname": "Errors"})
    t = timezone.now() + timedelta(seconds=30)
    second = ingest(service, labels={"alertname": "Errors"}, at=t)
    assert (first.outcome, second.outcome) == ("opened", "deduplicated")
    alert = Alert.objects.get()
    assert alert.count == 2
    assert alert.last_seen == t
    assert second.alert_id == first.alert_id and second.incident_id == first.incident_id
    assert Incident.objects.count() == 1


def test_an_explicit_fingerprint_wins_over_labels(make_service, ingest):
    service = make_service()
    a = ingest(service, fingerprint="fp-1", labels={"pod": "a"})
    b = ingest(service, fingerprint="fp-1", labels={"pod": "b"})
    assert b.outcome == "deduplicated" and a.alert_id == b.alert_id


def test_volatile_labels_do_not_change_the_derived_fingerprint():
    one = derive_fingerprint(source_kind="generic", service="api", labels={"alertname": "X", "value": "1"}, title="t")
    two = derive_fingerprint(source_kind="generic", service="api", labels={"alertname": "X", "value": "9"}, title="u")
    other = derive_fingerprint(source_kind="generic", service="api", labels={"alertname": "Y"}, title="t")
    assert one == two != other


def test_a_resolved_signal_resolves_the_alert_and_auto_resolves_the_incident(make_service, ingest):
    service = make_service()
    opened = ingest(service, labels={"alertname": "Errors"})
    result = ingest(service, labels={"alertname": "Errors"}, status="resolved")
    assert result.outcome == "resolved"
    assert Alert.objects.get().status == AlertStatus.RESOLVED
    incident = Incident.objects.get(pk=opened.incident_id)
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.resolved_at is not None


def test_a_resolved_signal_for_an_unknown_alert_stores_nothing(make_service, ingest):
    result = ingest(make_service(), labels={"alertname": "Never"}, status="resolved")
    assert result.alert_id is None and not Alert.objects.exists()


def test_an_acknowledged_signal_acknowledges_the_incident_of_the_open_alert(make_service, ingest):
    service = make_service()
    opened = ingest(service, labels={"alertname": "Errors"})
    result = ingest(service, labels={"alertname": "Errors"}, status="acknowledged", source_name="pagerduty-bridge")
    assert result.outcome == "acknowledged" and result.incident_id == opened.incident_id
    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.ACKNOWLEDGED and incident.acknowledged_at is not None
    assert incident.timeline.filter(kind="acknowledged", actor_name="pagerduty-bridge").exists()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        pytest.param({"title": "  "}, "title", id="missing_title"),
        pytest.param({"service": ""}, "service", id="missing_service"),
        pytest.param({"service": "no-such-service"}, "service", id="unknown_service"),
        pytest.param({"severity_hint": "apocalyptic"}, "severity_hint", id="unknown_severity"),
        pytest.param({"payload": {"blob": "x" * (513 * 1024)}}, "payload", id="payload_over_512kb"),
        pytest.param({"occurred_at": timezone.now().replace(tzinfo=None)}, "occurred_at", id="naive_timestamp"),
        pytest.param({"occurred_at": timezone.now() + timedelta(days=3)}, "occurred_at", id="future_timestamp"),
        pytest.param({"status": "exploded"}, "status", id="unknown_status"),
        pytest.param({"source_kind": "carrier-pigeon"}, "source_kind", id="unknown_source_kind"),
    ],
)
def test_invalid_signals_name_the_field_and_store_nothing(make_service, override, field):
    service = make_service()
    values = {"source_kind": "generic", "source_name": "t", "service": service.name, "title": "Errors", **override}
    with pytest.raises(InvalidSignal) as info:
        signal_ingest(signal=SignalIn(**values))
    assert info.value.field == field
    assert not Alert.objects.exists() and not Incident.objects.exists() and not TimelineEvent.objects.exists()


def test_severity_aliases_are_normalised(make_service, ingest):
    service = make_service()
    ingest(service, labels={"a": "1"}, severity_hint="error")
    ingest(service, labels={"a": "2"}, severity_hint="LOW")
    assert set(Alert.objects.values_list("severity_hint", flat=True)) == {"high", "info"}


def test_a_batch_with_one_bad_signal_stores_nothing(make_service, signal):
    service = make_service()
    batch = [signal(service, labels={"a": "1"}), signal(service, title="")]
    with pytest.raises(InvalidSignal) as info:
        signals_ingest(signals=batch)
    assert info.value.field == "title" and "Signal 1" in info.value.message
    assert not Alert.objects.exists()


def test_a_batch_naming_an_unknown_service_stores_nothing(make_service, signal):
    service = make_service()
    batch = [signal(service, labels={"a": "1"}), signal(service, labels={"a": "2"}), signal("no-such-service")]
    with pytest.raises(InvalidSignal) as info:
        signals_ingest(signals=batch)
    assert info.value.field == "service" and "Signal 2" in info.value.message
    assert not Alert.objects.exists() and not Incident.objects.exists()
