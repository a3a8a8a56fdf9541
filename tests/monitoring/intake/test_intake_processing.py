"""The drain: claims stored rows in batches, hands their signals to the core together, records
refusals as FAILED row by row, puts rows back after database trouble, and is asked for cheaply."""
from __future__ import annotations

import json
import threading
from datetime import timedelta
from types import SimpleNamespace

import psycopg
import pytest
from django.db import OperationalError
from django.utils import timezone

from core import drain as core_drain
from core import enqueue, ratelimit
from core.drain import partition_of
from incidents.contracts import InvalidSignal
from incidents.models import Alert, Incident
from incidents.services import signals as core_signals
from monitoring import tasks
from monitoring.models import AlertIntake
from monitoring.services import intake as intake_services
from monitoring.services.intake import receipts as intake_receipts

from .conftest import am_alert, am_payload, pd_event

URL = "/api/v1/integrations/alertmanager"
pytestmark = pytest.mark.django_db


def store(client, payload=None) -> AlertIntake:
    """Post a notification without running its on-commit kick (the row stays queued)."""
    response = client.post(URL, data=json.dumps(payload or am_payload()), content_type="application/json")
    assert response.status_code == 202, response.content
    return AlertIntake.objects.latest("pk")


def core_calls(monkeypatch, refuse=frozenset()):
    """Record each signals_ingest call; refuse any call holding a fingerprint in `refuse`."""
    calls = []
    real = core_signals.signals_ingest

    def ingest(*, signals):
        calls.append([s.fingerprint for s in signals])
        if refuse & {s.fingerprint for s in signals}:
            raise InvalidSignal("No service named 'gone'.", field="service")
        return real(signals=signals)

    monkeypatch.setattr(intake_services.incident_services, "signals_ingest", ingest)
    return calls


def test_a_batch_of_rows_goes_to_the_core_in_one_call(am_client, monkeypatch):
    rows = [store(am_client, am_payload(am_alert(instance=f"{i}a"), am_alert(instance=f"{i}b"))) for i in range(3)]
    calls = core_calls(monkeypatch)
    result = intake_services.alert_intakes_drain()
    assert result.claimed == result.processed == 3 and result.events == 6
    assert len(calls) == 1 and len(calls[0]) == 6
    for row in rows:
        row.refresh_from_db()
        assert row.status == "processed" and len(row.outcomes) == 2 and row.attempts == 1
    assert Alert.objects.count() == 6 and Incident.objects.count() == 1


def test_rows_are_drained_oldest_first_in_batches(am_client, monkeypatch):
    rows = [store(am_client, am_payload(am_alert(instance=str(i)))) for i in range(5)]
    calls = core_calls(monkeypatch)
    assert intake_services.alert_intakes_drain(batch_size=2).processed == 5
    expected = [am_client.integration.scoped_fingerprint(json.loads(row.body)["alerts"][0]["fingerprint"])
                for row in rows]
    assert [len(c) for c in calls] == [2, 2, 1]
    assert [fp for call in calls for fp in call] == expected


def test_a_row_the_core_refuses_is_failed_with_the_reason_and_the_others_are_processed(am_client, monkeypatch):
    good = store(am_client, am_payload(am_alert(instance="good")))
    bad_alert = am_alert(instance="bad")
    bad = store(am_client, am_payload(bad_alert))
    also_good = store(am_client, am_payload(am_alert(instance="also-good")))
    refused = am_client.integration.scoped_fingerprint(bad_alert["fingerprint"])
    calls = core_calls(monkeypatch, refuse=frozenset({refused}))
    result = intake_services.alert_intakes_drain()
    assert (result.processed, result.failed) == (2, 1)
    assert len(calls) == 4  # the batch, then row by row to find the culprit
    for row in (good, bad, also_good):
        row.refresh_from_db()
    assert good.status == also_good.status == "processed"
    assert bad.status == "failed" and "No service named 'gone'" in bad.error and bad.attempts == 1
    assert Alert.objects.count() == 2


def test_a_row_that_no_longer_parses_is_failed_and_the_others_are_processed(am_client):
    broken = store(am_client, am_payload(am_alert(instance="x")))
    fine = store(am_client, am_payload(am_alert(instance="y")))
    AlertIntake.objects.filter(pk=broken.pk).update(body='{"version": "4"}')
    intake_services.alert_intakes_drain()
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert broken.status == "failed" and "alerts" in broken.error
    assert fine.status == "processed"


