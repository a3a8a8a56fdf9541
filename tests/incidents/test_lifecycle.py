"""Lifecycle: every legal transition works, every illegal one is refused with a reason; timeline and MTTA/MTTR."""
from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.choices import INCIDENT_TRANSITIONS, IncidentStatus
from incidents.models import Incident, ServiceIncidentSettings
from incidents.selectors import response_times
from incidents.services import (
    IllegalTransition,
    incident_acknowledge,
    incident_add_note,
    incident_assign,
    incident_reopen,
    incident_resolve,
    incident_transition,
)

pytestmark = pytest.mark.django_db
S = IncidentStatus
LEGAL = [(a, b) for a, targets in INCIDENT_TRANSITIONS.items() for b in targets]
ILLEGAL = [(a, b) for a, b in itertools.product(S.values, S.values) if (a, b) not in LEGAL]


def test_the_lifecycle_graph_is_the_documented_one():
    assert set(LEGAL) == {
        (S.TRIGGERED, S.ACKNOWLEDGED), (S.TRIGGERED, S.RESOLVED),
        (S.ACKNOWLEDGED, S.INVESTIGATING), (S.ACKNOWLEDGED, S.MITIGATED), (S.ACKNOWLEDGED, S.RESOLVED),
        (S.INVESTIGATING, S.MITIGATED), (S.INVESTIGATING, S.RESOLVED),
        (S.MITIGATED, S.INVESTIGATING), (S.MITIGATED, S.RESOLVED),
        (S.RESOLVED, S.CLOSED), (S.RESOLVED, S.TRIGGERED),
    }


@pytest.fixture
def incident_in(make_service):
    def make(status: str) -> Incident:
        now = timezone.now()
        return Incident.objects.create(
            title="Checkout errors", service=make_service(), status=status, opened_at=now - timedelta(minutes=10),
            resolved_at=now - timedelta(minutes=1) if status in (S.RESOLVED, S.CLOSED) else None,
        )

    return make


@pytest.mark.parametrize(("source", "target"), LEGAL, ids=[f"{a}_to_{b}" for a, b in LEGAL])
def test_each_legal_transition_is_applied_and_recorded(incident_in, make_user, source, target):
    incident = incident_in(source)
    user = make_user("operator")
    assert incident.can_transition_to(target)
    result = incident_transition(incident=incident, to=target, user=user)
    assert result.status == target
    assert incident.timeline.filter(actor=user, data__new=target, data__old=source).exists()


@pytest.mark.parametrize(("source", "target"), ILLEGAL, ids=[f"{a}_to_{b}" for a, b in ILLEGAL])
def test_each_illegal_transition_is_refused_with_a_reason(incident_in, make_user, source, target):
    incident = incident_in(source)
    assert not incident.can_transition_to(target)
    with pytest.raises(IllegalTransition) as info:
        incident_transition(incident=incident, to=target, user=make_user("operator"))
    assert info.value.status_code == 409 and info.value.message
    incident.refresh_from_db()
    assert incident.status == source and not incident.timeline.exists()


def test_acknowledging_stamps_who_and_when(incident_in, make_user):
    user = make_user("operator")
    incident = incident_acknowledge(incident=incident_in(S.TRIGGERED), user=user)
    assert incident.acknowledged_by == user and incident.acknowledged_at is not None
    assert incident.timeline.get().kind == "acknowledged"


def test_reopening_is_refused_after_the_window(incident_in, make_user):
    incident = incident_in(S.RESOLVED)
    ServiceIncidentSettings.objects.create(service=incident.service, reopen_window_minutes=30)
    Incident.objects.filter(pk=incident.pk).update(resolved_at=timezone.now() - timedelta(hours=2))
    with pytest.raises(IllegalTransition, match="more than 30 minutes ago"):
        incident_reopen(incident=incident.pk, user=make_user("operator"))


def test_reopening_within_the_window_counts_and_clears_the_resolution(incident_in, make_user):
    incident = incident_reopen(incident=incident_in(S.RESOLVED), user=make_user("operator"), note="still broken")
    assert incident.status == S.TRIGGERED and incident.resolved_at is None and incident.reopened_count == 1
    assert incident.timeline.get().kind == "reopened"


def test_assignment_to_a_person_and_a_team_is_recorded(incident_in, make_user, make_team):
    actor, person, team = make_user("operator"), make_user("operator"), make_team("Payments")
    incident = incident_assign(incident=incident_in(S.TRIGGERED), user=actor, assignee=person, team=team)
    assert (incident.assignee, incident.team) == (person, team)
    assert incident.timeline.get().message == f"Assigned to {person.username} and team Payments"


def test_notes_are_timeline_entries(incident_in, make_user):
    incident = incident_in(S.INVESTIGATING)
    incident_add_note(incident=incident, user=make_user("operator"), text="Rolled back release 42")
    assert incident.timeline.get().message == "Rolled back release 42"


def test_mtta_and_mttr_come_from_the_timestamps(make_service):
    now = timezone.now()
    service = make_service()
    for ack_min, fix_min in ((4, 30), (6, 90)):
        opened = now - timedelta(hours=3)
        Incident.objects.create(title="x", service=service, opened_at=opened, status=S.RESOLVED,
                                acknowledged_at=opened + timedelta(minutes=ack_min),
                                resolved_at=opened + timedelta(minutes=fix_min))
    Incident.objects.create(title="open", service=service, opened_at=now)
    times = response_times(since=now - timedelta(days=1))
    assert times.incidents == 3 and times.acknowledged == 2
    assert times.mtta == timedelta(minutes=5) and times.mttr == timedelta(minutes=60)


def test_the_timeline_tells_the_whole_story(make_service, make_user, ingest):
    user = make_user("operator")
    service = make_service()
    opened = ingest(service, labels={"alertname": "A"})
    ingest(service, labels={"alertname": "B"})
    incident_acknowledge(incident=opened.incident_id, user=user)
    incident_add_note(incident=opened.incident_id, user=user, text="looking")
    incident_resolve(incident=opened.incident_id, user=user, note="fixed config")
    kinds = list(Incident.objects.get().timeline.values_list("kind", flat=True))
    assert kinds == ["opened", "alert_joined", "acknowledged", "note", "resolved"]


def test_an_alert_that_reopens_an_incident_stamps_its_own_arrival_not_our_clock(make_service, ingest):
    """A queued or replayed alert reopens its incident for a window counted from when it arrived: stamping the
    wall clock would give the incident a window that is not its own (and two replays different rows)."""
    service = make_service("reopen-svc")
    ServiceIncidentSettings.objects.create(service=service, reopen_window_minutes=60)
    t0 = timezone.now().replace(microsecond=0) - timedelta(days=3)
    first = ingest(service, "Disk full", at=t0, received_at=t0, labels={"alertname": "Disk"})
    cleared = t0 + timedelta(minutes=5)
    ingest(service, "Disk full", at=cleared, received_at=cleared, labels={"alertname": "Disk"}, status="resolved")
    assert Incident.objects.get(pk=first.incident_id).status == S.RESOLVED  # the service auto-resolves
    again = t0 + timedelta(minutes=20)
    second = ingest(service, "Disk full", at=again, received_at=again, labels={"alertname": "Disk"})
    incident = Incident.objects.get(pk=second.incident_id)
    assert incident.pk == first.incident_id and incident.status == S.TRIGGERED and incident.reopened_count == 1
    assert incident.last_received_at == again
