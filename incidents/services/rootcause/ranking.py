"""Probable root cause: rank services of a `depends_on` graph by how well a fault there explains what is seen.

A fault propagates from a callee to its callers (a slow database makes the API that calls it slow). So a
node is a good root-cause candidate when (1) it is itself abnormal, strongly (its metrics against their
normal behaviour, or its alerts), (2) what it calls is NOT abnormal, or became abnormal only after it
(otherwise that callee explains it better), (3) its callers are abnormal too (the fault spread the way
faults spread), (4) it lies on a call path from the noticed symptom (the target), and (5) it went wrong
first. The algorithm is pure (numbers and names in, a ranking out) so the service, the backtest and the
injector run the very same code.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# z (distance from normal, in robust standard deviations) that counts as "abnormal" at all: a 3-sigma
# rule, the usual control-chart limit.
ABNORMAL_Z = 3.0
# z at which strength is 1 - 1/e; distances well past 10 sigma are all "very abnormal" and should not
# dominate by their size alone (a metric with a near-zero normal spread gives huge z for tiny changes).
Z_SCALE = 10.0
# How much an abnormal callee takes away from a node: a callee as abnormal as the node explains most of
# it (the node is probably a victim), not all (both can be faulty).
EXPLAINED_WEIGHT = 0.8
# A callee whose anomaly started after the node's cannot have caused it; it explains this much less.
LATER_CALLEE_DISCOUNT = 0.25
# A fault two hops down explains a little less than a direct callee's (other paths may exist).
HOP_DECAY = 0.9
# Share of the score that comes from abnormal callers (evidence that the fault spread from here).
CALLER_SUPPORT_WEIGHT = 0.25
# Nodes the symptom does not (transitively) call are kept, at this factor: the graph may be incomplete.
OFF_PATH_FACTOR = 0.3
# Onsets this close (seconds) count as simultaneous: one scrape interval at 5 minutes.
ONSET_TOLERANCE_SECONDS = 300.0
# An earlier onset than every abnormal caller's adds this much (the fault starts where it starts first).
EARLY_ONSET_BONUS = 0.1
# Load anomalies (traffic up or down) count for this much of a node's strength: a traffic change is
# more often an effect of a caller's trouble than a fault of the node itself.
LOAD_WEIGHT = 0.5
# A node that went wrong after one of its abnormal callers is more likely an effect (retries, load).
LATE_ONSET_FACTOR = 0.7
# Alert severities as evidence strength: a critical alert is as strong as a very abnormal metric.
ALERT_STRENGTH = {"critical": 1.0, "high": 0.85, "warning": 0.6, "info": 0.3, "": 0.5}


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricEvidence:
    """One metric of one node, scored against its normal behaviour."""

    node: str
    metric: str
    z: float  # distance from normal in robust standard deviations, in the harmful direction
    onset: float | None = None  # epoch seconds of the first abnormal point
    value: float | None = None
    expected: float | None = None
    # "fault": latency, errors, availability (a callee's fault shows in its callers); "load": request
    # counts and throughput, which spread the other way (a caller's change reaches its callees).
    kind: str = "fault"


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertEvidence:
    node: str
    title: str
    severity: str = ""  # critical | high | warning | info
    first_seen: float | None = None  # epoch seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    node: str
    score: float
    strength: float  # how abnormal the node itself is, in [0, 1]
    basis: str  # "telemetry" | "alerts" | "telemetry+alerts" | "graph" (no evidence: neighbours only)
    onset: float | None
    metrics: tuple[MetricEvidence, ...] = ()
    alerts: tuple[str, ...] = ()
    path: tuple[str, ...] = ()  # from the symptom (target) to this node along calls; () when off path
    explained_by: str = ""  # the abnormal callee that explains part of it, if any


@dataclass(frozen=True, slots=True, kw_only=True)
class Ranking:
    candidates: tuple[Candidate, ...]
    target: str | None
    basis: str  # "telemetry" when any metric evidence was used, else "alerts", else "graph"
    nodes: int = 0
    evidence: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def names(self) -> list[str]:
        return [c.node for c in self.candidates]


def strength_of(z: float) -> float:
    """Map a distance from normal to [0, 1): 0 up to ABNORMAL_Z, saturating for large z."""
    if math.isnan(z) or z <= ABNORMAL_Z:
        return 0.0
    if math.isinf(z):
        return 1.0
    return 1.0 - math.exp(-z / Z_SCALE)


def _paths_from(target: str, callees: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """Shortest call path from `target` to every node it (transitively) calls, target included."""
    paths: dict[str, tuple[str, ...]] = {target: (target,)}
    queue = deque([target])
    while queue:
        node = queue.popleft()
        for callee in callees.get(node, ()):
            if callee not in paths:
                paths[callee] = (*paths[node], callee)
                queue.append(callee)
    return paths


def _reachable_callees(node: str, graph: Mapping[str, set[str]], fault: Mapping[str, float],
                       observed: set[str]) -> list[tuple[str, int]]:
    """Callees of `node`, direct or through callees that are themselves faulty or unobserved (a fault can
    only have travelled through those), with their hop counts."""
    out: list[tuple[str, int]] = []
    seen = {node}
    frontier = [(c, 1) for c in graph.get(node, ())]
    while frontier:
        c, hops = frontier.pop()
        if c in seen:
            continue
        seen.add(c)
        out.append((c, hops))
        if fault.get(c, 0.0) > 0 or c not in observed:
            frontier.extend((cc, hops + 1) for cc in graph.get(c, ()) if cc not in seen)
    return out


def rank(
    *,
    callees: Mapping[str, Iterable[str]],
    metrics: Iterable[MetricEvidence] = (),
    alerts: Iterable[AlertEvidence] = (),
    target: str | None = None,
    limit: int | None = None,
) -> Ranking:
    """Rank every node of the graph (and any node with evidence) as the probable root cause.

    `callees[n]` are the nodes `n` calls (its `depends_on`). `target` is where the problem was noticed.
    """
    graph: dict[str, set[str]] = {n: set(cs) for n, cs in callees.items()}
    by_node: dict[str, list[MetricEvidence]] = {}
    for m in metrics:
        by_node.setdefault(m.node, []).append(m)
    alerts_by: dict[str, list[AlertEvidence]] = {}
    for a in alerts:
        alerts_by.setdefault(a.node, []).append(a)
    nodes = set(graph) | {c for cs in graph.values() for c in cs} | set(by_node) | set(alerts_by)
    if target:
        nodes.add(target)
    callers: dict[str, set[str]] = {n: set() for n in nodes}
    for n, cs in graph.items():
        for c in cs:
            callers[c].add(n)

    strength: dict[str, float] = {}
    fault: dict[str, float] = {}
    onset: dict[str, float | None] = {}
    basis: dict[str, str] = {}
    for n in nodes:
        ms = by_node.get(n, [])
        s_fault = max((strength_of(m.z) for m in ms if m.kind == "fault"), default=0.0)
        s_load = max((strength_of(m.z) for m in ms if m.kind != "fault"), default=0.0)
        s_metric = max(s_fault, LOAD_WEIGHT * s_load)
        s_alert = max((ALERT_STRENGTH.get(a.severity, 0.5) for a in alerts_by.get(n, [])), default=0.0)
        strength[n] = max(s_metric, s_alert)
        fault[n] = max(s_fault, s_alert)
        onsets = [m.onset for m in ms if m.onset is not None and m.z > ABNORMAL_Z]
        onsets += [a.first_seen for a in alerts_by.get(n, []) if a.first_seen is not None]
        onset[n] = min(onsets) if onsets else None
        kinds = [k for k, present in (("telemetry", s_metric > 0), ("alerts", s_alert > 0)) if present]
        basis[n] = "+".join(kinds) or "graph"

    observed = {n for n in nodes if by_node.get(n) or alerts_by.get(n)}
    paths = _paths_from(target, graph) if target else {}
    scores: dict[str, tuple[float, str]] = {}
    for n in nodes:
        s = strength[n]
        mine = onset[n]
        explained, by = 0.0, ""
        for c, hops in _reachable_callees(n, graph, fault, observed):
            e = fault[c] * HOP_DECAY ** (hops - 1)  # only a callee's fault spreads up to its callers
            if e <= 0:
                continue
            theirs = onset[c]
            if mine is not None and theirs is not None and theirs > mine + ONSET_TOLERANCE_SECONDS:
                e *= LATER_CALLEE_DISCOUNT
            if e > explained:
                explained, by = e, c
        own = s * (1.0 - EXPLAINED_WEIGHT * explained)
        abnormal_callers = [strength[p] for p in callers[n] if strength[p] > 0]
        support = sum(abnormal_callers) / len(callers[n]) if callers[n] else 0.0
        score = own * (1.0 - CALLER_SUPPORT_WEIGHT + CALLER_SUPPORT_WEIGHT * support)
        caller_onsets = [o for p in callers[n] if strength[p] > 0 and (o := onset[p]) is not None]
        if s > 0 and mine is not None and caller_onsets and all(
            mine < o - ONSET_TOLERANCE_SECONDS / 2 for o in caller_onsets
        ):
            score += EARLY_ONSET_BONUS * s
        elif mine is not None and any(mine > o + ONSET_TOLERANCE_SECONDS for o in caller_onsets):
            score *= LATE_ONSET_FACTOR
        if target and n not in paths:
            score *= OFF_PATH_FACTOR
        scores[n] = (score, by)

    if not any(strength.values()):
        # No evidence at all: the symptom's own service first, then what it calls, nearest first.
        order = sorted(nodes, key=lambda n: (len(paths.get(n, ())) or 1_000, n))
        scores = {n: (1.0 / (i + 1), "") for i, n in enumerate(order)}

    ordered = sorted(nodes, key=lambda n: (-scores[n][0], -strength[n], n))
    if limit is not None:
        ordered = ordered[:limit]
    candidates = tuple(
        Candidate(
            node=n, score=round(scores[n][0], 4), strength=round(strength[n], 4), basis=basis[n], onset=onset[n],
            metrics=tuple(sorted(by_node.get(n, []), key=lambda m: -m.z)[:5]),
            alerts=tuple(a.title for a in alerts_by.get(n, [])[:5]),
            path=paths.get(n, ()), explained_by=scores[n][1],
        )
        for n in ordered
    )
    overall = "telemetry" if by_node else ("alerts" if alerts_by else "graph")
    return Ranking(candidates=candidates, target=target, basis=overall, nodes=len(nodes),
                   evidence=sum(len(v) for v in by_node.values()) + sum(len(v) for v in alerts_by.values()))


def most_anomalous(*, nodes: Iterable[str], metrics: Iterable[MetricEvidence]) -> list[str]:
    """Baseline: nodes by their single most abnormal metric, ignoring the graph."""
    best: dict[str, float] = dict.fromkeys(nodes, -math.inf)
    for m in metrics:
        best[m.node] = max(best.get(m.node, -math.inf), m.z)
    return sorted(best, key=lambda n: (-best[n], n))


def accuracy(rankings: Iterable[tuple[list[str], str]]) -> dict[str, float]:
    """AC@1, AC@3 and Avg@5 (the mean of AC@1..AC@5) over (ranking, true root cause) pairs."""
    pairs = list(rankings)
    if not pairs:
        return {"n": 0, "AC@1": 0.0, "AC@3": 0.0, "Avg@5": 0.0}
    ac = {k: sum(1 for r, truth in pairs if truth in r[:k]) / len(pairs) for k in range(1, 6)}
    return {"n": len(pairs), "AC@1": round(ac[1], 4), "AC@3": round(ac[3], 4),
            "Avg@5": round(sum(ac.values()) / 5, 4)}
