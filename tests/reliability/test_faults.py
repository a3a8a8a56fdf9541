"""Faults on the deployed stack: a killed worker, the broker away for 30 s, a database restart, senders
that send everything three times. Each counts in and out: lost = 0, duplicates = 0, and the first page
for a new Level 1 goes out within 30 s of the component returning."""
from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.db.models import Sum
from django.utils import timezone
from google.protobuf import json_format

from incidents.choices import DeliveryKind, TimelineKind
from incidents.models import Alert, Delivery, Escalation, Incident, TimelineEvent
from monitoring.models import AlertIntake, Point, TelemetryBatch
from tests.monitoring.intake.conftest import grafana_payload, pd_event
from tests.monitoring.test_otlp import export_request

from .conftest import db_reconnect, paging_policy, report, wait_for
from .senders import am_alert, am_body, post, post_until_accepted, source

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RECOVERY_SECONDS = 30  # the bar: first page for a new Level 1 within 30 s of the component returning
BROKER_DOWN_SECONDS = float(os.environ.get("RELIABILITY_BROKER_DOWN_SECONDS", "30"))


def telemetry_body(service: str, batch: int, points: int) -> bytes:
    now = time.time() - 60
    return json.dumps({"points": [
        {"service": service, "metric": "queue_depth", "labels": {"batch": str(batch)}, "timestamp": now - i * 10,
         "value": float(i)} for i in range(points)]}).encode()


def alert_counts(service) -> tuple[int, int]:
    """(distinct alerts, signals counted) of a service."""
    rows = Alert.objects.filter(service=service)
    return rows.count(), rows.aggregate(n=Sum("count"))["n"] or 0


def intake_drained() -> bool:
    return not AlertIntake.objects.exclude(status="processed").exists()


def page_answered(pager, service, kind: str = "page") -> float | None:
    incident = Incident.objects.filter(service=service).first()
    return pager.first_page_at(incident.pk, kind) if incident else None


def test_a_worker_killed_mid_work_is_replaced_and_nothing_is_lost_or_doubled(stack, pager):
    paging_policy(pager, escalation=True)
    stack.web()
    stack.beat()
    stack.workers()
    bulk, bulk_token = source("bulk-api", tier=3)
    metrics_service, metrics_token = source("metrics-agent", tier=3, kind="generic")
    payers = [source(f"pay-{i}", tier=1) for i in range(4)]
    am_url, tel_url = f"{stack.url}/api/v1/integrations/alertmanager", f"{stack.url}/api/v1/telemetry"
    session = requests.Session()

    # A Level 1 whose page went out: its escalation timer is due while the worker dies.
    assert post(session, am_url, payers[0][1], am_body([am_alert("PayDown", "p0", severity="critical")])).status == 202
    wait_for(lambda: page_answered(pager, payers[0][0]), timeout=30, message="the first page")
    Escalation.objects.filter(incident__service=payers[0][0]).update(next_at=timezone.now() + timedelta(seconds=3))
    pager.delay = 0.5  # pages are in flight when the worker dies

    results: dict[str, list] = {"alerts": [], "telemetry": []}

    def send_alert(i: int) -> None:
        results["alerts"].append(post(requests.Session(), am_url, bulk_token, am_body([am_alert("Bulk", f"i{i}")])))

    def send_batch(i: int) -> None:
        sent = post(requests.Session(), tel_url, metrics_token, telemetry_body(metrics_service.name, i, 200))
        results["telemetry"].append(sent)

    with ThreadPoolExecutor(4) as pool:
        jobs = [pool.submit(send_alert, i) for i in range(300)] + [pool.submit(send_batch, i) for i in range(20)]
        for service, token in payers[1:3]:
            jobs.append(pool.submit(post, session, am_url, token, am_body([am_alert("PayDown", service.name,
                                                                                    severity="critical")])))
        wait_for(lambda: AlertIntake.objects.filter(status="processed").count() >= 40, timeout=60,
                 message="the worker to be mid-drain")
        stack.kill("intake")  # SIGKILL, worker and pool children, mid-work
        stack.kill("notify")
        killed = time.time()
        for job in jobs:
            job.result()
    stack.workers(suffix="2")
    back = time.time()
    # Recovery: a new Level 1 right after the replacement came up.
    assert post(session, am_url, payers[3][1], am_body([am_alert("PayDown", "p3", severity="critical")])).status == 202

    wait_for(intake_drained, timeout=90, message="every intake row processed")
    wait_for(lambda: not TelemetryBatch.objects.exclude(status="stored").exists(), timeout=90,
             message="every telemetry batch stored")
    wait_for(lambda: all(page_answered(pager, s) for s, _ in payers), timeout=60, message="every Level 1 paged")
    wait_for(lambda: page_answered(pager, payers[0][0], "escalation"), timeout=60, message="the escalation page")
    recovery = page_answered(pager, payers[3][0]) - back
    time.sleep(3)  # sweeps keep running: nothing may go out twice

    accepted = sum(s.status == 202 for s in results["alerts"])
    stored, signals = alert_counts(bulk)
    points_in = sum(json.loads(s.body)["accepted"] for s in results["telemetry"] if s.status == 202)
    points_out = Point.objects.filter(series__service=metrics_service).count()
    pages = Delivery.objects.filter(kind__in=[DeliveryKind.PAGE, DeliveryKind.ESCALATION]).count()
    escalations = TimelineEvent.objects.filter(kind=TimelineKind.ESCALATED).count()
    report("worker killed", accepted=f"{accepted} alerts + {points_in} points + 4 pages + 1 escalation",
           processed=f"{stored} alerts + {points_out} points + {len(pager.answered())} deliveries + "
                     f"{escalations} escalation",
           duplicates=(signals - stored) + max(points_out - points_in, 0) + pager.duplicates,
           lost=(accepted - stored) + (points_in - points_out) + (5 - len(pager.answered())),
           latency=f"first page {recovery:.1f} s after the new worker came up ({back - killed:.1f} s to start it)")
    assert accepted == 300 and stored == accepted and signals == stored
    assert points_out == points_in == 20 * 200
    assert pages == 5 and len(pager.answered()) == 5 and pager.duplicates == 0
    assert escalations == 1 and Escalation.objects.get(incident__service=payers[0][0]).step == 1
    assert recovery < RECOVERY_SECONDS


