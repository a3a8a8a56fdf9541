"""Concurrent workers on PostgreSQL: duplicates of one signal give one alert and one incident."""
from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from incidents.choices import AlertStatus
from incidents.contracts import SignalIn
from incidents.models import Alert, Incident
from incidents.services import signal_ingest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def ingest_at_once(signals: list[SignalIn]) -> list:
    """Each signal in its own thread (own database connection), released together by a barrier."""
    barrier = threading.Barrier(len(signals))
    results: list = [None] * len(signals)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = signal_ingest(signal=signals[i])
        except Exception as exc:  # noqa: BLE001 (any failure is reported by the assertion below)
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(signals))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not [r for r in results if isinstance(r, Exception)], results
    return results


def test_the_suite_runs_on_postgresql():
    assert connection.vendor == "postgresql"


def test_duplicates_of_one_signal_at_the_same_time_give_one_alert_and_one_incident(make_service):
    service = make_service("checkout-api")
    for round_ in range(5):  # several rounds: a race that only shows sometimes still shows
        signal = SignalIn(source_kind="generic", source_name="agent", service=service.name,
                          title=f"Errors {round_}", labels={"alertname": f"Errors{round_}"})
        results = ingest_at_once([signal] * 6)
        assert len({r.alert_id for r in results}) == 1
        assert len({r.incident_id for r in results}) == 1
        assert sorted(r.outcome for r in results).count("deduplicated") >= 4
        Incident.objects.update(status="resolved")  # next round opens afresh
        Alert.objects.update(status=AlertStatus.RESOLVED)
    assert Alert.objects.count() == 5 and Incident.objects.count() == 5
    assert sum(Alert.objects.values_list("count", flat=True)) == 30


def test_distinct_alerts_of_one_service_at_the_same_time_share_one_incident(make_service):
    service = make_service("payments")
    signals = [SignalIn(source_kind="generic", source_name="agent", service=service.name, title=f"Fault {i}",
                        labels={"alertname": f"Fault{i}"}) for i in range(6)]
    results = ingest_at_once(signals)
    assert Alert.objects.count() == 6
    assert Incident.objects.count() == 1 and len({r.incident_id for r in results}) == 1
    assert sorted(r.outcome for r in results) == ["joined"] * 5 + ["opened"]
    assert Incident.objects.get().alert_count == 6


def test_a_batch_counts_repeats_together_and_keeps_every_result(make_service):
    from incidents.services import signals_ingest

    service = make_service("batchy")
    first = SignalIn(source_kind="generic", source_name="agent", service=service.name, title="Disk",
                     labels={"alertname": "Disk"})
    opened = signal_ingest(signal=first)
    other = SignalIn(source_kind="generic", source_name="agent", service=service.name, title="CPU",
                     labels={"alertname": "CPU"})
    results = signals_ingest(signals=[first, other, first, other, first])
    assert [r.outcome for r in results] == ["deduplicated", "joined", "deduplicated", "deduplicated",
                                            "deduplicated"]
    assert results[0].incident_id == opened.incident_id == results[1].incident_id
    assert Alert.objects.get(title="Disk").count == 4 and Alert.objects.get(title="CPU").count == 2
