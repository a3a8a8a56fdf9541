"""Escalation on a controlled clock: unacknowledged incidents notify the next tier; acknowledging stops it."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from core.choices import Role
from incidents import tasks
from incidents.choices import DeliveryKind, EscalationStatus, IncidentStatus
from incidents.models import Delivery, Escalation
from incidents.services import escalation
from incidents.services.response import on_incident_acknowledged

pytestmark = pytest.mark.django_db

START = "2026-03-02 09:00:00+00:00"


@pytest.fixture
def org(make_user, make_team, make_service):
    team = make_team()
    member = make_user(Role.OPERATOR)
    team.members.add(member)
    return {
        "service": make_service(team=team),
        "member": member,
        "manager": make_user(Role.MANAGER),
        "executive": make_user(Role.EXECUTIVE),
    }


def escalation_mails(incident, user):
    return Delivery.objects.filter(incident=incident, kind=DeliveryKind.ESCALATION, recipient=user, channel="email")


@pytest.fixture(autouse=True)
def _send_after_commit(django_capture_on_commit_callbacks):
    """Run what escalation enqueues after commit (deliveries; eager here) at the end of each test block."""
    global _capture
    _capture = django_capture_on_commit_callbacks


def fire_due(when):
    """What the countdown task does at its time: run the timer with the token it was given."""
    state = Escalation.objects.get()
    with freeze_time(when), _capture(execute=True):
        return tasks.escalate_incident(state.incident_id, state.active_token)


def test_level_2_not_acknowledged_in_15_minutes_escalates_to_executives(org, make_incident, mailoutbox):
    with freeze_time(START):
        incident = make_incident(severity=2, service=org["service"])
        escalation.escalation_start(incident_id=incident.pk)
    start = timezone.datetime.fromisoformat(START)

    assert fire_due(start + timedelta(minutes=14)) == "early"
    assert not Delivery.objects.filter(kind=DeliveryKind.ESCALATION).exists()

    assert fire_due(start + timedelta(minutes=15)) == "escalated"
    assert escalation_mails(incident, org["executive"]).count() == 1
    assert escalation_mails(incident, org["manager"]).count() == 1
    assert any("ESCALATION 1" in m.subject and org["executive"].email in m.to for m in mailoutbox)
    state = Escalation.objects.get()
    assert state.step == 1
    assert state.next_at == start + timedelta(minutes=30)


def test_escalation_repeats_up_to_the_policy_limit_then_stops(org, make_incident):
    with freeze_time(START):
        incident = make_incident(severity=1, service=org["service"])
        escalation.escalation_start(incident_id=incident.pk)
    start = timezone.datetime.fromisoformat(START)

    outcomes = [fire_due(start + timedelta(minutes=5 * n)) for n in (1, 2, 3)]

    assert outcomes == ["escalated"] * 3
    state = Escalation.objects.get()
    assert state.status == EscalationStatus.EXHAUSTED and state.step == 3
    assert escalation_mails(incident, org["executive"]).count() == 3  # steps 1, 2, 3: one each, never twice


def test_acknowledging_stops_the_escalation(org, make_incident):
    with freeze_time(START):
        incident = make_incident(severity=1, service=org["service"])
        escalation.escalation_start(incident_id=incident.pk)
    token = Escalation.objects.get().active_token

    with freeze_time("2026-03-02 09:02:00+00:00"):
        incident.status = IncidentStatus.ACKNOWLEDGED
        incident.acknowledged_at = timezone.now()
        incident.save(update_fields=["status", "acknowledged_at"])
        on_incident_acknowledged(incident_id=incident.pk)
    with freeze_time("2026-03-02 09:10:00+00:00"):
        assert tasks.escalate_incident(incident.pk, token) == "stale"

    assert Escalation.objects.get().status == EscalationStatus.STOPPED
    assert not Delivery.objects.filter(kind=DeliveryKind.ESCALATION).exists()


def test_acknowledged_incident_found_by_a_late_timer_stops_without_notifying(org, make_incident):
    with freeze_time(START):
        incident = make_incident(severity=1, service=org["service"])
        escalation.escalation_start(incident_id=incident.pk)
    Incident = type(incident)
    Incident.objects.filter(pk=incident.pk).update(status=IncidentStatus.ACKNOWLEDGED, acknowledged_at=timezone.now())

    assert fire_due("2026-03-02 09:06:00+00:00") == "stopped"
    assert not Delivery.objects.filter(kind=DeliveryKind.ESCALATION).exists()


def test_duplicate_escalation_tasks_send_one_notification(org, make_incident):
    with freeze_time(START):
        incident = make_incident(severity=2, service=org["service"])
        escalation.escalation_start(incident_id=incident.pk)
    token = Escalation.objects.get().active_token

    with freeze_time("2026-03-02 09:16:00+00:00"):
        outcomes = [tasks.escalate_incident(incident.pk, token) for _ in range(3)]

    assert outcomes == ["escalated", "stale", "stale"]
    assert escalation_mails(incident, org["executive"]).count() == 1


def test_the_sweep_runs_a_due_timer_from_the_database_once(org, make_incident):
    """No broker message is needed: the row is the timer (a Redis restart loses no escalation)."""
    with freeze_time(START):
        incident = make_incident(severity=1, service=org["service"])
        escalation.escalation_start(incident_id=incident.pk)

    with freeze_time("2026-03-02 09:04:55+00:00"), _capture(execute=True):
        assert escalation.escalations_sweep() == 0  # not due yet
    with freeze_time("2026-03-02 09:05:03+00:00"), _capture(execute=True):
        assert escalation.escalations_sweep() == 1
    with freeze_time("2026-03-02 09:05:08+00:00"), _capture(execute=True):
        assert escalation.escalations_sweep() == 0  # the next step is due at 09:10:03, not now

    state = Escalation.objects.get()
    assert state.step == 1
    assert escalation_mails(incident, org["executive"]).count() == 1


def test_level_4_never_escalates(org, make_incident):
    incident = make_incident(severity=4, service=org["service"])

    assert escalation.escalation_start(incident_id=incident.pk) is None
    assert not Escalation.objects.exists()
