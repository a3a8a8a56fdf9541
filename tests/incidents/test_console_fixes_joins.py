"""Alerts joining an incident someone already works: flagged "new since acknowledged", counted on the incident,
told to the assignee (in-app; a critical one also on their own channels), and a join across services names
the rule and what matched."""
from __future__ import annotations

import pytest

from core.choices import Role
from core.services import service_set_dependencies
from incidents.choices import ChannelKind, CorrelationRule, DeliveryKind
from incidents.models import Alert, Delivery, Incident, UserNotification
from incidents.services import incident_acknowledge, incident_assign

pytestmark = pytest.mark.django_db


@pytest.fixture
def worked(make_service, make_user, ingest, django_capture_on_commit_callbacks):
    """api depends on db; an incident on api, acknowledged and assigned to an operator."""
    db, api = make_service("db"), make_service("api")
    service_set_dependencies(service=api, depends_on=[db])
    operator = make_user(Role.OPERATOR, username="olga")
    with django_capture_on_commit_callbacks(execute=True):
        incident = Incident.objects.get(pk=ingest(api, "Errors", labels={"alertname": "Errors"}).incident_id)
        incident_acknowledge(incident=incident, user=operator)
        incident_assign(incident=incident, user=operator, assignee=operator)
    return incident, operator


def test_a_critical_alert_from_a_dependency_is_flagged_explained_and_told_on_the_persons_channels(
        worked, ingest, django_capture_on_commit_callbacks):
    incident, operator = worked
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest("db", "Replication broken", labels={"alertname": "ReplicationBroken"}, severity_hint="critical")
    assert result.incident_id == incident.pk
    alert = Alert.objects.get(pk=result.alert_id)
    assert alert.joined_after_ack and alert.grouped_by == CorrelationRule.DEPENDENCY
    assert alert.join_explanation == "Dependent service within window (dependency of api)"
    incident.refresh_from_db()
    assert incident.new_since_ack_count == 1
    assert "Dependent service within window: dependency of api" in " ".join(
        incident.timeline.values_list("message", flat=True))
    sent = Delivery.objects.filter(kind=DeliveryKind.JOINED, recipient=operator)
    assert set(sent.values_list("channel", flat=True)) == {ChannelKind.INAPP, ChannelKind.EMAIL}  # default channels
    note = UserNotification.objects.get(user=operator, kind=DeliveryKind.JOINED)
    assert "Replication broken" in note.title and "db" in note.title


def test_a_non_critical_join_is_told_in_app_once_per_storm(worked, ingest, django_capture_on_commit_callbacks):
    incident, operator = worked
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(3):
            ingest("api", f"Latency {i}", labels={"alertname": f"Latency{i}"}, severity_hint="warning")
    incident.refresh_from_db()
    assert incident.new_since_ack_count == 3
    assert Alert.objects.filter(incident=incident, joined_after_ack=True).count() == 3
    sent = Delivery.objects.filter(kind=DeliveryKind.JOINED)
    assert list(sent.values_list("channel", flat=True)) == [ChannelKind.INAPP]  # one notice, in-app only


def test_joins_before_acknowledgement_are_not_flagged(make_service, ingest):
    first = ingest(make_service("web"), "Errors", labels={"alertname": "Errors"})
    second = ingest("web", "Latency", labels={"alertname": "Latency"})
    assert second.incident_id == first.incident_id
    assert not Alert.objects.filter(joined_after_ack=True).exists()
    assert Incident.objects.get().new_since_ack_count == 0
    assert not Delivery.objects.filter(kind=DeliveryKind.JOINED).exists()
