"""The beat sweep on a controlled clock: claimed deliveries carry a short lease, a dead sender's row is
sent again within seconds (once), and due escalations run from the database without any broker message."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from core.choices import Role
from incidents import tasks
from incidents.choices import ChannelKind, DeliveryKind, DeliveryStatus, EscalationStatus
from incidents.models import ChannelEndpoint, Delivery, Escalation
from incidents.services import deliveries, escalation

pytestmark = pytest.mark.django_db

T0 = "2026-03-02 09:00:00+00:00"


@pytest.fixture
def lease_settings(settings):
    settings.NOTIFY_LEASE_MARGIN_SECONDS = 5.0
    settings.NOTIFY_PENDING_GRACE_SECONDS = 15.0
    return settings


def webhook_delivery(url: str, make_incident, *, timeout: float = 5.0) -> Delivery:
    incident = make_incident(severity=1)
    endpoint = ChannelEndpoint.objects.create(name=f"hook-{incident.pk}", kind=ChannelKind.WEBHOOK, url=url,
                                              secret="k", timeout_seconds=timeout)
    return Delivery.objects.create(key=f"page:i{incident.pk}:webhook:e{endpoint.pk}", incident=incident,
                                   kind=DeliveryKind.PAGE, channel=ChannelKind.WEBHOOK, endpoint=endpoint,
                                   address=url, level=1, message={"subject": "[AIOps L1] x", "text": "x", "level": 1})


def test_a_claim_leases_the_row_for_the_channel_timeout_plus_a_margin(lease_settings, http_receiver, make_incident):
    delivery = webhook_delivery(http_receiver.url, make_incident, timeout=3.0)

    with freeze_time(T0):
        assert deliveries.delivery_claim(delivery_id=delivery.pk, lease=deliveries.delivery_lease(delivery))

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENDING
    assert delivery.lease_until - delivery.claimed_at == timedelta(seconds=8)  # 3 s timeout + 5 s margin


def test_a_row_whose_sender_died_is_sent_again_within_seconds_and_only_once(
    lease_settings, http_receiver, make_incident
):
    delivery = webhook_delivery(http_receiver.url, make_incident, timeout=5.0)
    with freeze_time(T0):  # a worker claimed it, then was killed before the channel answered
        deliveries.delivery_claim(delivery_id=delivery.pk, lease=deliveries.delivery_lease(delivery))

    with freeze_time("2026-03-02 09:00:09+00:00"):  # the lease (5 + 5 s) still runs: the sender may be alive
        assert deliveries.deliveries_sweep() == 0
    assert http_receiver.requests == []

    with freeze_time("2026-03-02 09:00:11+00:00"):  # 11 s after the claim, not 5 minutes
        assert deliveries.deliveries_sweep() == 1
    with freeze_time("2026-03-02 09:00:16+00:00"):
        assert deliveries.deliveries_sweep() == 0  # sent: never again

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 2
    assert len(http_receiver.requests) == 1
    assert tasks.deliver_notification(delivery.pk) == "skipped"  # the dead worker's redelivered message
    assert len(http_receiver.requests) == 1


def test_the_sweep_leaves_fresh_pending_rows_to_the_notify_worker(lease_settings, http_receiver, make_incident):
    with freeze_time(T0):
        delivery = webhook_delivery(http_receiver.url, make_incident)
    with freeze_time("2026-03-02 09:00:10+00:00"):
        assert deliveries.deliveries_sweep() == 0
    with freeze_time("2026-03-02 09:00:16+00:00"):  # no worker took it within the grace: the sweep sends
        assert deliveries.deliveries_sweep() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and len(http_receiver.requests) == 1


def test_two_sweeps_and_a_countdown_task_escalate_once(make_user, make_team, make_service, make_incident):
    team = make_team()
    team.members.add(make_user(Role.OPERATOR))
    executive = make_user(Role.EXECUTIVE)
    with freeze_time(T0):
        incident = make_incident(severity=1, service=make_service(team=team))
        escalation.escalation_start(incident_id=incident.pk)
    token = Escalation.objects.get().active_token

    with freeze_time("2026-03-02 09:05:01+00:00"):
        first = escalation.escalations_sweep()
        second = escalation.escalations_sweep()
        legacy = tasks.escalate_incident(incident.pk, token)  # a countdown message from before the upgrade

    assert (first, second, legacy) == (1, 0, "stale")
    state = Escalation.objects.get()
    assert state.step == 1 and state.status == EscalationStatus.ACTIVE
    assert state.next_at == timezone.datetime.fromisoformat("2026-03-02 09:10:01+00:00")
    assert Delivery.objects.filter(kind=DeliveryKind.ESCALATION, recipient=executive, channel="email").count() == 1


def test_the_sweep_is_on_the_beat_schedule_every_few_seconds_and_off_the_notify_queue(settings):
    from aiops.celery import app

    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "incidents.sweep_response")
    assert entry["schedule"] <= timedelta(seconds=10)
    route = app.amqp.router.route({}, "incidents.sweep_response")
    assert route["queue"].name == "default"
