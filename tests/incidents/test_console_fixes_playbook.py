"""Playbook and lifecycle agree: a step owned by a role is ticked by that role, lifecycle steps tick themselves,
and resolving can skip the open steps with a reason that is recorded."""
from __future__ import annotations

import pytest

from core.choices import Role
from incidents.choices import IncidentStatus, PlaybookPhase, StepStatus
from incidents.models import Incident, PlaybookStepRun
from incidents.services import incident_acknowledge, incident_resolve
from incidents.services.playbooks import playbook_attach

pytestmark = pytest.mark.django_db


@pytest.fixture
def level1(make_incident):
    """A Level 1 incident with the default Level 1 playbook attached (steps for operators and managers)."""
    incident = make_incident(severity=1)
    playbook_attach(incident_id=incident.pk)
    return incident


def step(incident, owner, *, phase=None):
    steps = PlaybookStepRun.objects.filter(run__incident=incident, owner_role=owner, status=StepStatus.PENDING)
    return (steps.filter(phase=phase) if phase else steps).order_by("position").first()


def test_a_manager_ticks_a_manager_step_but_not_an_operators(level1, client, make_user):
    client.force_login(make_user(Role.MANAGER))
    mine, theirs = step(level1, Role.MANAGER), step(level1, Role.OPERATOR)
    assert client.post(f"/incidents/{level1.pk}/playbook/steps/{mine.pk}/done/").status_code == 302
    assert client.post(f"/incidents/{level1.pk}/playbook/steps/{theirs.pk}/done/").status_code == 403
    mine.refresh_from_db(), theirs.refresh_from_db()
    assert mine.status == StepStatus.DONE and theirs.status == StepStatus.PENDING
    page = client.get(f"/incidents/{level1.pk}/").content.decode()
    assert f'aria-label="Done: {step(level1, Role.MANAGER).title}"' in page  # offered on the manager's steps only
    assert f'aria-label="Done: {theirs.title}"' not in page


def test_the_api_lets_a_manager_tick_only_manager_steps(level1, client_as):
    manager = client_as(Role.MANAGER)
    url = f"/api/v1/incidents/{level1.pk}/playbook/steps/{{}}/done/"
    assert manager.post(url.format(step(level1, Role.MANAGER).pk), {}, format="json").status_code == 200
    refused = manager.post(url.format(step(level1, Role.OPERATOR).pk), {}, format="json")
    assert refused.status_code == 403 and "operator" in refused.json()["detail"]
    assert client_as(Role.EXECUTIVE).post(url.format(step(level1, Role.MANAGER).pk), {}, format="json") \
        .status_code == 403


def test_acknowledging_ticks_the_acknowledge_step(level1, make_user):
    ack = PlaybookStepRun.objects.get(run__incident=level1, ticks_on=IncidentStatus.ACKNOWLEDGED)
    assert "acknowledge it" in ack.title
    operator = make_user(Role.OPERATOR)
    incident_acknowledge(incident=level1, user=operator)
    ack.refresh_from_db()
    assert ack.status == StepStatus.DONE and ack.done_by == operator
    assert level1.timeline.filter(message__contains="done (the incident was acknowledged)").exists()


def test_a_playbook_attached_after_acknowledgement_starts_with_that_step_done(make_incident, make_user):
    incident = make_incident(severity=3)
    incident_acknowledge(incident=incident, user=make_user(Role.OPERATOR))
    playbook_attach(incident_id=incident.pk)
    ack = PlaybookStepRun.objects.get(run__incident=incident, ticks_on=IncidentStatus.ACKNOWLEDGED)
    assert ack.status == StepStatus.DONE


def test_resolving_skips_open_steps_with_the_reason_recorded(level1, client_as):
    operator = client_as(Role.OPERATOR)
    missing = operator.post(f"/api/v1/incidents/{level1.pk}/resolve/", {"open_steps": "skip"}, format="json")
    assert missing.status_code == 400 and missing.json()["field"] == "skip_reason"
    assert Incident.objects.get(pk=level1.pk).status == IncidentStatus.TRIGGERED  # nothing half-done
    done = operator.post(f"/api/v1/incidents/{level1.pk}/resolve/",
                         {"open_steps": "skip", "skip_reason": "false alarm: a test probe"}, format="json")
    assert done.status_code == 200
    steps = PlaybookStepRun.objects.filter(run__incident=level1)
    assert not steps.exclude(phase=PlaybookPhase.POST_INCIDENT).filter(status=StepStatus.PENDING).exists()
    skipped = steps.filter(status=StepStatus.SKIPPED)
    assert skipped.count() > 5 and all(s.result["skip_reason"] == "false alarm: a test probe" for s in skipped)
    assert steps.filter(phase=PlaybookPhase.POST_INCIDENT, status=StepStatus.PENDING).count() == 3  # after resolving
    assert level1.timeline.filter(message__contains="skipped: false alarm").count() == skipped.count()


def test_resolving_without_a_decision_leaves_steps_open(level1):
    incident_resolve(incident=level1, note="fixed")
    assert PlaybookStepRun.objects.filter(run__incident=level1, status=StepStatus.SKIPPED).count() == 0


def test_the_page_offers_to_skip_open_steps_and_records_it(level1, client, make_user):
    client.force_login(make_user(Role.OPERATOR))
    page = client.get(f"/incidents/{level1.pk}/").content.decode()
    assert "still open. Before resolving" in page
    client.post(f"/incidents/{level1.pk}/playbook/skip-open/", {"skip_reason": "duplicate of #1"})
    assert PlaybookStepRun.objects.filter(run__incident=level1, result__skip_reason="duplicate of #1").exists()
