"""Fault injector: put a fault at any node of a graph over normal-operation data, let it spread to the
callers with a delay and attenuation, and measure the ranking against two baselines in the same run.

A fault is a latency rise or an availability drop at the root node; every caller (transitively) sees an
attenuated share of its callee's extra latency / lost availability, one step later per hop with some
probability. The ranking sees only the resulting metrics, the graph and the noticed symptom (the furthest
caller reached), never the root.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .dataset import Table, table_evidence
from .ranking import accuracy, most_anomalous, rank
from .scoring import normal_profile

WINDOW = 12  # points in an injected case: an hour at 5-minute resolution
FAULT_AT = 5  # the fault starts at this point of the window; the points before it are normal
ATTENUATION = (0.3, 0.9)  # share of a callee's degradation a caller inherits, per edge
DELAY_PROBABILITY = 0.5  # chance a hop adds one step of delay (a caller notices on its next interval)
LATENCY_FACTOR = (0.5, 3.0)  # the root's latency rises by this multiple of its normal level
AVAILABILITY_DROP = (1.0, 10.0)  # percentage points of availability lost at the root
VISIBLE_SPREADS = (3.0, 8.0)  # a visible fault moves its node's metric this many robust spreads at least


@dataclass(frozen=True, slots=True, kw_only=True)
class InjectedCase:
    root: str
    kind: str  # "latency" | "availability"
    target: str
    window: Table
    target_ts: float


@dataclass(slots=True, kw_only=True)
class InjectionReport:
    method: dict[str, float]
    most_anomalous: dict[str, float]
    random: dict[str, float]
    per_node: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # nodes with no metric a fault could show in


def _callers(callees: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for n, cs in callees.items():
        for c in cs:
            out.setdefault(c, set()).add(n)
    return out


def _columns(table: Table, node: str, metric: str) -> list[int]:
    return [j for j, (n, m, _s) in enumerate(table.columns)
            if n == node and m == metric and np.isfinite(table.values[:, j]).any()]


def injectable(table: Table, node: str) -> list[str]:
    """Fault kinds a node can show: it has the metric, and for an availability drop its normal level
    leaves room for one (an "availability" that sits at 0 or swings over its whole range cannot)."""
    kinds = []
    for kind in ("latency", "availability"):
        columns = _columns(table, node, kind)
        if not columns:
            continue
        if kind == "availability":
            profiles = [normal_profile(table.values[:, j]) for j in columns]
            if not any(centre - VISIBLE_SPREADS[0] * spread > 0 for centre, spread in profiles):
                continue
        kinds.append(kind)
    return kinds


def inject(*, normal: Table, callees: dict[str, set[str]], root: str, kind: str,
           rng: np.random.Generator, visible: bool = False) -> InjectedCase:
    """One fault at `root`. `visible`: at least VISIBLE_SPREADS robust spreads of the root's own metric, so
    the fault shows where it happens (a fault hidden in its node's noise shows only in its callers)."""
    start = int(rng.integers(0, len(normal.times) - WINDOW))
    values = normal.values[start:start + WINDOW].copy()
    times = normal.times[start:start + WINDOW]
    callers = _callers(callees)
    # Breadth-first from the root along caller edges: effect and delay of every node reached.
    effect: dict[str, float] = {root: 1.0}
    delay: dict[str, int] = {root: 0}
    queue = deque([root])
    while queue:
        node = queue.popleft()
        for caller in sorted(callers.get(node, ())):
            if caller in effect:
                continue
            effect[caller] = effect[node] * float(rng.uniform(*ATTENUATION))
            delay[caller] = delay[node] + int(rng.random() < DELAY_PROBABILITY)
            queue.append(caller)
    if kind == "latency":
        root_cols = _columns(normal, root, "latency")
        base = np.nanmedian(normal.values[:, root_cols], axis=0)
        extra = float(rng.uniform(*LATENCY_FACTOR)) * float(np.nanmax(base))  # seconds added at the root
    else:
        extra = float(rng.uniform(*AVAILABILITY_DROP))
    if visible:
        spreads = [normal_profile(normal.values[:, j])[1] for j in _columns(normal, root, kind)]
        extra = max(extra, float(rng.uniform(*VISIBLE_SPREADS)) * float(np.nanmin(spreads)))
    for node, share in effect.items():
        begin = min(FAULT_AT + delay[node], WINDOW - 1)
        for j in _columns(normal, node, kind):
            # A faulty node is being called, so its metrics exist: gaps take the normal level.
            gaps = ~np.isfinite(values[:, j])
            if node == root and gaps.any():
                values[gaps, j] = float(np.nanmedian(normal.values[:, j]))
            if kind == "latency":
                values[begin:, j] += extra * share
            else:
                values[begin:, j] = np.maximum(values[begin:, j] - extra * share, 0.0)
    # The symptom is noticed at the furthest caller reached (the user-facing end).
    far = max(effect, key=lambda n: (delay[n], -effect[n], n)) if len(effect) > 1 else root
    top = [n for n in effect if not (callers.get(n, set()) & set(effect))]
    target = sorted(top, key=lambda n: (-_depth(n, root, callees), n))[0] if top else far
    return InjectedCase(root=root, kind=kind, target=target,
                        window=Table(columns=normal.columns, times=times, values=values),
                        target_ts=float(times[FAULT_AT]))


def _depth(node: str, root: str, callees: dict[str, set[str]]) -> int:
    seen = {node: 0}
    queue = deque([node])
    while queue:
        n = queue.popleft()
        if n == root:
            return seen[n]
        for c in callees.get(n, ()):
            if c not in seen:
                seen[c] = seen[n] + 1
                queue.append(c)
    return 0


def evaluate(*, normal: Table, callees: dict[str, set[str]], trials: int = 2, seed: int = 13,
             nodes: list[str] | None = None, visible: bool = False) -> InjectionReport:
    """Inject `trials` faults of each kind at every node that has a metric for it; score three rankers."""
    rng = np.random.default_rng(seed)
    graph_nodes = sorted(set(callees) | {c for cs in callees.values() for c in cs})
    nodes = nodes or graph_nodes
    ours: list[tuple[list[str], str]] = []
    anomalous: list[tuple[list[str], str]] = []
    randoms: list[tuple[list[str], str]] = []
    per_node: dict[str, dict[str, float]] = {}
    skipped: list[str] = []
    # The evaluation windows are cut from the normal data; normal behaviour is learnt from all of it
    # (as the service learns it from history), the level before the fault from the window itself.
    for node in nodes:
        kinds = injectable(normal, node)
        if not kinds:
            skipped.append(node)
            continue
        mine: list[tuple[list[str], str]] = []
        for kind in kinds:
            for _ in range(trials):
                case = inject(normal=normal, callees=callees, root=node, kind=kind, rng=rng, visible=visible)
                evidence = table_evidence(metrics=case.window, normal=normal, target_ts=case.target_ts)
                ranking = rank(callees=callees, metrics=evidence, target=case.target).names()
                mine.append((ranking, node))
                anomalous.append((most_anomalous(nodes=graph_nodes, metrics=evidence), node))
                randoms.append((list(rng.permutation(graph_nodes)), node))
        ours.extend(mine)
        per_node[node] = accuracy(mine)
    return InjectionReport(method=accuracy(ours), most_anomalous=accuracy(anomalous), random=accuracy(randoms),
                           per_node=per_node, skipped=skipped)
