"""The ranking for one incident: its alerts, the service graph and registered anomaly evidence.

Computed on read and cached: the cache key holds the incident's alert count and last alert time, so an
alert joining (or a repeat) makes the next read recompute, and reads in between cost one cache hit.
Nothing runs on the signal path, so intake is never slowed by root-cause analysis.
"""
from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from core.models import Service
from incidents.models import Alert, Incident

from .evidence import evidence_collect
from .ranking import AlertEvidence, Candidate, Ranking, rank

CACHE_SECONDS = 300  # telemetry evidence ages too; recompute at least every five minutes
LOOKBACK = timedelta(hours=1)  # anomalies this long before the incident opened may be where it began
TOP = 5  # candidates shown


def service_graph() -> dict[str, set[str]]:
    """`depends_on` of every service by name: one query over the through table."""
    names = dict(Service.objects.values_list("id", "name"))
    graph: dict[str, set[str]] = {name: set() for name in names.values()}
    through = Service.depends_on.through
    for src, dst in through.objects.values_list("from_service_id", "to_service_id"):
        graph[names[src]].add(names[dst])
    return graph


def _callees_closure(start: set[str], graph: dict[str, set[str]]) -> set[str]:
    seen = set(start)
    queue = deque(start)
    while queue:
        for c in graph.get(queue.popleft(), ()):
            if c not in seen:
                seen.add(c)
                queue.append(c)
    return seen


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value else None


def incident_ranking(*, incident: Incident, now: datetime | None = None) -> Ranking:
    now = now or timezone.now()
    alerts = list(Alert.objects.filter(incident=incident).select_related("service")
                  .only("title", "severity_hint", "first_seen", "service__name")[:500])
    graph = service_graph()
    alert_services = {a.service.name for a in alerts} | {incident.service.name}
    scope = _callees_closure(alert_services, graph)
    end = max(incident.last_alert_at, incident.opened_at) + timedelta(minutes=5)
    metrics = evidence_collect(services=sorted(scope), start=incident.opened_at - LOOKBACK, end=min(end, now))
    alert_evidence = [
        AlertEvidence(node=a.service.name, title=a.title, severity=a.severity_hint, first_seen=_epoch(a.first_seen))
        for a in alerts
    ]
    sub = {n: graph.get(n, set()) & scope for n in scope}
    return rank(callees=sub, metrics=metrics, alerts=alert_evidence, target=symptom(incident.service.name,
                alert_services, graph), limit=TOP)


def symptom(primary: str, alert_services: set[str], graph: dict[str, set[str]]) -> str:
    """Where the problem shows to users: the alerting service that (transitively) calls the most other
    alerting services; the incident's own service on a tie."""
    def reach(name: str) -> int:
        return len(_callees_closure({name}, graph) & alert_services)

    return max(sorted(alert_services), key=lambda n: (reach(n), n == primary))


def _candidate_data(c: Candidate) -> dict[str, Any]:
    return {
        "service": c.node, "score": c.score, "strength": c.strength, "basis": c.basis,
        "onset": datetime.fromtimestamp(c.onset, tz=UTC).isoformat() if c.onset else None,
        "metrics": [{"metric": m.metric, "z": round(m.z, 1), "value": m.value, "expected": m.expected,
                     "onset": datetime.fromtimestamp(m.onset, tz=UTC).isoformat() if m.onset else None}
                    for m in c.metrics],
        "alerts": list(c.alerts),
        "path": list(c.path),
        "explained_by": c.explained_by,
    }


def incident_rootcause(*, incident: Incident, use_cache: bool = True) -> dict[str, Any]:
    """JSON-ready ranking for the page and the API; `basis` says what it rests on."""
    key = f"rootcause:{incident.pk}:{incident.alert_count}:{incident.last_alert_at.timestamp():.0f}"
    if use_cache:
        hit = cache.get(key)
        if hit is not None:
            return hit
    ranking = incident_ranking(incident=incident)
    notes = {
        "telemetry": "Ranked from anomalies in the services' metrics, their alerts and the dependency graph.",
        "alerts": "No telemetry for these services: ranked from alerts and the dependency graph only.",
        "graph": "No telemetry and no alert evidence: ordered by the dependency graph only.",
    }
    data = {
        "incident": incident.pk, "symptom": ranking.target, "basis": ranking.basis, "note": notes[ranking.basis],
        "computed_at": timezone.now().isoformat(),
        "candidates": [_candidate_data(c) for c in ranking.candidates],
    }
    cache.set(key, data, CACHE_SECONDS)
    return data