def test_with_the_broker_down_intake_answers_and_pages_resume_when_it_returns(stack, pager, broker):
    paging_policy(pager, escalation=True)
    stack.web()
    stack.beat()
    stack.workers()
    bulk, bulk_token = source("bulk-api", tier=3)
    metrics_service, metrics_token = source("metrics-agent", tier=3, kind="generic")
    (armed, armed_token), (fresh, fresh_token) = source("pay-armed", tier=1), source("pay-fresh", tier=1)
    am_url, tel_url = f"{stack.url}/api/v1/integrations/alertmanager", f"{stack.url}/api/v1/telemetry"
    session = requests.Session()
    assert post(session, am_url, armed_token, am_body([am_alert("PayDown", "a", severity="critical")])).status == 202
    wait_for(lambda: page_answered(pager, armed), timeout=30, message="the armed incident's page")
    # Its escalation falls due in the middle of the outage.
    Escalation.objects.filter(incident__service=armed).update(next_at=timezone.now() + timedelta(seconds=5))

    broker.stop()
    down = time.monotonic()
    statuses = [post(session, am_url, bulk_token, am_body([am_alert("Bulk", f"i{i}")])).status for i in range(100)]
    statuses.append(post(session, am_url, fresh_token, am_body([am_alert("PayDown", "f", severity="critical")])).status)
    telemetry = [post(session, tel_url, metrics_token, telemetry_body(metrics_service.name, i, 100)) for i in range(5)]
    assert set(statuses) == {202}, statuses
    assert {s.status for s in telemetry} == {202}, [s.body for s in telemetry]
    time.sleep(max(BROKER_DOWN_SECONDS - (time.monotonic() - down), 0))
    broker.start()
    back = time.time()

    wait_for(intake_drained, timeout=90, message="the intake rows stored during the outage processed")
    wait_for(lambda: page_answered(pager, fresh), timeout=60, message="the page of the Level 1 raised meanwhile")
    wait_for(lambda: page_answered(pager, armed, "escalation"), timeout=60, message="the escalation due meanwhile")
    recovery = page_answered(pager, fresh) - back
    time.sleep(3)

    stored, signals = alert_counts(bulk)
    batches = TelemetryBatch.objects.filter(integration__service=metrics_service).count()
    report("broker down", accepted=f"{statuses.count(202)} alert requests + 5 telemetry batches (all 202)",
           processed=f"{stored} alerts, {batches} batches stored, {len(pager.answered())} deliveries",
           duplicates=(signals - stored) + pager.duplicates,
           lost=(100 - stored) + (5 - batches) + (3 - len(pager.answered())),
           latency=f"page {recovery:.1f} s after the broker returned ({BROKER_DOWN_SECONDS:.0f} s outage)")
    assert stored == signals == 100 and batches == 5
    assert len(pager.answered()) == 3 and pager.duplicates == 0  # 2 pages + 1 escalation
    assert all(stack.alive(name) for name in ("web", "intake", "notify", "beat"))
    assert recovery < RECOVERY_SECONDS


