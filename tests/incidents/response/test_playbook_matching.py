"""Playbook matching rules, pure: every set criterion must hold and the most specific playbook wins."""
from __future__ import annotations

import pytest

from incidents.playbooks.engine import IncidentFacts, PlaybookCriteria, best_match, match


def criteria(pid=1, *, priority=0, services=(), severities=(), kinds=(), labels=None, keywords=()):
    return PlaybookCriteria(
        playbook_id=pid, priority=priority, service_ids=frozenset(services), severities=frozenset(severities),
        source_kinds=frozenset(kinds), labels=labels or {}, keywords=tuple(keywords),
    )


FACTS = IncidentFacts(service_id=7, severity=2, title="Checkout latency p99 above 2s",
                      labels={"alertname": "HighLatency", "env": "prod"}, source_kinds=frozenset({"alertmanager"}))


@pytest.mark.parametrize(
    ("rule", "matches"),
    [
        pytest.param(criteria(), True, id="empty_playbook_matches_anything"),
        pytest.param(criteria(severities=[2, 3]), True, id="level_in_list"),
        pytest.param(criteria(severities=[1]), False, id="level_not_in_list"),
        pytest.param(criteria(services=[7]), True, id="same_service"),
        pytest.param(criteria(services=[8]), False, id="other_service"),
        pytest.param(criteria(labels={"alertname": "HighLatency"}), True, id="label_equal"),
        pytest.param(criteria(labels={"alertname": "HighLatency", "env": "staging"}), False, id="one_label_differs"),
        pytest.param(criteria(kinds=["model"]), False, id="other_source_kind"),
        pytest.param(criteria(keywords=["disk", "latency"]), True, id="keyword_in_title"),
        pytest.param(criteria(keywords=["disk"]), False, id="keyword_missing"),
    ],
)
def test_every_set_criterion_must_hold(rule, matches):
    assert (match(rule, FACTS) is not None) is matches


def test_most_specific_playbook_wins_over_a_level_playbook():
    level = criteria(1, severities=[2])
    latency = criteria(2, keywords=["latency"])
    service = criteria(3, services=[7], severities=[2])

    assert best_match([level, latency], FACTS).playbook_id == 2
    assert best_match([level, latency, service], FACTS).playbook_id == 3


def test_priority_breaks_a_tie_then_the_older_playbook():
    assert best_match([criteria(1, severities=[2]), criteria(2, severities=[2], priority=5)], FACTS).playbook_id == 2
    assert best_match([criteria(4, severities=[2]), criteria(3, severities=[2])], FACTS).playbook_id == 3


def test_no_match_gives_none():
    assert best_match([criteria(1, severities=[4])], FACTS) is None
