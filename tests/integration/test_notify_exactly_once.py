"""Exactly-once paging on PostgreSQL: the same delivery raced by two threads and by two worker processes sends once."""
from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from core.choices import Role
from incidents.choices import ChannelKind, DeliveryKind, DeliveryStatus
from incidents.contracts import SignalIn
from incidents.models import ChannelEndpoint, Delivery, Incident, NotificationPolicy
from incidents.services import deliveries
from incidents.services.signals import signal_ingest
from tests.incidents.response.conftest import http_receiver  # noqa: F401 (fixture)

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def slow_receiver(http_receiver):  # noqa: F811
    """The receiver answers slowly so two racing senders overlap in time."""
    original = http_receiver.next_status

    def slow():
        time.sleep(0.3)
        return original()

    http_receiver.next_status = slow
    return http_receiver


def webhook_delivery(url: str, make_service) -> Delivery:
    service = make_service()
    incident = Incident.objects.create(title="Race", service=service, team=service.team, severity=1)
    endpoint = ChannelEndpoint.objects.create(name=f"race-{incident.pk}", kind=ChannelKind.WEBHOOK, url=url,
                                              secret="k", timeout_seconds=5)
    return Delivery.objects.create(key=f"race:{incident.pk}", incident=incident, kind=DeliveryKind.PAGE,
                                   channel=ChannelKind.WEBHOOK, endpoint=endpoint, address=url, level=1,
                                   message={"subject": "[AIOps L1 Critical] Race", "text": "race", "level": 1})


def test_two_threads_sending_the_same_delivery_post_once(slow_receiver, make_service):
    assert connection.vendor == "postgresql"
    delivery = webhook_delivery(slow_receiver.url, make_service)
    barrier = threading.Barrier(2)
    outcomes = []

    def send():
        try:
            barrier.wait()
            outcomes.append(deliveries.delivery_send(delivery_id=delivery.pk).status)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(outcomes) == ["sent", "skipped"]
    assert len(slow_receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 1


def test_two_worker_processes_given_the_same_delivery_post_once(celery_worker_process, slow_receiver, make_service):
    from incidents import tasks

    delivery = webhook_delivery(slow_receiver.url, make_service)

    tasks.deliver_notification.delay(delivery.pk)
    tasks.deliver_notification.delay(delivery.pk)  # a duplicate message (redelivery, retry, second enqueue)

    wait_for(lambda: Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENT).exists(),
             message="the worker to send the delivery")
    time.sleep(1.0)  # give the duplicate time to run too
    assert len(slow_receiver.requests) == 1
    assert "incidents.deliver_notification[" in celery_worker_process.log_path.read_text()


def test_a_critical_signal_is_paged_by_the_notify_worker(celery_worker_process, http_receiver,  # noqa: F811
                                                         make_service, make_team, make_user):
    team = make_team()
    oncall = make_user(Role.OPERATOR)
    team.members.add(oncall)
    service = make_service(team=team, tier=1)
    # Transactional tests truncate tables, so the migration's default policy may be gone: state it.
    NotificationPolicy.objects.update_or_create(
        severity=1, defaults={"notify_team": True, "channels": ["inapp", "webhook"], "digest_only": False})
    for level in (2, 3):
        NotificationPolicy.objects.update_or_create(severity=level, defaults={"notify_team": True,
                                                                              "channels": ["inapp", "webhook"]})
    endpoint = ChannelEndpoint.objects.create(name="oncall-bridge", kind=ChannelKind.WEBHOOK, url=http_receiver.url,
                                              secret="k")
    for p in NotificationPolicy.objects.all():
        p.endpoints.add(endpoint)

    result = signal_ingest(signal=SignalIn(source_kind="generic", source_name="test", service=service.name,
                                           title="Everything is down", severity_hint="critical"))

    wait_for(lambda: len(http_receiver.requests) >= 1, message="the webhook page")
    wait_for(lambda: Delivery.objects.filter(incident_id=result.incident_id, recipient=oncall,
                                             status=DeliveryStatus.SENT).exists(), message="the in-app page")
    assert http_receiver.requests[0].json["incident"]["id"] == result.incident_id
