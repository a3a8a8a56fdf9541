"""Where a firing alert goes (join an open incident, reopen its fault's incident, or open one): decided here, once.

Both ways of storing an alert call `placement_decide`: the general path (`correlation.alert_place`)
reads the facts with the ORM, the PostgreSQL fast path (`fast_ingest.join_fast`) from its one
prepared read. The decision itself touches no database and no clock: it is a function of the facts
alone, so the two paths cannot drift apart (tests/integration/test_placement_property.py
replays random histories through both and compares what they store).

Facts that only some outcomes need (the label rules, the incident holding a key, the open
incidents nearby) are asked of `facts.read` when the decision reaches them, so neither path reads
more than the outcome needs.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from incidents.choices import OPEN_INCIDENT_STATUSES, CorrelationRule

# Dependency hops followed each way: a database fault explains its API and that API's
# frontend (two hops); beyond that the link is too thin to group on.
DEPENDENCY_DEPTH = 2
# The most recently active open incidents nearby that the decision weighs (the service's own is
# preferred among them): an alert storm keeps a few incidents open, never dozens on one neighbourhood.
NEARBY_LIMIT = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentFacts:
    """What the decision needs to know about one incident."""

    id: int
    status: str
    service_id: int
    last_received_at: datetime  # the latest arrival of one of its alerts: windows run on it
    grouping_key: str = ""
    service_name: str = ""
    # Whether it may move back to triggered at the alert's time within the service's reopen
    # window: the incident model's own invariant (`Incident.can_transition_to`), read by the caller.
    reopenable: bool = False

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_INCIDENT_STATUSES


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleFacts:
    """An enabled label grouping rule that applies to the alert's service."""

    id: int
    name: str
    labels: tuple[str, ...]
    window_minutes: int


class FactReader(Protocol):
    """The facts the decision asks for only when it reaches them; each path answers from its own reads."""

    def rules(self) -> Sequence[RuleFacts]:
        """Enabled rules for the service (or every service), lowest priority first, then by name."""
        ...

    def open_by_key(self, key: str) -> IncidentFacts | None:
        """The open incident holding `key`, if any (at most one: a database constraint)."""
        ...

    def nearby(self, *, since: datetime, limit: int) -> Sequence[IncidentFacts]:
        """Open incidents of the service and its dependency neighbourhood received `since`; the `limit`
        most recent (by `last_received_at`, then id)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacementFacts:
    service_id: int
    labels: Mapping[str, str]
    arrived: datetime  # when the alert reached us: the correlation windows measure it
    window: timedelta  # the service's correlation window
    prior: IncidentFacts | None  # the incident of the fault's last alert (same fingerprint), if any
    read: FactReader


@dataclass(frozen=True, slots=True, kw_only=True)
class Join:
    incident_id: int
    rule: str  # a CorrelationRule
    detail: str = ""
    grouping_rule_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reopen:
    incident_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Open:
    key: str  # the grouping key the new incident holds
    # An open incident already holding `key` that received an alert between these would have been
    # joined: finding one at insert time means another worker won the race.
    since: datetime
    until: datetime
    grouping_rule_id: int | None = None


Decision = Join | Reopen | Open


def placement_decide(facts: PlacementFacts) -> Decision:
    """Join, reopen or open: the first rule that applies decides.

    1. Fingerprint: the fault's incident, if open; if it may be reopened (`prior.reopenable`) and
       nobody holds its key meanwhile, reopen it.
    2. Label rules (Alertmanager's group_by): the first rule whose labels the alert has decides,
       joining the open incident holding its key if that received an alert within the rule's window.
    3./4. The service's own open incident within the window, else the most recent one of a
       service in its dependency neighbourhood; else open an incident for the service.

    Windows run on arrival, both ways: an incident whose latest alert arrived more than a window
    after this one did (history played back, as the demo does; live arrivals only move forward) is
    not this alert's incident either.
    """
    prior = facts.prior
    if prior is not None:
        if prior.is_open:
            return Join(incident_id=prior.id, rule=CorrelationRule.FINGERPRINT)
        if prior.reopenable and facts.read.open_by_key(prior.grouping_key) is None:
            return Reopen(incident_id=prior.id)
    for rule in facts.read.rules():
        if not rule.labels or not all(name in facts.labels for name in rule.labels):
            continue
        key = rule_key(rule.id, rule.labels, facts.labels)
        window = timedelta(minutes=rule.window_minutes)
        since, until = facts.arrived - window, facts.arrived + window
        holder = facts.read.open_by_key(key)
        if holder is not None and since <= holder.last_received_at <= until:
            return Join(incident_id=holder.id, rule=CorrelationRule.LABELS, detail=f"rule {rule.name}",
                        grouping_rule_id=rule.id)
        return Open(key=key, since=since, until=until, grouping_rule_id=rule.id)
    cutoff, until = facts.arrived - facts.window, facts.arrived + facts.window
    recent = sorted((i for i in facts.read.nearby(since=cutoff, limit=NEARBY_LIMIT)
                     if cutoff <= i.last_received_at <= until),
                    key=lambda i: (i.last_received_at, i.id), reverse=True)[:NEARBY_LIMIT]
    own = next((i for i in recent if i.service_id == facts.service_id), None)
    if own is not None:
        return Join(incident_id=own.id, rule=CorrelationRule.SERVICE)
    if recent:
        return Join(incident_id=recent[0].id, rule=CorrelationRule.DEPENDENCY,
                    detail=f"dependency of {recent[0].service_name}")
    return Open(key=service_key(facts.service_id), since=cutoff, until=until)


def service_key(service_id: int) -> str:
    return f"service:{service_id}"


def rule_key(rule_id: int, names: Iterable[str], labels: Mapping[str, str]) -> str:
    """The grouping key of a label rule for these label values (hashed: values may be long)."""
    values = "\x1f".join(f"{name}={labels[name]}" for name in names)
    return f"rule:{rule_id}:{hashlib.sha1(values.encode()).hexdigest()[:24]}"


def neighbourhood(service_id: int, *, edges: Iterable[tuple[int, int]], depth: int = DEPENDENCY_DEPTH) -> set[int]:
    """Services upstream (what it depends on) and downstream (what depends on it), within `depth` hops.

    `edges` are (dependent, dependency) pairs. Downstream is walked after upstream and not through
    what is already upstream. The fast path's read computes the same set in SQL (`fast_join`).
    """
    up: dict[int, set[int]] = defaultdict(set)
    down: dict[int, set[int]] = defaultdict(set)
    for src, dst in edges:
        up[src].add(dst)
        down[dst].add(src)
    found: set[int] = set()
    for graph in (up, down):
        frontier = {service_id}
        for _ in range(depth):
            frontier = {n for node in frontier for n in graph[node]} - found - {service_id}
            found |= frontier
    return found