def test_database_trouble_puts_the_batch_back_in_the_queue(am_client, monkeypatch):
    rows = [store(am_client, am_payload(am_alert(instance=str(i)))) for i in range(2)]

    def down(*, signals):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(intake_services.incident_services, "signals_ingest", down)
    with pytest.raises(OperationalError):
        intake_services.alert_intakes_drain()
    for row in rows:
        row.refresh_from_db()
        assert row.status == "queued" and "server closed" in row.error and row.attempts == 1
    assert not Alert.objects.exists()
    monkeypatch.undo()
    assert intake_services.alert_intakes_drain().processed == 2


# Django's error, and psycopg's own from the statements the core runs on psycopg cursors.
@pytest.mark.parametrize("error", [OperationalError, psycopg.errors.DeadlockDetected])
def test_the_drain_task_retries_database_trouble_and_the_row_fails_after_its_attempts(am_client, monkeypatch, error):
    intake = store(am_client)
    calls = []

    def down(*, signals):
        calls.append(1)
        raise error("server closed the connection unexpectedly")

    monkeypatch.setattr(intake_services.incident_services, "signals_ingest", down)
    retries = []
    monkeypatch.setattr(tasks.process_alert_intakes, "retry",
                        lambda exc=None, countdown=None: retries.append(countdown) or exc)
    for _ in range(intake_services.MAX_ATTEMPTS):
        tasks.process_alert_intakes.apply()
    intake.refresh_from_db()
    # A deadlock is a conflict between two live drains: the batch runs again at once first.
    runs = intake_services.LOCK_CONFLICT_ATTEMPTS if error is psycopg.errors.DeadlockDetected else 1
    assert len(calls) == intake_services.MAX_ATTEMPTS * runs and len(retries) == intake_services.MAX_ATTEMPTS
    assert intake.status == "failed" and "server closed" in intake.error
    tasks.process_alert_intakes.apply()
    assert len(calls) == intake_services.MAX_ATTEMPTS * runs  # a failed row is not taken again


