"""Correlation: which open incident a new alert joins (and by which rule), or open a new one."""
from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from core.models import Service
from incidents import events
from incidents.choices import OPEN_INCIDENT_STATUSES, CorrelationRule, IncidentStatus
from incidents.models import Alert, GroupingRule, Incident

from . import response
from .classifier import incident_apply_proposal
from .commit import commit_durable
from .fast_join import IncidentState, PlacementRead
from .lifecycle import incident_transition
from .severity import (
    SeverityFeatures,
    features_for_alert,
    features_merge,
    incident_reassess_severity,
    severity_assess,
)

# Dependency hops followed each way: a database fault explains its API and that API's
# frontend (two hops); beyond that the link is too thin to group on.
DEPENDENCY_DEPTH = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinChoice:
    incident: IncidentState
    rule: str
    detail: str = ""
    grouping_rule_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    incident: Incident
    rule: str
    opened: bool


def service_key(service_id: int) -> str:
    return f"service:{service_id}"


def rule_key(rule: GroupingRule, labels: dict[str, str]) -> str:
    return _rule_key(rule.pk, rule.labels, labels)


def _rule_key(rule_id: int, names: list[str], labels: dict[str, str]) -> str:
    values = "\x1f".join(f"{name}={labels[name]}" for name in names)
    return f"rule:{rule_id}:{hashlib.sha1(values.encode()).hexdigest()[:24]}"


def related_service_ids(service_id: int, *, depth: int = DEPENDENCY_DEPTH) -> set[int]:
    """Services upstream (what it depends on) and downstream (what depends on it), within `depth` hops."""
    up: dict[int, set[int]] = defaultdict(set)
    down: dict[int, set[int]] = defaultdict(set)
    for src, dst in Service.depends_on.through.objects.values_list("from_service_id", "to_service_id"):
        up[src].add(dst)
        down[dst].add(src)
    found: set[int] = set()
    for graph in (up, down):
        frontier = {service_id}
        for _ in range(depth):
            frontier = {n for node in frontier for n in graph[node]} - found - {service_id}
            found |= frontier
    return found


def _open(qs):
    return qs.filter(status__in=OPEN_INCIDENT_STATUSES)


def alert_place(*, alert: Alert, tier: int, team_id: int | None, window: timedelta, reopen_window: timedelta,
                now: datetime, arrived: datetime | None = None, prior_incident_id: int | None = None) -> Placement:
    """Join or open; an IntegrityError from the open-key constraint propagates to the caller's retry.

    `now` is the alert's own time (timeline, severity, reopening); `arrived` is when it reached us
    (default `now`), which the correlation windows measure: an Alertmanager alert whose startsAt
    is an hour old still belongs with what its service sent a minute ago.
    `prior_incident_id` is the incident of the last alert with this fingerprint (the caller knows it).
    """
    arrived = arrived or now
    cutoff = arrived - window
    # 1. Fingerprint: the fault was seen before and its incident is still open (or just resolved).
    candidate = alert.incident_id or prior_incident_id
    if candidate:
        incident = Incident.objects.filter(pk=candidate).first()
        if incident is not None and incident.is_open:
            return _join(incident, alert, CorrelationRule.FINGERPRINT, tier=tier, now=now, arrived=arrived)
        if incident is not None and incident.can_transition_to(
            IncidentStatus.TRIGGERED, now=now, reopen_window=reopen_window
        ) and not _open(Incident.objects.filter(grouping_key=incident.grouping_key)).exists():
            return _reopen(incident, alert, tier=tier, now=now, arrived=arrived)
    # 2. Label grouping rules (Alertmanager group_by), first matching rule decides.
    for rule in GroupingRule.objects.filter(enabled=True).filter(Q(service=None) | Q(service_id=alert.service_id)):
        if not rule.labels or not all(name in alert.labels for name in rule.labels):
            continue
        key = rule_key(rule, alert.labels)
        incident = _open(Incident.objects).filter(grouping_key=key).first()
        alert.grouping_rule = rule
        rule_window = timedelta(minutes=rule.window_minutes)
        since = arrived - rule_window
        if incident is not None and incident.last_received_at >= since:
            return _join(incident, alert, CorrelationRule.LABELS, tier=tier, now=now, arrived=arrived,
                         detail=f"rule {rule.name}")
        return _create(alert, key=key, tier=tier, team_id=team_id, arrived=arrived, since=since)
    # 3./4. Same service, else a service it depends on (or that depends on it), within the window:
    # one query for both, the same service preferred.
    nearby = {alert.service_id, *related_service_ids(alert.service_id)}
    candidates = list(_open(Incident.objects).select_related("service").filter(
        service_id__in=nearby, last_received_at__gte=cutoff
    ).order_by("-last_received_at")[:20])
    own = next((i for i in candidates if i.service_id == alert.service_id), None)
    if own is not None:
        return _join(own, alert, CorrelationRule.SERVICE, tier=tier, now=now, arrived=arrived)
    if candidates:
        return _join(candidates[0], alert, CorrelationRule.DEPENDENCY, tier=tier, now=now, arrived=arrived,
                     detail=f"dependency of {candidates[0].service.name}")
    return _create(alert, key=service_key(alert.service_id), tier=tier, team_id=team_id, arrived=arrived,
                   since=cutoff)


