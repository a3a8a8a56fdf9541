"""Correlation on the general path: read the placement facts with the ORM, decide (`placement`), then store it."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet

from core.models import Service
from incidents import events
from incidents.choices import OPEN_INCIDENT_STATUSES, WORKED_STATUSES, CorrelationRule, IncidentStatus
from incidents.models import Alert, GroupingRule, Incident

from . import response
from .classifier import incident_apply_proposal
from .commit import commit_durable
from .lifecycle import incident_transition
from .placement import (
    DEPENDENCY_DEPTH,
    IncidentFacts,
    Join,
    Open,
    PlacementFacts,
    Reopen,
    RuleFacts,
    neighbourhood,
    placement_decide,
)
from .severity import (
    SeverityFeatures,
    features_for_alert,
    features_merge,
    incident_reassess_severity,
    severity_assess,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    incident: Incident
    rule: str
    opened: bool


def related_service_ids(service_id: int, *, depth: int = DEPENDENCY_DEPTH) -> set[int]:
    """Services upstream (what it depends on) and downstream (what depends on it), within `depth` hops."""
    edges = Service.depends_on.through.objects.values_list("from_service_id", "to_service_id")
    return neighbourhood(service_id, edges=edges, depth=depth)


def _open(qs: QuerySet[Incident]) -> QuerySet[Incident]:
    return qs.filter(status__in=OPEN_INCIDENT_STATUSES)


def _facts(incident: Incident, *, service_name: str = "", now: datetime | None = None,
           reopen_window: timedelta | None = None) -> IncidentFacts:
    """`now` and `reopen_window`: also say whether it may be reopened then (the model's invariant)."""
    reopenable = (now is not None and not incident.is_open
                  and incident.can_transition_to(IncidentStatus.TRIGGERED, now=now, reopen_window=reopen_window))
    return IncidentFacts(id=incident.pk, status=incident.status, service_id=incident.service_id,
                         last_received_at=incident.last_received_at, grouping_key=incident.grouping_key,
                         service_name=service_name, reopenable=reopenable)


class _OrmReader:
    """Answers the decision's questions with the ORM, keeping the incidents it read for the write."""

    def __init__(self, *, service_id: int) -> None:
        self.service_id = service_id
        self.incidents: dict[int, Incident] = {}
        self.rules_by_id: dict[int, GroupingRule] = {}

    def _seen(self, incident: Incident | None, *, service_name: str = "") -> IncidentFacts | None:
        if incident is None:
            return None
        self.incidents[incident.pk] = incident
        return _facts(incident, service_name=service_name)

    def rules(self) -> Sequence[RuleFacts]:
        rules = list(GroupingRule.objects.filter(enabled=True).filter(Q(service=None) | Q(service_id=self.service_id))
                     .order_by("priority", "name", "id"))
        self.rules_by_id = {rule.pk: rule for rule in rules}
        return [RuleFacts(id=r.pk, name=r.name, labels=tuple(r.labels or ()), window_minutes=r.window_minutes)
                for r in rules]

    def open_by_key(self, key: str) -> IncidentFacts | None:
        return self._seen(_open(Incident.objects.all()).filter(grouping_key=key).first())

    def nearby(self, *, since: datetime, limit: int) -> Sequence[IncidentFacts]:
        # One query for the service and its neighbourhood; the decision prefers the service's own.
        ids = {self.service_id, *related_service_ids(self.service_id)}
        found = _open(Incident.objects.all()).select_related("service").filter(
            service_id__in=ids, last_received_at__gte=since).order_by("-last_received_at", "-id")[:limit]
        return [facts for incident in found if (facts := self._seen(incident, service_name=incident.service.name))]


def alert_place(*, alert: Alert, tier: int, team_id: int | None, window: timedelta, reopen_window: timedelta,
                now: datetime, arrived: datetime | None = None, prior_incident_id: int | None = None) -> Placement:
    """Join or open; an IntegrityError from the open-key constraint propagates to the caller's retry.

    `now` is the alert's own time (timeline, severity, reopening); `arrived` is when it reached us
    (default `now`), which the correlation windows measure: an Alertmanager alert whose startsAt
    is an hour old still belongs with what its service sent a minute ago.
    `prior_incident_id` is the incident of the last alert with this fingerprint (the caller knows it).
    """
    arrived = arrived or now
    read = _OrmReader(service_id=alert.service_id)
    prior = None
    candidate = alert.incident_id or prior_incident_id
    if candidate:
        incident = Incident.objects.filter(pk=candidate).first()
        if incident is not None:
            read.incidents[incident.pk] = incident
            prior = _facts(incident, now=now, reopen_window=reopen_window)
    decision = placement_decide(PlacementFacts(service_id=alert.service_id, labels=alert.labels, arrived=arrived,
                                               window=window, prior=prior, read=read))
    if isinstance(decision, Reopen):
        return _reopen(read.incidents[decision.incident_id], alert, tier=tier, now=now, arrived=arrived)
    if decision.grouping_rule_id is not None:
        alert.grouping_rule = read.rules_by_id[decision.grouping_rule_id]
    if isinstance(decision, Join):
        return _join(read.incidents[decision.incident_id], alert, decision.rule, tier=tier, now=now,
                     arrived=arrived, detail=decision.detail)
    assert isinstance(decision, Open)
    return _create(alert, key=decision.key, tier=tier, team_id=team_id, arrived=arrived, since=decision.since,
                   until=decision.until)


class PlacementRace(Exception):
    """The chosen incident changed state before it could be locked; the caller retries."""


def _join(incident: Incident, alert: Alert, rule: str, *, tier: int, now: datetime, arrived: datetime,
          detail: str = "") -> Placement:
    alert.incident = incident
    alert.grouped_by = rule
    alert.grouped_detail = detail[:200]
    alert.save(update_fields=["incident", "grouped_by", "grouping_rule", "grouped_detail"])
    events.alert_joined(incident=incident, alert=alert, rule=rule, detail=detail)
    # Lock last and briefly: concurrent joins to one incident queue here, so nothing slow follows.
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if not incident.is_open:
        raise PlacementRace(f"incident {incident.pk} closed meanwhile")
    worked = incident.status in WORKED_STATUSES
    if worked:
        # Someone is on it already: the alert is flagged for the queue and page, and its assignee is told.
        alert.joined_after_ack = True
        alert.save(update_fields=["joined_after_ack"])
        incident.new_since_ack_count += 1
        incident_id, alert_id = incident.pk, alert.pk
        transaction.on_commit(lambda: response.on_alert_joined_after_ack(incident_id=incident_id, alert_id=alert_id))
    incident.last_alert_at = max(incident.last_alert_at, alert.last_seen)
    incident.last_received_at = max(incident.last_received_at, arrived)
    incident.alert_count += 1
    features = features_merge(SeverityFeatures.from_dict(incident.severity_features),
                              features_for_alert(alert, tier=tier))
    incident_reassess_severity(incident=incident, features=features, now=now, save=False)
    incident_apply_proposal(incident=incident)
    incident.save(update_fields=["last_alert_at", "last_received_at", "alert_count", "severity", "severity_source",
                                 "severity_reasons", "severity_features", "rules_severity", "proposed_severity",
                                 "proposed_confidence", *(["new_since_ack_count"] if worked else [])])
    return Placement(incident=incident, rule=rule, opened=False)


def _reopen(incident: Incident, alert: Alert, *, tier: int, now: datetime, arrived: datetime) -> Placement:
    incident = incident_transition(incident=incident, to=IncidentStatus.TRIGGERED,
                                   actor_name=alert.source_name or "alert", note=f"alert “{alert.title}” fired again",
                                   now=now)
    return _join(incident, alert, CorrelationRule.REOPENED, tier=tier, now=now, arrived=arrived)


def _create(alert: Alert, *, key: str, tier: int, team_id: int | None, arrived: datetime,
            since: datetime, until: datetime) -> Placement:
    """Open an incident under `key`; one holding it that received an alert between `since` and
    `until` would have been joined, had the caller seen it."""
    commit_durable()  # a new incident pages people: it must survive a crash
    holder = _open(Incident.objects.filter(grouping_key=key)).values_list("pk", "last_received_at").first()
    if holder is not None:
        pk, last_received_at = holder
        if since <= last_received_at <= until:
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