def test_the_answer_does_not_depend_on_the_broker_and_the_sweep_drains_later(
    am_client, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        return False  # what core.enqueue.send answers when the broker refused the message

    monkeypatch.setattr(enqueue, "send", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = am_client.post(URL, data=json.dumps(am_payload()), content_type="application/json")
    assert response.status_code == 202
    intake = AlertIntake.objects.get()
    assert intake.status == "queued"
    monkeypatch.undo()
    assert intake_services.alert_intakes_requeue_stale() == 0  # too recent: a drain may be on the way
    AlertIntake.objects.update(received_at=timezone.now() - timedelta(minutes=3))
    assert intake_services.alert_intakes_requeue_stale() == 1
    intake.refresh_from_db()
    assert intake.status == "processed" and Alert.objects.count() == 2


def test_a_row_claimed_by_a_worker_that_died_is_taken_over(am_client):
    intake = store(am_client)
    assert intake_services.alert_intake_claim(intake_id=intake.pk)
    assert intake_services.alert_intake_process(intake_id=intake.pk) is None  # claimed, fresh
    assert intake_services.alert_intakes_drain().claimed == 0
    AlertIntake.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    assert intake_services.alert_intakes_requeue_stale() == 1  # back in the queue, and drained
    intake.refresh_from_db()
    assert intake.status == "processed" and intake.attempts == 2


def test_a_redelivered_row_task_finds_the_row_claimed_and_does_nothing(am_client):
    intake = store(am_client)
    assert intake_services.alert_intake_process(intake_id=intake.pk).status == "processed"
    assert intake_services.alert_intake_process(intake_id=intake.pk) is None
    assert Alert.objects.count() == 2 and set(Alert.objects.values_list("count", flat=True)) == {1}


def test_a_pagerduty_trigger_and_its_resolve_in_one_batch_keep_their_order(client, pd_integration):
    _, token = pd_integration
    for action in ("trigger", "resolve"):
        response = client.post("/api/v1/integrations/pagerduty/v2/enqueue", content_type="application/json",
                               data=json.dumps(pd_event(action, routing_key=token, dedup_key="disk-db-1")))
        assert response.status_code == 202
    assert intake_services.alert_intakes_drain().processed == 2
    assert Alert.objects.get(fingerprint=pd_integration[0].scoped_fingerprint("disk-db-1")).status == "resolved"


# --- asking for a drain -------------------------------------------------------------------------


@pytest.fixture
def broker(monkeypatch, settings):
    """Tasks through a (recorded) broker instead of in-process; the kick flags start clear (the
    cache is cleared for every test). Records the partition of each drain published."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    published = []

    def send_task(name, args=(), countdown=None):
        if name == tasks.process_alert_intakes.name:
            published.append(args[0])

    monkeypatch.setattr(enqueue.current_app, "send_task", send_task)
    enqueue._last_kick.clear()
    # The publisher thread's work, done in the caller so the test sees it at once.
    monkeypatch.setattr(enqueue, "_publisher", lambda: SimpleNamespace(request=lambda publish: publish()))
    return published


def test_the_kick_is_published_from_a_background_thread(monkeypatch, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    published = threading.Event()
    def send_task(*args, **kwargs):
        if threading.current_thread().name == "core-enqueue-kicker":
            published.set()

    monkeypatch.setattr(enqueue.current_app, "send_task", send_task)
    enqueue._last_kick.clear()
    intake_services.alert_intakes_kick(partition=0)
    assert published.wait(timeout=30)


def test_a_burst_of_requests_asks_for_one_drain(am_client, broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(5):
            am_client.post(URL, data=json.dumps(am_payload(am_alert(instance=str(i)))), content_type="application/json")
    assert AlertIntake.objects.count() == 5
    assert len(broker) == 1


def test_while_a_drain_waits_in_the_queue_no_other_is_published(broker):
    intake_services.alert_intakes_kick(partition=0)
    enqueue._last_kick.clear()  # another web process
    intake_services.alert_intakes_kick(partition=0)
    assert len(broker) == 1
    intake_services.alert_intakes_drain(partition=0)  # the waiting drain ran and ended: the next kick publishes
    enqueue._last_kick.clear()
    intake_services.alert_intakes_kick(partition=0)
    assert len(broker) == 2


def test_the_drain_keeps_looking_long_enough_for_rows_whose_kick_was_skipped(am_client, monkeypatch):
    # A request whose kick was debounced commits while the drain is already running: the drain
    # keeps claiming for KICK_DEBOUNCE_SECONDS after its last row, so it takes that row too.
    late = []

    def sleep(seconds):  # the drain found nothing and waits: meanwhile a request commits a row
        if not late:
            late.append(store(am_client, am_payload(am_alert(instance="late"))))

    monkeypatch.setattr(core_drain.time, "sleep", sleep)
    result = intake_services.alert_intakes_drain(partition=partition_of(am_client.integration.pk),
                                                 idle_seconds=enqueue.KICK_DEBOUNCE_SECONDS)
    assert late and result.processed == 1
    late[0].refresh_from_db()
    assert late[0].status == "processed"


def test_each_partition_of_senders_asks_for_its_own_drain(am_client, integration_client, broker,
                                                          django_capture_on_commit_callbacks):
    other = integration_client("alertmanager", service=am_client.integration.service)
    partitions = {partition_of(am_client.integration.pk), partition_of(other.integration.pk)}
    assert len(partitions) == 2, "consecutive integrations fall in different partitions"
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(3):
            for client in (am_client, other):
                payload = am_payload(am_alert(instance=str(i)))
                client.post(URL, data=json.dumps(payload), content_type="application/json")
    assert AlertIntake.objects.count() == 6
    assert sorted(broker) == sorted(partitions)  # one drain each, so two workers drain them at once


def test_a_drain_takes_only_the_rows_of_its_partition(am_client, integration_client):
    other = integration_client("alertmanager", service=am_client.integration.service)
    mine = store(am_client, am_payload(am_alert(instance="mine")))
    theirs = store(other, am_payload(am_alert(instance="theirs")))
    result = intake_services.alert_intakes_drain(partition=partition_of(am_client.integration.pk))
    assert result.processed == 1
    assert AlertIntake.objects.get(pk=mine.pk).status == "processed"
    assert AlertIntake.objects.get(pk=theirs.pk).status == "queued"
    assert intake_services.alert_intakes_drain().processed == 1  # every partition in turn


def test_with_redis_down_requests_are_still_accepted_and_stored(am_client, broker, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(ratelimit, "counter_incr", down)  # the rate limit's counter
    monkeypatch.setattr(enqueue, "cache_add", down)  # the drain flag
    monkeypatch.setattr(intake_receipts, "counter_incr", down)  # the duplicates' count
    monkeypatch.setattr(enqueue.current_app, "send_task", down)  # the broker is the same Redis
    payload = am_payload()
    for _ in range(2):  # the second is a retry: counted as a duplicate in the (unreachable) cache
        response = am_client.post(URL, data=json.dumps(payload), content_type="application/json")
        assert response.status_code == 202
    intake_services.alert_intakes_kick(partition=partition_of(am_client.integration.pk))
    assert AlertIntake.objects.get().status == "queued" and broker == []  # the sweep will drain it
