"""`manage.py rootcause_backtest --input DIR --output OUT.json`: rank every `<scenario>/<split>/issue_N/` case.

Reads `metrics.csv`, the scenario's `graph.csv` and `noissue/metrics.csv` (where present) and only the
`target` of `target.json`; writes `{"<scenario>/<split>/issue_N": [ranked node names]}`. Where target.json
holds a `root_cause`, prints AC@1, AC@3 and Avg@5 overall and per scenario. Then, for every scenario with
normal-operation data, injects faults at every node of its graph and prints the same figures for the
ranking beside two baselines (random order; the most anomalous node), unless `--no-inject`: once with
fault sizes as drawn (some hide in their own node's noise and show only in the callers), once with each
fault standing out at its own node.
"""
from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from incidents.services.rootcause.dataset import DatasetError, Table, find_cases, load_case, rank_case, read_graph
from incidents.services.rootcause.injector import evaluate
from incidents.services.rootcause.ranking import accuracy


def _line(label: str, acc: dict[str, float]) -> str:
    return f"{label:<34} n={acc['n']:<4} AC@1={acc['AC@1']:.3f}  AC@3={acc['AC@3']:.3f}  Avg@5={acc['Avg@5']:.3f}"


class Command(BaseCommand):
    help = "Backtest the root-cause ranking on PetShop-style cases and on faults injected at every node."

    def add_arguments(self, parser):
        parser.add_argument("--input", required=True, help="Folder holding <scenario>/<split>/issue_N/ cases.")
        parser.add_argument("--output", required=True, help="Where to write the rankings (JSON).")
        parser.add_argument("--no-inject", action="store_true", help="Skip the injected-fault evaluation.")
        parser.add_argument("--trials", type=int, default=2, help="Injected faults per node and fault kind.")
        parser.add_argument("--seed", type=int, default=13)

    def handle(self, *args, **opts):
        root = Path(opts["input"])
        if not root.is_dir():
            raise CommandError(f"--input {root}: not a folder.")
        folders = find_cases(root)
        if not folders:
            raise CommandError(f"--input {root}: no <scenario>/<split>/issue_N folders with metrics.csv.")
        rankings: dict[str, list[str]] = {}
        scored: dict[str, list[tuple[list[str], str]]] = {}
        normals: dict[Path, Table | None] = {}
        for folder in tqdm(folders, desc="cases", disable=opts["verbosity"] < 1):
            try:
                case = load_case(folder, normal_cache=normals)
            except DatasetError as exc:
                raise CommandError(str(exc)) from exc
            ranking, _evidence = rank_case(case)
            rankings[case.key] = ranking.names()
            if case.root_cause:
                scored.setdefault(case.scenario, []).append((ranking.names(), case.root_cause))
        Path(opts["output"]).write_text(json.dumps(rankings, indent=1))
        self.stdout.write(f"Wrote {len(rankings)} rankings to {opts['output']}.")
        if scored:
            self.stdout.write("Cases with a known root cause:")
            self.stdout.write(_line("  overall", accuracy([p for ps in scored.values() for p in ps])))
            for scenario, pairs in sorted(scored.items()):
                self.stdout.write(_line(f"  {scenario}", accuracy(pairs)))
        if opts["no_inject"]:
            return
        for normal_path, normal in sorted(normals.items(), key=lambda kv: str(kv[0])):
            if normal is None:
                continue
            scenario_dir = normal_path.parent.parent
            try:
                callees = read_graph(scenario_dir / "graph.csv")
            except DatasetError as exc:
                raise CommandError(str(exc)) from exc
            for visible in (False, True):
                report = evaluate(normal=normal, callees=callees, trials=opts["trials"], seed=opts["seed"],
                                  visible=visible)
                mode = "at least 3-8 spreads at the root" if visible else "as drawn (may hide in the root's noise)"
                self.stdout.write(f"Injected faults, {scenario_dir.name}, {mode}: {report.method['n']} faults at "
                                  f"{len(report.per_node)} nodes ({opts['trials']} per node and kind; "
                                  f"{len(report.skipped)} nodes without a metric a fault could show in):")
                self.stdout.write(_line("  ranking (graph + onset + strength)", report.method))
                self.stdout.write(_line("  baseline: most anomalous node", report.most_anomalous))
                self.stdout.write(_line("  baseline: random", report.random))
                weak = sorted((acc["AC@3"], node) for node, acc in report.per_node.items() if acc["AC@3"] < 1)
                if weak:
                    self.stdout.write("  nodes below AC@3 = 1: " + ", ".join(f"{n} ({a:.2f})" for a, n in weak[:8]))
