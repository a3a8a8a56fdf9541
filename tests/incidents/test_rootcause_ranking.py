"""Root-cause ranking as pure functions: propagation on a hand-made graph, onset order, alerts only, the
injector and the comparison with the baselines."""
from __future__ import annotations

import numpy as np
import pytest

from incidents.services.rootcause.dataset import Table
from incidents.services.rootcause.injector import evaluate, inject
from incidents.services.rootcause.ranking import AlertEvidence, MetricEvidence, accuracy, most_anomalous, rank

# web -> api -> db, api -> cache; batch -> db
GRAPH = {"web": {"api"}, "api": {"db", "cache"}, "batch": {"db"}, "db": set(), "cache": set()}


def ev(node: str, z: float, onset: float = 0.0, metric: str = "latency") -> MetricEvidence:
    return MetricEvidence(node=node, metric=metric, z=z, onset=onset)


def test_a_fault_in_the_callee_outranks_the_callers_it_slowed():
    # The callers are MORE abnormal than the database (their latency adds up), yet the database explains them.
    ranking = rank(callees=GRAPH, target="web", metrics=[ev("web", 40), ev("api", 30), ev("db", 12)])
    assert ranking.names()[0] == "db"
    top = ranking.candidates[0]
    assert top.path == ("web", "api", "db")
    assert ranking.candidates[1].explained_by in {"api", "db"}
    assert most_anomalous(nodes=GRAPH, metrics=[ev("web", 40), ev("api", 30), ev("db", 12)])[0] == "web"


def test_a_callee_that_went_wrong_after_its_caller_does_not_explain_it():
    early_api = [ev("web", 30, onset=600), ev("api", 30, onset=0), ev("db", 30, onset=1800)]
    assert rank(callees=GRAPH, target="web", metrics=early_api).names()[0] == "api"
    early_db = [ev("web", 30, onset=600), ev("api", 30, onset=300), ev("db", 30, onset=0)]
    assert rank(callees=GRAPH, target="web", metrics=early_db).names()[0] == "db"


def test_traffic_changes_do_not_explain_a_caller():
    # db's requests dropped because api is slow: load spreads down, so api stays the root.
    metrics = [ev("web", 20), ev("api", 25), MetricEvidence(node="db", metric="requests", z=40, kind="load")]
    assert rank(callees=GRAPH, target="web", metrics=metrics).names()[0] == "api"


def test_nodes_off_the_symptoms_call_paths_rank_lower():
    metrics = [ev("web", 20), ev("batch", 20)]
    names = rank(callees=GRAPH, target="web", metrics=metrics).names()
    assert names.index("web") < names.index("batch")


def test_without_telemetry_alerts_rank_and_the_basis_says_so():
    alerts = [AlertEvidence(node="web", title="5xx", severity="warning", first_seen=100.0),
              AlertEvidence(node="db", title="DB down", severity="critical", first_seen=0.0)]
    ranking = rank(callees=GRAPH, target="web", alerts=alerts)
    assert ranking.basis == "alerts"
    assert ranking.names()[0] == "db"
    assert ranking.candidates[0].basis == "alerts"


def test_with_no_evidence_at_all_the_graph_orders_from_the_symptom():
    ranking = rank(callees=GRAPH, target="web")
    assert ranking.basis == "graph"
    assert ranking.names()[:2] == ["web", "api"]


def test_accuracy_counts_hits_within_k():
    acc = accuracy([(["a", "b", "c"], "a"), (["a", "b", "c"], "c"), (["a", "b", "c"], "z")])
    assert acc["AC@1"] == pytest.approx(1 / 3, abs=1e-3)
    assert acc["AC@3"] == pytest.approx(2 / 3, abs=1e-3)


def _normal_table(rng: np.random.Generator, nodes: list[str], points: int = 300) -> Table:
    columns = tuple((n, m, "Average") for n in nodes for m in ("latency", "availability"))
    values = np.empty((points, len(columns)))
    for j, (_n, metric, _s) in enumerate(columns):
        if metric == "latency":
            values[:, j] = rng.lognormal(mean=np.log(rng.uniform(0.01, 0.2)), sigma=0.1, size=points)
        else:
            values[:, j] = np.clip(100 - rng.exponential(0.05, size=points), 0, 100)
    return Table(columns=columns, times=np.arange(points) * 300.0, values=values)


def test_the_injector_spreads_a_fault_to_callers_only_with_attenuation():
    rng = np.random.default_rng(1)
    normal = _normal_table(rng, list(GRAPH))
    flat = Table(columns=normal.columns, times=normal.times, values=np.ones_like(normal.values))  # no noise
    case = inject(normal=flat, callees=GRAPH, root="db", kind="latency", rng=rng)
    assert case.target in {"web", "batch"}
    added = {n: float(case.window.values[-1, j] - 1.0) for j, (n, m, _s) in enumerate(flat.columns) if m == "latency"}
    assert added["cache"] == 0.0  # not a caller of db: untouched
    assert added["db"] > added["api"] > added["web"] > 0  # attenuated at every hop
    assert added["batch"] > 0
    before = case.window.values[: 5, [j for j, c in enumerate(flat.columns) if c[0] == "db" and c[1] == "latency"]]
    assert np.all(before == 1.0)  # the fault starts inside the window, after normal points


def test_on_injected_faults_the_ranking_beats_both_baselines():
    rng = np.random.default_rng(2)
    graph = {"edge": {"web"}, "web": {"api", "auth"}, "api": {"db", "cache", "queue"}, "auth": {"db"},
             "queue": {"worker"}, "worker": {"db"}, "db": set(), "cache": set()}
    report = evaluate(normal=_normal_table(rng, list(graph)), callees=graph, trials=2, seed=3)
    assert report.method["n"] == 2 * 2 * len(graph)
    assert report.method["AC@1"] > report.most_anomalous["AC@1"]
    assert report.method["AC@3"] >= report.random["AC@3"]
    assert report.method["AC@1"] >= 0.6 and report.method["AC@3"] >= 0.9
