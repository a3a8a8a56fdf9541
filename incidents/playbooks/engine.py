"""Playbook matching: which enabled playbook fits an incident best, and why (pure, no writes)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Weights rank how specific a criterion is: a playbook written for one service beats one for a label,
# which beats one for a signal source, which beats one for a level only.
WEIGHT_SERVICE = 16
WEIGHT_LABEL = 8
WEIGHT_KEYWORD = 6
WEIGHT_SOURCE_KIND = 4
WEIGHT_SEVERITY = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentFacts:
    """What matching looks at, gathered once per incident."""

    service_id: int | None
    severity: int
    title: str
    labels: Mapping[str, str]
    source_kinds: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybookMatch:
    playbook_id: int
    score: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybookCriteria:
    playbook_id: int
    priority: int
    service_ids: frozenset[int]
    severities: frozenset[int]
    source_kinds: frozenset[str]
    labels: Mapping[str, str]
    keywords: tuple[str, ...]


def match(criteria: PlaybookCriteria, facts: IncidentFacts) -> PlaybookMatch | None:
    """Every criterion the playbook sets must hold; the score says how specific the fit is."""
    score, reasons = 0, []
    if criteria.service_ids:
        if facts.service_id not in criteria.service_ids:
            return None
        score += WEIGHT_SERVICE
        reasons.append("service")
    if criteria.labels:
        if any(str(facts.labels.get(k, "")) != str(v) for k, v in criteria.labels.items()):
            return None
        score += WEIGHT_LABEL * len(criteria.labels)
        reasons.append("labels " + ", ".join(f"{k}={v}" for k, v in sorted(criteria.labels.items())))
    if criteria.keywords:
        title = facts.title.lower()
        hits = [word for word in criteria.keywords if word in title]
        if not hits:
            return None
        score += WEIGHT_KEYWORD
        reasons.append("keyword " + hits[0])
    if criteria.source_kinds:
        kinds = criteria.source_kinds & facts.source_kinds
        if not kinds:
            return None
        score += WEIGHT_SOURCE_KIND
        reasons.append("source " + ", ".join(sorted(kinds)))
    if criteria.severities:
        if facts.severity not in criteria.severities:
            return None
        score += WEIGHT_SEVERITY
        reasons.append(f"level {facts.severity}")
    reason = "matched on " + ("; ".join(reasons) or "anything")
    return PlaybookMatch(playbook_id=criteria.playbook_id, score=score, reason=reason)


def best_match(candidates: Iterable[PlaybookCriteria], facts: IncidentFacts) -> PlaybookMatch | None:
    """Highest score, then highest priority, then the oldest playbook (lowest id)."""
    scored = []
    for criteria in candidates:
        found = match(criteria, facts)
        if found is not None:
            scored.append((found.score, criteria.priority, -criteria.playbook_id, found))
    if not scored:
        return None
    return max(scored, key=lambda item: item[:3])[3]
