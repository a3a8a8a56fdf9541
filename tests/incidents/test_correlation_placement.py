"""The placement decision on its own: facts in, join/reopen/open out, no database."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from incidents.choices import CorrelationRule
from incidents.services.placement import (
    IncidentFacts,
    Join,
    Open,
    PlacementFacts,
    Reopen,
    RuleFacts,
    neighbourhood,
    placement_decide,
    rule_key,
    service_key,
)

NOW = datetime(2025, 1, 1, 12, tzinfo=UTC)


@dataclass
class Facts:
    """A reader answering from lists, recording what it was asked."""

    rule_list: list[RuleFacts] = field(default_factory=list)
    keyed: dict[str, IncidentFacts] = field(default_factory=dict)
    near: list[IncidentFacts] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)

    def rules(self) -> Sequence[RuleFacts]:
        self.asked.append("rules")
        return self.rule_list

    def open_by_key(self, key: str) -> IncidentFacts | None:
        self.asked.append(f"key {key}")
        return self.keyed.get(key)

    def nearby(self, *, since: datetime, limit: int) -> Sequence[IncidentFacts]:
        self.asked.append("nearby")
        return self.near


def incident(pk: int, *, service: int = 1, status: str = "triggered", minutes_ago: float = 1, key: str = "",
             reopenable: bool = False) -> IncidentFacts:
    return IncidentFacts(id=pk, status=status, service_id=service, grouping_key=key, service_name=f"svc-{service}",
                         last_received_at=NOW - timedelta(minutes=minutes_ago), reopenable=reopenable)


def decide(read: Facts, *, prior: IncidentFacts | None = None, labels: dict[str, str] | None = None):
    return placement_decide(PlacementFacts(service_id=1, labels=labels or {"alertname": "A"}, arrived=NOW,
                                           window=timedelta(minutes=30), prior=prior, read=read))


def test_an_open_incident_of_the_same_fault_is_joined_without_reading_anything_else():
    read = Facts()
    assert decide(read, prior=incident(7)) == Join(incident_id=7, rule=CorrelationRule.FINGERPRINT)
    assert read.asked == []


def test_a_resolved_incident_is_reopened_only_while_nobody_holds_its_key():
    prior = incident(7, status="resolved", key="service:1", reopenable=True)
    assert decide(Facts(), prior=prior) == Reopen(incident_id=7)
    holder = incident(8, key="service:1")
    taken = Facts(keyed={"service:1": holder}, near=[holder])
    assert decide(taken, prior=prior) == Join(incident_id=8, rule=CorrelationRule.SERVICE)


def test_the_first_matching_label_rule_decides_even_when_its_incident_is_stale():
    rules = [RuleFacts(id=1, name="by zone", labels=("zone",), window_minutes=60),
             RuleFacts(id=2, name="by cluster", labels=("cluster",), window_minutes=10)]
    labels = {"alertname": "A", "cluster": "eu"}
    key = rule_key(2, ("cluster",), labels)
    fresh = Facts(rule_list=rules, keyed={key: incident(3, minutes_ago=5)})
    assert decide(fresh, labels=labels) == Join(incident_id=3, rule=CorrelationRule.LABELS, detail="rule by cluster",
                                                grouping_rule_id=2)
    stale = Facts(rule_list=rules, keyed={key: incident(3, minutes_ago=11)}, near=[incident(4)])
    assert decide(stale, labels=labels) == Open(key=key, since=NOW - timedelta(minutes=10),
                                                until=NOW + timedelta(minutes=10), grouping_rule_id=2)
    assert "nearby" not in stale.asked


def test_the_services_own_incident_beats_a_more_recent_dependency_and_ties_go_to_the_newest_id():
    own, dependency = incident(5, minutes_ago=3), incident(6, service=2, minutes_ago=1)
    assert decide(Facts(near=[dependency, own])) == Join(incident_id=5, rule=CorrelationRule.SERVICE)
    twins = [incident(9, service=2), incident(11, service=3)]
    assert decide(Facts(near=twins)) == Join(incident_id=11, rule=CorrelationRule.DEPENDENCY,
                                             detail="dependency of svc-3")


def test_nothing_nearby_within_the_window_opens_an_incident_for_the_service():
    assert decide(Facts(near=[incident(5, minutes_ago=31)])) == Open(key=service_key(1),
                                                                     since=NOW - timedelta(minutes=30),
                                                                     until=NOW + timedelta(minutes=30))


def test_history_played_back_does_not_join_an_incident_whose_alerts_arrived_a_window_later():
    # The demo replays last week with arrival times: an incident of today is not that alert's incident.
    later = incident(5, minutes_ago=-31)
    assert decide(Facts(near=[later])) == Open(key=service_key(1), since=NOW - timedelta(minutes=30),
                                               until=NOW + timedelta(minutes=30))
    assert decide(Facts(near=[incident(5, minutes_ago=-29)])) == Join(incident_id=5, rule=CorrelationRule.SERVICE)


def test_the_neighbourhood_walks_two_hops_each_way_but_not_down_through_what_is_upstream():
    chain = [(1, 2), (2, 3), (3, 4), (0, 1), (9, 0)]  # 9 -> 0 -> 1 -> 2 -> 3 -> 4 (dependent, dependency)
    assert neighbourhood(1, edges=chain) == {2, 3, 0, 9}
    assert neighbourhood(2, edges=[(2, 3), (4, 3)]) == {3}  # 4 shares a dependency: not a neighbour
    # 2 is both upstream and downstream of 1 (a loop): the downstream walk does not continue to 5 through it.
    assert neighbourhood(1, edges=[(1, 2), (2, 1), (5, 2)]) == {2}
