"""The incident core's real paths drive the response.

Open → playbook + page, override up → upgrade notice, ack → stop.
"""
from __future__ import annotations

import pytest

from core.choices import Role, Tier
from incidents.choices import DeliveryKind, EscalationStatus
from incidents.contracts import SignalIn
from incidents.models import Delivery, Escalation, Incident, PlaybookRun
from incidents.services import incident_acknowledge, signal_ingest
from incidents.services.severity import incident_override_severity

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(make_user, make_team, make_service):
    team = make_team()
    oncall = make_user(Role.OPERATOR, username="oncall")
    team.members.add(oncall)
    return {"service": make_service("search-api", team=team, tier=Tier.TIER_3), "oncall": oncall,
            "boss": make_user(Role.MANAGER, username="boss"), "exec": make_user(Role.EXECUTIVE, username="exec")}


def mail_to(mailoutbox, username):
    return [m.subject for m in mailoutbox if m.to == [f"{username}@example.com"]]


def test_signal_opens_an_incident_with_a_playbook_pages_then_upgrade_and_ack(org, mailoutbox, run_on_commit):
    with run_on_commit(execute=True):
        result = signal_ingest(signal=SignalIn(source_kind="generic", source_name="probe", service="search-api",
                                               title="Search latency p99 3s", severity_hint="warning"))
    incident = Incident.objects.get(pk=result.incident_id)
    assert PlaybookRun.objects.filter(incident=incident).exists()
    paged = {m.to[0] for m in mailoutbox}
    assert "oncall@example.com" in paged and "exec@example.com" not in paged
    level = incident.severity

    mailoutbox.clear()
    with run_on_commit(execute=True):
        incident_override_severity(incident=incident, level=1, reason="customers cannot search", user=org["oncall"])

    upgrade = mail_to(mailoutbox, "exec")
    assert len(upgrade) == 1 and upgrade[0].startswith("[AIOps L1 Critical] UPGRADED from L")
    assert mail_to(mailoutbox, "oncall")[0].startswith("[AIOps L1 Critical] UPGRADED")  # a notice, not a page
    assert Delivery.objects.filter(incident=incident, kind=DeliveryKind.PAGE, recipient=org["oncall"],
                                   level=level).count() == 2  # e-mail + in-app, from the first page only
    assert Escalation.objects.get(incident=incident).level == 1

    with run_on_commit(execute=True):
        incident_acknowledge(incident=incident, user=org["oncall"])

    assert Escalation.objects.get(incident=incident).status == EscalationStatus.STOPPED


def test_resolving_tells_whoever_was_paged_once_on_the_same_channels(org, mailoutbox, run_on_commit):
    from incidents.models import NotificationPreference
    from incidents.services import incident_resolve

    NotificationPreference.objects.create(user=org["oncall"], channels=["inapp"])
    with run_on_commit(execute=True):
        result = signal_ingest(signal=SignalIn(source_kind="generic", source_name="probe", service="search-api",
                                               title="Search down", severity_hint="critical"))
    incident = Incident.objects.get(pk=result.incident_id)
    mailoutbox.clear()

    with run_on_commit(execute=True):
        incident_resolve(incident=incident, user=org["oncall"], note="rolled back")

    resolved = Delivery.objects.filter(incident=incident, kind=DeliveryKind.RESOLVED)
    assert set(resolved.filter(recipient=org["oncall"]).values_list("channel", flat=True)) == {"inapp"}
    assert all(m.subject.startswith(f"[AIOps L{incident.severity}") and "RESOLVED: Search down" in m.subject
               for m in mailoutbox)
    paged = Delivery.objects.filter(incident=incident, kind=DeliveryKind.PAGE, channel="email")
    assert {m.to[0] for m in mailoutbox} == set(paged.values_list("address", flat=True))
    assert Escalation.objects.get(incident=incident).status == EscalationStatus.STOPPED