def join_choice(*, alert: Alert, read: PlacementRead, now: datetime, arrived: datetime,
                keyed: Callable[[str], IncidentState | None]) -> JoinChoice | None:
    """The open incident `alert_place` would have a new alert join, and by which rule.

    None when `alert_place` would do something else (reopen, open an incident). `keyed` finds
    the open incident holding a label rule's grouping key. `now` and `arrived` mean what they
    mean there (`read.nearest` was chosen with `arrived`).
    """
    prior = read.prior_incident
    if prior is not None:
        if prior.status in OPEN_INCIDENT_STATUSES:
            return JoinChoice(incident=prior, rule=CorrelationRule.FINGERPRINT)
        reopen_window = timedelta(minutes=read.settings.reopen_window_minutes)
        if Incident(status=prior.status, resolved_at=prior.resolved_at).can_transition_to(
                IncidentStatus.TRIGGERED, now=now, reopen_window=reopen_window):
            return None
    for rule_id, name, names, window_minutes in read.rules:
        if not names or not all(n in alert.labels for n in names):
            continue
        incident = keyed(_rule_key(rule_id, names, alert.labels))
        if incident is not None and incident.last_received_at >= arrived - timedelta(minutes=window_minutes):
            return JoinChoice(incident=incident, rule=CorrelationRule.LABELS, detail=f"rule {name}",
                              grouping_rule_id=rule_id)
        return None
    nearest = read.nearest
    if nearest is None:
        return None
    if nearest.service_id == alert.service_id:
        return JoinChoice(incident=nearest, rule=CorrelationRule.SERVICE)
    return JoinChoice(incident=nearest, rule=CorrelationRule.DEPENDENCY,
                      detail=f"dependency of {nearest.service_name}")


class PlacementRace(Exception):
    """The chosen incident changed state before it could be locked; the caller retries."""


def _join(incident: Incident, alert: Alert, rule: str, *, tier: int, now: datetime, arrived: datetime,
          detail: str = "") -> Placement:
    alert.incident = incident
    alert.grouped_by = rule
    alert.save(update_fields=["incident", "grouped_by", "grouping_rule"])
    events.alert_joined(incident=incident, alert=alert, rule=rule, detail=detail)
    # Lock last and briefly: concurrent joins to one incident queue here, so nothing slow follows.
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if not incident.is_open:
        raise PlacementRace(f"incident {incident.pk} closed meanwhile")
    incident.last_alert_at = max(incident.last_alert_at, alert.last_seen)
    incident.last_received_at = max(incident.last_received_at, arrived)
    incident.alert_count += 1
    features = features_merge(SeverityFeatures.from_dict(incident.severity_features),
                              features_for_alert(alert, tier=tier))
    incident_reassess_severity(incident=incident, features=features, now=now, save=False)
    incident_apply_proposal(incident=incident)
    incident.save(update_fields=["last_alert_at", "last_received_at", "alert_count", "severity", "severity_source", "severity_reasons",
                                 "severity_features", "rules_severity", "proposed_severity", "proposed_confidence"])
    return Placement(incident=incident, rule=rule, opened=False)


def _reopen(incident: Incident, alert: Alert, *, tier: int, now: datetime, arrived: datetime) -> Placement:
    incident = incident_transition(incident=incident, to=IncidentStatus.TRIGGERED,
                                   actor_name=alert.source_name or "alert", note=f"alert “{alert.title}” fired again",
                                   now=now)
    return _join(incident, alert, CorrelationRule.REOPENED, tier=tier, now=now, arrived=arrived)


def _create(alert: Alert, *, key: str, tier: int, team_id: int | None, arrived: datetime,
            since: datetime) -> Placement:
    """Open an incident under `key`; one holding it that received an alert `since` would have been
    joined, had the caller seen it."""
    commit_durable()  # a new incident pages people: it must survive a crash
    holder = _open(Incident.objects.filter(grouping_key=key)).values_list("pk", "last_received_at").first()
    if holder is not None:
        pk, last_received_at = holder
        if last_received_at >= since:
            # Another worker opened it after this one looked for incidents to join: join it instead.
            raise PlacementRace(f"incident {pk} took {key} meanwhile")
        # Past its window, it stops collecting alerts under that key (renamed), so the new
        # incident can take it.
        Incident.objects.filter(pk=pk).update(grouping_key=f"{key}#{pk}")
    features = features_for_alert(alert, tier=tier)
    assessment = severity_assess(features=features)
    with transaction.atomic():  # savepoint: a lost race rolls back only this insert
        incident = Incident.objects.create(
            title=alert.title, service_id=alert.service_id, team_id=team_id, severity=assessment.level,
            rules_severity=assessment.level, severity_reasons=assessment.reasons,
            severity_features=features.as_dict(), grouping_key=key, opened_at=alert.last_seen,
            last_alert_at=alert.last_seen, last_received_at=arrived, alert_count=1,
        )
    alert.incident = incident
    alert.grouped_by = CorrelationRule.OPENED
    alert.save(update_fields=["incident", "grouped_by", "grouping_rule"])
    events.incident_opened(incident=incident, alert=alert)
    if incident_apply_proposal(incident=incident) is not None:
        incident.save(update_fields=["proposed_severity", "proposed_confidence"])
    incident_id = incident.pk
    transaction.on_commit(lambda: response.on_incident_opened(incident_id=incident_id))
    return Placement(incident=incident, rule=CorrelationRule.OPENED, opened=True)