def test_a_database_restart_during_intake_answers_503_and_never_2xx_for_what_was_not_stored(stack, pager, database):
    paging_policy(pager)
    stack.web()
    stack.beat()
    stack.workers()
    bulk, bulk_token = source("bulk-api", tier=3)
    fresh, fresh_token = source("pay-fresh", tier=1)
    am_url = f"{stack.url}/api/v1/integrations/alertmanager"
    tries: list = []
    accepted: list[int] = []
    stop = threading.Event()

    def sender() -> None:
        session, i = requests.Session(), 0
        while not stop.is_set():
            attempts = post_until_accepted(session, am_url, bulk_token, am_body([am_alert("Bulk", f"i{i}")]),
                                           deadline=time.monotonic() + 60)
            tries.extend(attempts)
            if attempts and attempts[-1].status == 202:
                accepted.append(i)
            i += 1
            time.sleep(0.02)

    thread = threading.Thread(target=sender)
    thread.start()
    time.sleep(3)
    database.stop()
    time.sleep(5)
    database.start()
    back = time.time()
    first = post_until_accepted(requests.Session(), am_url, fresh_token,
                                am_body([am_alert("PayDown", "f", severity="critical")]),
                                deadline=time.monotonic() + 30)
    time.sleep(4)
    stop.set()
    thread.join(timeout=90)
    db_reconnect()

    assert first[-1].status == 202, first
    wait_for(intake_drained, timeout=90, message="every accepted request processed")
    wait_for(lambda: page_answered(pager, fresh), timeout=60, message="the first page after the restart")
    recovery = page_answered(pager, fresh) - back
    stored, signals = alert_counts(bulk)
    stored_names = set(Alert.objects.filter(service=bulk).values_list("labels__instance", flat=True))
    statuses = [t.status for t in tries]
    unavailable = [t for t in tries if t.status == 503]
    report("database restart", accepted=f"{len(accepted)} alerts ({len(statuses)} requests, {len(unavailable)} "
           f"answered 503 + Retry-After)", processed=stored, duplicates=signals - stored,
           lost=len({f"i{i}" for i in accepted} - stored_names),
           latency=f"first page {recovery:.1f} s after the database returned")
    assert set(statuses) <= {202, 503}, sorted(set(statuses))
    assert unavailable and all(t.retry_after for t in unavailable)
    assert stored_names == {f"i{i}" for i in accepted}  # every 2xx stored; nothing stored twice
    assert signals == stored
    assert all(stack.alive(name) for name in ("web", "intake", "notify", "beat"))  # no restart needed
    assert recovery < RECOVERY_SECONDS


def test_every_intake_format_sent_three_times_gives_the_result_of_once(stack, pager):
    paging_policy(pager)
    stack.web()
    stack.beat()
    stack.workers()
    am_service, am_token = source("pay-am", tier=1)
    grafana_service, grafana_token = source("web-grafana", tier=3, kind="grafana")
    pd_service, pd_token = source("db-pd", tier=3, kind="pagerduty")
    tel_service, tel_token = source("metrics-native", tier=3, kind="generic")
    otlp_service, otlp_token = source("metrics-otlp", tier=3, kind="otlp")
    session = requests.Session()
    sends = [
        (f"{stack.url}/api/v1/integrations/alertmanager", am_token,
         am_body([am_alert("PayDown", "a", severity="critical"), am_alert("PaySlow", "a")]), {}),
        (f"{stack.url}/api/v1/integrations/grafana", grafana_token, json.dumps(grafana_payload()).encode(), {}),
        (f"{stack.url}/api/v1/integrations/pagerduty/v2/enqueue", pd_token,
         json.dumps(pd_event(routing_key=pd_token, dedup_key="disk-1")).encode(), {}),
        (f"{stack.url}/api/v1/telemetry", tel_token, telemetry_body(tel_service.name, 0, 50), {}),
        (f"{stack.url}/otlp/v1/metrics", otlp_token,
         json_format.MessageToJson(export_request(service_name=otlp_service.name)).encode(), {}),
    ]
    statuses = [post(session, url, token, body, headers=headers).status
                for url, token, body, headers in sends for _ in range(3)]
    assert all(200 <= s < 300 for s in statuses), statuses

    wait_for(intake_drained, timeout=60, message="intake processed")
    wait_for(lambda: not TelemetryBatch.objects.exclude(status="stored").exists(), timeout=60, message="telemetry")
    wait_for(lambda: page_answered(pager, am_service), timeout=60, message="the page")
    time.sleep(3)
    counts = {name: alert_counts(service) for name, service in
              (("alertmanager", am_service), ("grafana", grafana_service), ("pagerduty", pd_service))}
    points = {"telemetry": Point.objects.filter(series__service=tel_service).count(),
              "otlp": Point.objects.filter(series__service=otlp_service).count()}
    expected = {"alertmanager": 2, "grafana": 2, "pagerduty": 1}
    duplicates = sum(signals - alerts for alerts, signals in counts.values()) + pager.duplicates
    duplicates += max(points["telemetry"] - 50, 0) + max(points["otlp"] - 1, 0)
    lost = sum(expected[name] - alerts for name, (alerts, _) in counts.items())
    lost += (50 - points["telemetry"]) + (1 - points["otlp"])
    report("every format 3x", accepted=f"{len(statuses)} requests (5 formats x 3)",
           processed=f"{sum(a for a, _ in counts.values())} alerts + {sum(points.values())} points + "
                     f"{len(pager.answered())} page", duplicates=duplicates, lost=lost, latency="-")
    assert {name: c for name, c in counts.items()} == {name: (n, n) for name, n in expected.items()}
    assert points == {"telemetry": 50, "otlp": 1}
    assert AlertIntake.objects.count() == 3  # one row per format: the repeats were answered from it
    assert len(pager.answered()) == 1 and pager.duplicates == 0
    assert Incident.objects.filter(service=am_service).count() == 1
