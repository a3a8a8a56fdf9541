"""A worker SIGKILLed mid-drain: its intake rows are taken over by another worker within seconds
(the claim's lease, the sweep), every event is stored once and no repeat is counted twice."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from django.conf import settings
from django.utils import timezone

from incidents.models import Alert, Incident
from monitoring import tasks
from monitoring.models import AlertIntake
from monitoring.services import intake as intake_services

from .conftest import ROOT, wait_for, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 2
REPEATS = 20


def alert(name: str, instance: str) -> dict:
    return {"status": "firing", "labels": {"alertname": name, "instance": instance, "severity": "critical"},
            "annotations": {"summary": f"{name} on {instance}"}, "startsAt": timezone.now().isoformat(),
            "endsAt": "0001-01-01T00:00:00Z", "fingerprint": f"{name}-{instance}"}


def queue_row(integration, key: str, alerts: list[dict]) -> AlertIntake:
    body = {"receiver": "aiops", "status": "firing", "version": "4", "groupKey": "{}:{}", "alerts": alerts,
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093"}
    return AlertIntake.objects.create(integration=integration, kind="alertmanager", body=json.dumps(body),
                                      idempotency_key=key, event_count=len(alerts))


def start_worker(name: str, log_path):
    from aiops.celery import app

    env = worker_env(settings.DATABASES["default"]["NAME"])
    env["ALERT_INTAKE_LEASE_SECONDS"] = str(LEASE_SECONDS)
    hostname = f"{name}-{os.getpid()}@localhost"
    with log_path.open("w") as log:  # the worker keeps its own copy of the file
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "aiops", "worker", "-Q", "ingest", "-c", "1", "--pool", "prefork",
             "-l", "info", "-n", hostname, "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    app.conf.broker_url = settings.REDIS_URL
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text()
        if app.control.ping(destination=[hostname], timeout=1.0):
            return proc
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"worker {name} did not start:\n{log_path.read_text()}")


def stop(proc) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_rows_of_a_worker_killed_mid_drain_are_processed_once_by_another_within_seconds(
    make_integration, make_service, tmp_path
):
    integration, _ = make_integration("alertmanager", service=make_service("checkout-api"))
    queue_row(integration, "seed", [alert("Base", "a")])
    assert intake_services.alert_intakes_drain().processed == 1  # Base fires, its incident opens
    incident = Incident.objects.get()
    rows = [queue_row(integration, f"repeat-{i}", [alert("Base", "a"), alert("Joiner", str(i))])
            for i in range(REPEATS)]

    db = settings.DATABASES["default"]
    blocker = psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"])
    doomed = rescuer = None
    try:
        # Hold the incident row, so worker A's drain stops mid-batch (after counting the repeats).
        blocker.execute("SELECT id FROM incidents_incident WHERE id = %s FOR UPDATE", [incident.pk])
        doomed = start_worker("doomed", tmp_path / "doomed.log")
        tasks.process_alert_intakes.delay()
        # Another connection: pg_stat_activity is read once per transaction, and the blocker's stays open.
        with psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"],
                             autocommit=True) as watcher, watcher.cursor() as cursor:
            def waiting() -> bool:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND wait_event_type = 'Lock'")
                return cursor.fetchone()[0] > 0
            try:
                wait_for(waiting, timeout=30, message="a drain blocked mid-batch")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{(tmp_path / 'doomed.log').read_text()[-3000:]}") from None
        assert AlertIntake.objects.filter(pk__in=[r.pk for r in rows], status="processing").count() == REPEATS
        rescuer = start_worker("rescuer", tmp_path / "rescuer.log")  # the worker that stays
        os.killpg(doomed.pid, signal.SIGKILL)  # the worker and its pool child, mid-drain
        doomed.wait(timeout=10)
        killed_at = time.monotonic()
        blocker.rollback()

        def all_processed() -> bool:
            intake_services.alert_intakes_requeue_stale()  # what beat runs every ALERT_INTAKE_SWEEP_SECONDS
            return AlertIntake.objects.filter(pk__in=[r.pk for r in rows], status="processed").count() == REPEATS
        wait_for(all_processed, timeout=30, interval=0.5, message="the rescuer to process the dead worker's rows")
        took = time.monotonic() - killed_at
    finally:
        blocker.close()
        for proc in (doomed, rescuer):
            if proc is not None:
                stop(proc)

    assert took < 30, took
    assert Alert.objects.get(labels__alertname="Base").count == REPEATS + 1  # each repeat counted once
    joiners = Alert.objects.filter(labels__alertname="Joiner")
    assert joiners.count() == REPEATS and set(joiners.values_list("count", flat=True)) == {1}
    assert Incident.objects.count() == 1
    assert Incident.objects.get().alert_count == REPEATS + 1
    # Claimed by the dead worker and again by the rescuer (2), or once (1) when the dead worker's claim
    # went down with its transaction; never more. (One clean-clone run in three saw 1: see the note.)
    attempts = set(AlertIntake.objects.filter(pk__in=[r.pk for r in rows]).values_list("attempts", flat=True))
    assert attempts and attempts <= {1, 2}, attempts
