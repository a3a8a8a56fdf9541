"""Exactly-once paging: duplicate notifies and duplicate delivery tasks never page twice; upgrades are notices."""
from __future__ import annotations

import pytest

from core.choices import Role
from incidents.choices import DeliveryKind, DeliveryStatus
from incidents.models import Delivery, UserNotification
from incidents.services import deliveries, notifications
from incidents.services.response import on_severity_changed

pytestmark = pytest.mark.django_db


@pytest.fixture
def team_service(make_user, make_team, make_service):
    team = make_team()
    member = make_user(Role.OPERATOR)
    team.members.add(member)
    return make_service(team=team), member


def test_notifying_the_same_incident_twice_pages_each_person_once(
    team_service, make_incident, django_capture_on_commit_callbacks, mailoutbox
):
    service, member = team_service
    incident = make_incident(severity=3, service=service)

    with django_capture_on_commit_callbacks(execute=True):
        first = notifications.incident_notify(incident_id=incident.pk)
        second = notifications.incident_notify(incident_id=incident.pk)

    assert first.created == 2  # e-mail + in-app
    assert second.created == 0 and second.existing == 2
    assert [m.to for m in mailoutbox] == [[member.email]]
    assert UserNotification.objects.filter(user=member).count() == 1


def test_a_delivery_handed_over_twice_is_sent_once(team_service, make_incident, mailoutbox):
    service, _ = team_service
    incident = make_incident(severity=3, service=service)
    result = notifications.incident_notify(incident_id=incident.pk)  # no on_commit: tasks not run yet
    email = Delivery.objects.get(pk__in=result.delivery_ids, channel="email")

    outcomes = [deliveries.delivery_send(delivery_id=email.pk).status for _ in range(3)]

    assert outcomes == ["sent", "skipped", "skipped"]
    assert len(mailoutbox) == 1


def test_severity_upgrade_sends_an_upgrade_notice_not_a_repeat_page(
    team_service, make_user, make_incident, django_capture_on_commit_callbacks, mailoutbox
):
    service, member = team_service
    manager = make_user(Role.MANAGER)
    incident = make_incident(severity=3, service=service)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.incident_notify(incident_id=incident.pk)
    mailoutbox.clear()

    incident.severity = 2
    incident.save(update_fields=["severity"])
    with django_capture_on_commit_callbacks(execute=True):
        on_severity_changed(incident_id=incident.pk, old=3, new=2)

    subjects = {m.to[0]: m.subject for m in mailoutbox}
    assert set(subjects) == {member.email, manager.email}
    assert all("UPGRADED from L3" in s and s.startswith("[AIOps L2") for s in subjects.values())
    kinds = set(Delivery.objects.filter(incident=incident).values_list("kind", flat=True))
    assert kinds == {DeliveryKind.PAGE, DeliveryKind.UPGRADE}
    assert Delivery.objects.filter(incident=incident, kind=DeliveryKind.PAGE, recipient=member).count() == 2


def test_downgrade_sends_nothing(team_service, make_incident, django_capture_on_commit_callbacks, mailoutbox):
    service, _ = team_service
    incident = make_incident(severity=2, service=service)
    incident.severity = 3
    incident.save(update_fields=["severity"])

    with django_capture_on_commit_callbacks(execute=True):
        on_severity_changed(incident_id=incident.pk, old=2, new=3)

    assert mailoutbox == []


def test_lost_deliveries_are_sent_by_the_sweep(team_service, make_incident, mailoutbox):
    from datetime import timedelta

    from django.utils import timezone

    service, _ = team_service
    incident = make_incident(severity=3, service=service)
    result = notifications.incident_notify(incident_id=incident.pk)  # tasks never enqueued: "lost"
    Delivery.objects.filter(pk__in=result.delivery_ids).update(created_at=timezone.now() - timedelta(minutes=10))

    assert deliveries.deliveries_sweep() == 2
    assert set(Delivery.objects.filter(incident=incident).values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert len(mailoutbox) == 1
