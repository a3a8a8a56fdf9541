"""Correlation: fingerprint, same service, dependency graph and label rules, each recorded on the alert."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from freezegun import freeze_time

from core.services import service_set_dependencies
from incidents.choices import CorrelationRule, IncidentStatus
from incidents.models import Alert, GroupingRule, Incident, ServiceIncidentSettings
from incidents.services import incident_resolve

pytestmark = pytest.mark.django_db


def grouped_by(result):
    return Alert.objects.get(pk=result.alert_id).grouped_by


def test_a_recurring_fingerprint_joins_its_open_incident(make_service, ingest):
    service = make_service()
    ServiceIncidentSettings.objects.create(service=service, flap_window_minutes=1, correlation_window_minutes=5)
    t0 = timezone.now() - timedelta(hours=2)
    opened = ingest(service, labels={"alertname": "A"}, at=t0)
    ingest(service, labels={"alertname": "B"}, at=t0)  # keeps the incident open
    ingest(service, labels={"alertname": "A"}, status="resolved", at=t0 + timedelta(minutes=1))
    # Long after the service window, the same fault comes back: fingerprint still groups it.
    again = ingest(service, labels={"alertname": "A"}, at=t0 + timedelta(minutes=90))
    assert again.incident_id == opened.incident_id
    assert grouped_by(again) == CorrelationRule.FINGERPRINT


def test_alerts_on_the_same_service_within_the_window_share_an_incident(make_service, ingest):
    service = make_service()
    first = ingest(service, labels={"alertname": "Latency"})
    second = ingest(service, labels={"alertname": "Errors"})
    assert second.outcome == "joined" and second.incident_id == first.incident_id
    assert grouped_by(first) == CorrelationRule.OPENED
    assert grouped_by(second) == CorrelationRule.SERVICE
    assert Incident.objects.get().alert_count == 2


def test_alerts_on_the_same_service_outside_the_window_open_a_new_incident(make_service, ingest):
    service = make_service()
    ServiceIncidentSettings.objects.create(service=service, correlation_window_minutes=10)
    t0 = timezone.now() - timedelta(hours=1)
    with freeze_time(t0):  # windows run on arrival time
        first = ingest(service, labels={"alertname": "Latency"})
    with freeze_time(t0 + timedelta(minutes=30)):
        second = ingest(service, labels={"alertname": "Errors"})
    assert second.outcome == "opened" and second.incident_id != first.incident_id
    # Both stay open; the stale one gave up its grouping key.
    assert Incident.objects.filter(status=IncidentStatus.TRIGGERED).count() == 2


def test_an_alert_on_a_dependency_joins_the_dependent_services_incident(make_service, ingest):
    db = make_service("db")
    api = make_service("api")
    service_set_dependencies(service=api, depends_on=[db])
    first = ingest(api, labels={"alertname": "Errors"})
    second = ingest(db, labels={"alertname": "SlowQueries"})
    assert second.incident_id == first.incident_id
    assert grouped_by(second) == CorrelationRule.DEPENDENCY
    timeline = Incident.objects.get().timeline.values_list("message", flat=True)
    assert any("dependency of api" in m for m in timeline)


def test_unrelated_services_get_separate_incidents(make_service, ingest):
    first = ingest(make_service(), labels={"alertname": "Errors"})
    second = ingest(make_service(), labels={"alertname": "Errors"})
    assert second.outcome == "opened" and second.incident_id != first.incident_id


def test_a_label_rule_groups_alerts_across_services(make_service, ingest):
    GroupingRule.objects.create(name="by cluster", labels=["cluster"])
    first = ingest(make_service(), labels={"alertname": "NodeDown", "cluster": "eu-1"})
    second = ingest(make_service(), labels={"alertname": "PodCrash", "cluster": "eu-1"})
    other = ingest(make_service(), labels={"alertname": "PodCrash", "cluster": "us-1"})
    assert second.incident_id == first.incident_id != other.incident_id
    alert = Alert.objects.get(pk=second.alert_id)
    assert alert.grouped_by == CorrelationRule.LABELS and alert.grouping_rule.name == "by cluster"


def test_a_label_rule_only_applies_to_alerts_carrying_all_its_labels(make_service, ingest):
    GroupingRule.objects.create(name="cluster+alert", labels=["cluster", "alertname"])
    first = ingest(make_service(), labels={"alertname": "NodeDown"})
    second = ingest(make_service(), labels={"alertname": "NodeDown"})
    assert second.incident_id != first.incident_id
    assert grouped_by(second) == CorrelationRule.OPENED


def test_a_returning_alert_reopens_a_recently_resolved_incident(make_service, make_user, ingest):
    service = make_service()
    ServiceIncidentSettings.objects.create(service=service, flap_window_minutes=1, reopen_window_minutes=60)
    t0 = timezone.now() - timedelta(minutes=30)
    opened = ingest(service, labels={"alertname": "A"}, at=t0)
    ingest(service, labels={"alertname": "A"}, status="resolved", at=t0 + timedelta(minutes=5))
    assert Incident.objects.get().status == IncidentStatus.RESOLVED
    again = ingest(service, labels={"alertname": "A"}, at=t0 + timedelta(minutes=20))
    incident = Incident.objects.get()
    assert again.incident_id == opened.incident_id and incident.status == IncidentStatus.TRIGGERED
    assert incident.reopened_count == 1 and grouped_by(again) == CorrelationRule.REOPENED


def test_the_database_refuses_two_open_incidents_with_one_grouping_key(make_service):
    service = make_service()
    Incident.objects.create(title="a", service=service, grouping_key="service:x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.create(title="b", service=service, grouping_key="service:x")
    # A resolved incident does not hold its key.
    Incident.objects.update(status=IncidentStatus.RESOLVED)
    Incident.objects.create(title="c", service=service, grouping_key="service:x")


def test_the_database_refuses_two_firing_alerts_with_one_fingerprint(make_service):
    service = make_service()
    now = timezone.now()
    Alert.objects.create(fingerprint="f", source_kind="generic", service=service, title="a", first_seen=now,
                         last_seen=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(fingerprint="f", source_kind="generic", service=service, title="a", first_seen=now,
                             last_seen=now)


def test_a_manually_resolved_incident_does_not_collect_new_alerts(make_service, make_user, ingest):
    service = make_service()
    first = ingest(service, labels={"alertname": "A"})
    incident_resolve(incident=first.incident_id, user=make_user("operator"))
    second = ingest(service, labels={"alertname": "B"})
    assert second.outcome == "opened" and second.incident_id != first.incident_id


def test_an_old_stamped_signal_joins_the_incident_open_now_keeping_its_own_time(make_service, ingest):
    # Windows run on arrival: a signal stamped hours ago (a late delivery, a replay) belongs with
    # what its service is going through now, rather than a second incident that pages again.
    service = make_service()
    ServiceIncidentSettings.objects.create(service=service, correlation_window_minutes=10)
    now = timezone.now()
    later = ingest(service, labels={"alertname": "A"}, at=now - timedelta(minutes=5))
    replayed = ingest(service, labels={"alertname": "B"}, at=now - timedelta(hours=3))
    assert replayed.incident_id == later.incident_id
    assert Alert.objects.get(pk=replayed.alert_id).first_seen == now - timedelta(hours=3)


def test_an_incident_another_worker_opened_meanwhile_is_joined_not_renamed(make_service, ingest, monkeypatch):
    from incidents.services import correlation

    service = make_service()
    now = timezone.now()
    racer = Incident.objects.create(title="racer", service=service, grouping_key=f"service:{service.pk}",
                                    opened_at=now, last_alert_at=now, alert_count=1)
    real_open, looks = correlation._open, []

    def committed_after_the_first_look(queryset):
        looks.append(queryset)
        return real_open(queryset).exclude(pk=racer.pk) if len(looks) == 1 else real_open(queryset)

    monkeypatch.setattr(correlation, "_open", committed_after_the_first_look)
    result = ingest(service, labels={"alertname": "Errors"}, at=now)
    assert result.outcome == "joined" and result.incident_id == racer.pk
    assert Incident.objects.get().grouping_key == f"service:{service.pk}"
