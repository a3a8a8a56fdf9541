"""Built-in playbook actions: silence the incident's service for a while, escalate now, call a signed webhook."""
from __future__ import annotations

import pytest

from core.choices import Role
from incidents.choices import DeliveryKind
from incidents.models import Delivery, Escalation, Silence
from incidents.notifications.webhook import verify
from incidents.playbooks.actions import get_action

pytestmark = pytest.mark.django_db


def test_silence_for_mutes_the_incident_service_for_the_given_minutes(make_incident):
    incident = make_incident(severity=3)

    result = get_action("silence_for")(incident=incident, params={"minutes": 30})

    assert result.ok
    silence = Silence.objects.get(pk=result.data["silence_id"])
    assert silence.matchers == [{"label": "service", "op": "=", "value": incident.service.name}]
    assert round((silence.ends_at - silence.starts_at).total_seconds() / 60) == 30


def test_silence_for_refuses_an_unbounded_silence(make_incident):
    result = get_action("silence_for")(incident=make_incident(severity=3), params={"minutes": 100_000})

    assert not result.ok and "minutes" in result.detail
    assert not Silence.objects.exists()


def test_escalate_now_pages_the_next_tier_at_once(make_incident, make_user, make_service, make_team, run_on_commit):
    team = make_team()
    team.members.add(make_user(Role.OPERATOR))
    executive = make_user(Role.EXECUTIVE)
    incident = make_incident(severity=2, service=make_service(team=team))

    with run_on_commit(execute=True):
        result = get_action("escalate_now")(incident=incident, params={})

    assert result.ok and result.data["step"] == 1
    assert Delivery.objects.filter(incident=incident, kind=DeliveryKind.ESCALATION, recipient=executive).exists()
    assert Escalation.objects.get(incident=incident).step == 1


def test_call_webhook_posts_signed_incident_facts(make_incident, http_receiver):
    incident = make_incident(severity=2, title="Queue backlog")

    result = get_action("call_webhook")(incident=incident, params={
        "url": http_receiver.url, "secret": "abc", "payload": {"runbook": "scale-consumers"}})

    assert result.ok
    [request] = http_receiver.requests
    assert verify(request.body, "abc", request.headers["X-AIOps-Signature"])
    assert request.json == {"incident": {"id": incident.pk, "title": "Queue backlog", "severity": 2,
                                         "service": incident.service.name}, "runbook": "scale-consumers"}
