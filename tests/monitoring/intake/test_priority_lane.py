"""The priority lane: a firing critical alert is processed at once, unless its sender has rows queued before it."""
from __future__ import annotations

import json

import pytest
from django.utils import timezone

from incidents.models import Alert
from monitoring.formats import get_parser
from monitoring.models import AlertIntake
from monitoring.services.intake import priority

pytestmark = pytest.mark.django_db


def body(name: str, *, severity: str = "critical", status: str = "firing") -> str:
    return json.dumps({"receiver": "aiops", "status": status, "version": "4", "groupKey": "{}:{}",
                       "alerts": [{"status": status, "labels": {"alertname": name, "severity": severity},
                                   "annotations": {}, "startsAt": timezone.now().isoformat(),
                                   "endsAt": "0001-01-01T00:00:00Z", "fingerprint": name}],
                       "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am"})


def row(integration, name: str, **kwargs) -> AlertIntake:
    return AlertIntake.objects.create(integration=integration, kind="alertmanager", body=body(name, **kwargs),
                                      idempotency_key=name, event_count=1)


@pytest.mark.parametrize(("severity", "status", "expected"), [("critical", "firing", True), ("page", "firing", True),
                                                             ("warning", "firing", False),
                                                             ("critical", "resolved", False)])
def test_only_a_firing_critical_alert_takes_the_lane(make_integration, severity, status, expected):
    integration, _ = make_integration("alertmanager")
    parsed = get_parser("alertmanager").parse(data=json.loads(body("X", severity=severity, status=status)),
                                              integration=integration, received_at=timezone.now())
    assert priority.is_priority(parsed) is expected


def test_a_critical_row_is_processed_at_once_and_only_once(make_integration, make_service):
    integration, _ = make_integration("alertmanager", service=make_service(tier=1))
    critical = row(integration, "PaymentsDown")
    assert priority.alert_intake_process_priority(intake_id=critical.pk).status == "processed"
    assert Alert.objects.filter(labels__alertname="PaymentsDown").count() == 1
    assert priority.alert_intake_process_priority(intake_id=critical.pk) is None  # done: not again
    assert AlertIntake.objects.get(pk=critical.pk).attempts == 1


def test_a_critical_row_waits_for_its_own_senders_earlier_rows(make_integration):
    integration, _ = make_integration("alertmanager")
    other, _ = make_integration("alertmanager")
    row(other, "Storm")  # another sender's backlog does not hold it...
    earlier = row(integration, "Earlier", severity="warning")  # ...its own sender's does
    critical = row(integration, "PaymentsDown")
    assert priority.alert_intake_process_priority(intake_id=critical.pk) is None
    assert AlertIntake.objects.get(pk=critical.pk).status == "queued"
    AlertIntake.objects.filter(pk=earlier.pk).update(status="processed")
    assert priority.alert_intake_process_priority(intake_id=critical.pk).status == "processed"
