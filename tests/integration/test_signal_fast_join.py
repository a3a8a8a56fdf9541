"""The PostgreSQL fast join path stores exactly what the general path stores, and stays safe under races."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from core.choices import Tier
from core.models import Service
from core.services import service_set_dependencies
from incidents.contracts import SignalIn
from incidents.models import Alert, GroupingRule, Incident, ServiceIncidentSettings, TimelineEvent
from incidents.services import signal_ingest
from incidents.services import signals as signal_services
from incidents.services.severity import incident_override_severity

pytestmark = [pytest.mark.integration]

T0 = timezone.now().replace(microsecond=0) - timedelta(hours=2)


def sig(service: str, name: str, minute: float, **kwargs) -> SignalIn:
    kwargs.setdefault("labels", {"alertname": name})
    return SignalIn(source_kind="generic", source_name="agent", service=service, title=f"{name} on {service}",
                    occurred_at=T0 + timedelta(minutes=minute), **kwargs)


def setup_services(make_service, team) -> None:
    db = make_service("fj-db", team=team, tier=Tier.TIER_2)
    api = make_service("fj-api", team=team, tier=Tier.TIER_3)
    web = make_service("fj-web", team=team, tier=Tier.TIER_4)
    make_service("fj-batch", team=team, tier=Tier.TIER_4)
    service_set_dependencies(service=api, depends_on=[db])
    service_set_dependencies(service=web, depends_on=[api])
    ServiceIncidentSettings.objects.create(service=Service.objects.get(name="fj-batch"), flap_window_minutes=1,
                                           correlation_window_minutes=5)
    GroupingRule.objects.create(name="fj by cluster", labels=["cluster"], window_minutes=30)


def scenario(user) -> None:
    """Every correlation rule, repeats, a resolution, a severity upgrade and an operator override."""
    steps = [
        sig("fj-api", "Errors", 0, severity_hint="info"),
        sig("fj-api", "Latency", 1, severity_hint="info"),  # same service
        sig("fj-db", "SlowQueries", 2, severity_hint="warning"),  # dependency (upstream)
        sig("fj-web", "5xx", 3, kpis=["bookings"]),  # dependency (downstream), raises the level
        sig("fj-api", "Errors", 4),  # repeat
        sig("fj-db", "Connections", 5, severity_hint="info"),
        sig("fj-batch", "Lag", 10, labels={"alertname": "Lag"}),
        sig("fj-batch", "Disk", 11, labels={"alertname": "Disk"}),
        sig("fj-batch", "Lag", 12, labels={"alertname": "Lag"}, status="resolved"),
        sig("fj-batch", "Lag", 40, labels={"alertname": "Lag"}),  # past the window: fingerprint
        sig("fj-batch", "NodeDown", 41, labels={"alertname": "NodeDown", "cluster": "eu-1"}, severity_hint="warning"),
        sig("fj-api", "PodCrash", 42, labels={"alertname": "PodCrash", "cluster": "eu-1"}),  # label rule
    ]
    for step in steps:
        signal_ingest(signal=step)
    api_incident = Incident.objects.get(title="Errors on fj-api")
    incident_override_severity(incident=api_incident, level=4, reason="known noisy", user=user)
    for step in [sig("fj-api", "Saturation", 6, severity_hint="info"), sig("fj-db", "Locks", 7)]:
        signal_ingest(signal=step)


def snapshot() -> dict:
    """What the two paths must agree on, with database ids replaced by titles and names."""
    titles = dict(Alert.objects.values_list("pk", "title"))
    incidents = {i.pk: i.title for i in Incident.objects.all()}
    services = {f"service:{pk}": f"service:{name}" for pk, name in Service.objects.values_list("pk", "name")}
    rules = {str(pk): name for pk, name in GroupingRule.objects.values_list("pk", "name")}

    def key(value: str) -> str:
        if value.startswith("rule:"):
            _, pk, digest = value.split(":")
            return f"rule:{rules[pk]}:{digest}"
        return services.get(value, value)

    return {
        "alerts": sorted(
            (a.title, a.service.name, incidents.get(a.incident_id), a.grouped_by,
             a.grouping_rule.name if a.grouping_rule else None, a.count, a.status, a.hold, a.labels, a.first_seen,
             a.last_seen, a.resolved_at, a.kpis, a.severity_hint, a.source_name, a.payload, a.links, a.flips)
            for a in Alert.objects.select_related("service", "grouping_rule")
        ),
        "incidents": sorted(
            (i.title, i.service.name, i.status, key(i.grouping_key), i.alert_count, i.severity, i.severity_source,
             i.severity_reasons, i.severity_features, i.rules_severity, i.opened_at, i.last_alert_at,
             i.proposed_severity)
            for i in Incident.objects.select_related("service")
        ),
        "timeline": sorted(
            (incidents[e.incident_id], e.kind, e.at if e.at < T0 + timedelta(hours=1) else "wall clock",
             e.actor_name, e.message,
             sorted((k, titles.get(v) if k == "alert_id" else v) for k, v in e.data.items()))
            for e in TimelineEvent.objects.exclude(kind__in=["notification_sent", "escalated", "playbook_step"])
        ),
    }


def clear() -> None:
    TimelineEvent.objects.all().delete()
    Alert.objects.all().delete()
    Incident.objects.all().delete()
    GroupingRule.objects.all().delete()
    Service.objects.filter(name__startswith="fj-").delete()


@pytest.mark.django_db
def test_the_fast_path_stores_what_the_general_path_stores(make_service, make_team, make_user, fast_joins):
    team, user = make_team(), make_user("operator")
    setup_services(make_service, team)
    scenario(user)
    fast = snapshot()
    assert fast_joins["fast"] >= 6  # service, dependency both ways, fingerprint, label rule, after an override
    clear()
    fast_joins["off"]()
    setup_services(make_service, team)
    scenario(user)
    general = snapshot()
    assert fast == general


@pytest.mark.django_db
def test_a_join_that_loses_a_race_with_an_override_reads_again_and_keeps_the_override(make_service, make_user,
                                                                                      monkeypatch):
    service = make_service("fj-race", tier=Tier.TIER_4)
    opened = signal_ingest(signal=sig(service.name, "Errors", 0, severity_hint="info"))
    user = make_user("operator")
    real_read = signal_services.fast_join.placement_read
    reads = []

    def read_then_override(**kwargs):
        read = real_read(**kwargs)
        if not reads:  # between this read and the write, an operator raises the level
            incident_override_severity(incident=opened.incident_id, level=3, reason="payments path", user=user)
        reads.append(read)
        return read

    monkeypatch.setattr(signal_services.fast_join, "placement_read", read_then_override)
    joined = signal_ingest(signal=sig(service.name, "Latency", 1, severity_hint="info"))
    assert joined.outcome == "joined" and joined.incident_id == opened.incident_id
    assert len(reads) == 2  # the first write found the incident changed and wrote nothing
    incident = Incident.objects.get()
    assert (incident.severity, incident.severity_source, incident.alert_count) == (3, "override", 2)
    assert incident.severity_reasons[0] == f"Set by {user.get_username()}: payments path"
    assert incident.severity_features["alerts"] == 2
    assert Alert.objects.count() == 2
    assert incident.timeline.filter(kind="alert_joined").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_joins_count_every_alert_once(make_service):
    db = make_service("fj-c-db", tier=Tier.TIER_4)
    api = make_service("fj-c-api", tier=Tier.TIER_4)
    service_set_dependencies(service=api, depends_on=[db])
    opened = signal_ingest(signal=sig(api.name, "First", 0))
    per_thread, threads_n = 10, 4
    barrier = threading.Barrier(threads_n)
    errors: list[Exception] = []

    def run(t: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                service = (db, api)[(t + i) % 2].name
                result = signal_ingest(signal=sig(service, f"F{t}-{i}", 1))
                assert result.incident_id == opened.incident_id and result.outcome == "joined"
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(t,)) for t in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    incident = Incident.objects.get()
    joined = threads_n * per_thread
    assert incident.alert_count == joined + 1 == Alert.objects.filter(incident=incident).count()
    assert incident.severity_features["alerts"] == joined + 1
    assert incident.timeline.filter(kind="alert_joined").count() == joined


@pytest.mark.django_db
def test_a_batch_opens_held_and_new_faults_in_order(make_service):
    from incidents.services import signals_ingest

    noisy = make_service("fj-b-noisy", tier=Tier.TIER_4)
    ServiceIncidentSettings.objects.create(service=noisy, min_repeat_count=3)
    steady = make_service("fj-b-steady", tier=Tier.TIER_4)
    opened = signal_ingest(signal=sig(steady.name, "Disk", 0))
    held = sig(noisy.name, "Flaky", 1)
    results = signals_ingest(signals=[held, sig(steady.name, "CPU", 1), held, sig(steady.name, "CPU", 2), held])
    assert [r.outcome for r in results] == ["pending", "joined", "pending", "deduplicated", "opened"]
    assert results[1].incident_id == results[3].incident_id == opened.incident_id
    assert Alert.objects.get(title="Flaky on fj-b-noisy").count == 3
    assert Alert.objects.get(title="CPU on fj-b-steady").count == 2
    # The held alert is firing now: a later batch counts it with the other repeats.
    again = signals_ingest(signals=[held, sig(steady.name, "CPU", 3)])
    assert [r.outcome for r in again] == ["deduplicated", "deduplicated"]


@pytest.mark.django_db
@pytest.mark.parametrize("old_first", [True, False], ids=["old-alert-first", "trigger-first"])
@pytest.mark.parametrize("path", ["fast", "general"])
def test_an_alert_stamped_past_the_window_joins_its_services_open_incident_on_both_paths(
        make_service, fast_joins, path, old_first):
    # Alertmanager's startsAt may be older than the correlation window; a PagerDuty trigger for
    # the same service a moment later is stamped now. Windows run on arrival: one incident.
    if path == "general":
        fast_joins["off"]()
    service = make_service("fj-arrival", tier=Tier.TIER_3)
    now = timezone.now()
    old = SignalIn(source_kind="alertmanager", source_name="am", service=service.name, title="Disk full",
                   labels={"alertname": "DiskFull"}, occurred_at=now - timedelta(minutes=45))
    trigger = SignalIn(source_kind="pagerduty", source_name="pd", service=service.name, title="Checkout down",
                       fingerprint="pd-checkout-1", occurred_at=now)
    first, second = (old, trigger) if old_first else (trigger, old)
    opened = signal_ingest(signal=first)
    joined = signal_ingest(signal=second)
    assert (opened.outcome, joined.outcome) == ("opened", "joined")
    assert joined.incident_id == opened.incident_id
    incident = Incident.objects.get(service=service)
    assert incident.grouping_key == f"service:{service.pk}" and incident.alert_count == 2
    assert incident.opened_at == (old.occurred_at if old_first else now)  # the source's time, for MTTD
    assert fast_joins["fast"] == (1 if path == "fast" else 0)
