"""Read a PetShop-style root-cause case (wide metrics CSV, adjacency-matrix graph, target) and rank it.

Layout: `<scenario>/graph.csv`, `<scenario>/noissue/metrics.csv` (optional), `<scenario>/<split>/issue_N/`
holding `metrics.csv` and `target.json`. Only `target` is read from target.json for ranking; the
`root_cause` is returned separately, for scoring only.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .ranking import MetricEvidence, Ranking, rank
from .scoring import harmful_direction, normal_profile, score_window


class DatasetError(ValueError):
    """A malformed file; the message names the file and the row."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    columns: tuple[tuple[str, str, str], ...]  # (node, metric, statistic)
    times: np.ndarray  # epoch seconds, shape (T,)
    values: np.ndarray  # shape (T, columns), NaN where missing


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    key: str  # "<scenario>/<split>/issue_N"
    scenario: str
    metrics: Table
    normal: Table | None
    callees: dict[str, set[str]]
    target: str
    target_ts: float | None
    root_cause: str | None  # never given to the ranking


def read_metrics(path: Path) -> Table:
    try:
        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror}).") from exc
    if len(rows) < 4:
        raise DatasetError(f"{path}: needs three header rows (microservice, metric, statistic) and a "
                           f"unix_timestamp row; found {len(rows)} rows.")
    heads = rows[:3]
    for i, (row, name) in enumerate(zip(heads, ("microservice", "metric", "statistic"), strict=True), start=1):
        if not row or row[0].strip() != name:
            raise DatasetError(f"{path}: row {i}: expected the {name!r} header row.")
        if len(row) != len(heads[0]):
            raise DatasetError(f"{path}: row {i}: {len(row)} cells, the first header row has {len(heads[0])}.")
    columns = tuple(zip(heads[0][1:], heads[1][1:], heads[2][1:], strict=True))
    times: list[float] = []
    data: list[list[float]] = []
    start = 4 if rows[3] and rows[3][0].strip() == "unix_timestamp" else 3
    for number, row in enumerate(rows[start:], start=start + 1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns) + 1:
            raise DatasetError(f"{path}: row {number}: {len(row)} cells, expected {len(columns) + 1}.")
        try:
            ts = float(row[0])
            values = [float(cell) if cell.strip() else math.nan for cell in row[1:]]
        except ValueError as exc:
            raise DatasetError(f"{path}: row {number}: not a number ({exc}).") from exc
        if not math.isfinite(ts):
            raise DatasetError(f"{path}: row {number}: the timestamp is not a number.")
        times.append(ts)
        data.append(values)
    if not data:
        raise DatasetError(f"{path}: no data rows.")
    return Table(columns=columns, times=np.asarray(times), values=np.asarray(data, dtype=float))


def read_graph(path: Path) -> dict[str, set[str]]:
    """Adjacency matrix: a 1 at (row, column) means the row node calls the column node."""
    try:
        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror}).") from exc
    if not rows:
        raise DatasetError(f"{path}: empty.")
    names = rows[0][1:]
    callees: dict[str, set[str]] = {n: set() for n in names}
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(names) + 1:
            raise DatasetError(f"{path}: row {number}: {len(row)} cells, expected {len(names) + 1}.")
        node = row[0]
        callees.setdefault(node, set())
        for name, cell in zip(names, row[1:], strict=True):
            try:
                flag = float(cell or 0)
            except ValueError as exc:
                raise DatasetError(f"{path}: row {number}: column {name!r}: not 0 or 1 ({cell!r}).") from exc
            if flag and name != node:
                callees[node].add(name)
    return callees


def read_target(path: Path) -> tuple[str, float | None, str | None]:
    """(target node, target timestamp, root cause or None); the root cause is for scoring only."""
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror}).") from exc
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: row {exc.lineno}: not JSON ({exc.msg}).") from exc
    target = doc.get("target") if isinstance(doc, dict) else None
    if not isinstance(target, dict) or not isinstance(target.get("node"), str) or not target["node"]:
        raise DatasetError(f"{path}: row 1: needs {{\"target\": {{\"node\": ...}}}}.")
    ts = target.get("timestamp")
    root = doc.get("root_cause")
    truth = root.get("node") if isinstance(root, dict) and isinstance(root.get("node"), str) else None
    return target["node"], float(ts) if isinstance(ts, int | float) else None, truth


def find_cases(root: Path) -> list[Path]:
    """Every `<scenario>/<split>/issue_N` folder under `root` (or `root` itself if it is one)."""
    if (root / "metrics.csv").exists() and (root / "target.json").exists():
        return [root]
    found = [p for p in root.glob("*/*/issue_*") if p.is_dir()]
    return sorted(found, key=lambda p: (p.parent.parent.name, p.parent.name, _issue_number(p.name)))


def _issue_number(name: str) -> int:
    tail = name.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 1_000_000


def load_case(folder: Path, *, normal_cache: dict[Path, Table | None] | None = None) -> Case:
    scenario_dir = folder.parent.parent
    for needed in ("metrics.csv", "target.json"):
        if not (folder / needed).exists():
            raise DatasetError(f"{folder / needed}: missing.")
    graph_path = scenario_dir / "graph.csv"
    if not graph_path.exists():
        raise DatasetError(f"{graph_path}: missing (the scenario's call graph).")
    normal_path = scenario_dir / "noissue" / "metrics.csv"
    if normal_cache is not None and normal_path in normal_cache:
        normal = normal_cache[normal_path]
    else:
        normal = read_metrics(normal_path) if normal_path.exists() else None
        if normal_cache is not None:
            normal_cache[normal_path] = normal
    target, target_ts, truth = read_target(folder / "target.json")
    return Case(
        key=f"{scenario_dir.name}/{folder.parent.name}/{folder.name}", scenario=scenario_dir.name,
        metrics=read_metrics(folder / "metrics.csv"), normal=normal, callees=read_graph(graph_path),
        target=target, target_ts=target_ts, root_cause=truth,
    )


def table_evidence(*, metrics: Table, normal: Table | None, target_ts: float | None = None) -> list[MetricEvidence]:
    """Score every column of `metrics` against its normal behaviour.

    Normal behaviour comes from the normal-operation table when it has the column; otherwise from the
    window's own points before the noticed time (at least two), else from the whole window (weakest).
    """
    profiles = _normal_profiles(normal) if normal is not None else {}
    before = metrics.times < target_ts if target_ts is not None else np.zeros(len(metrics.times), bool)
    out: list[MetricEvidence] = []
    for j, (node, metric, stat) in enumerate(metrics.columns):
        column = metrics.values[:, j]
        reference = column[before] if before.sum() >= 1 else column
        centre, spread = normal_profile(reference)
        if (node, metric, stat) in profiles:
            # The level before the problem (normal runs drift between days); the spread of normal days.
            n_centre, spread = profiles[(node, metric, stat)]
            if not np.isfinite(centre):
                centre = n_centre
        ev = score_window(node=node, metric=f"{metric} {stat}".strip(), times=metrics.times, values=column,
                          centre=centre, spread=spread, direction=harmful_direction(metric))
        if ev is not None:
            out.append(ev)
    return out


_PROFILE_CACHE: dict[int, tuple[Table, dict[tuple[str, str, str], tuple[float, float]]]] = {}


def _normal_profiles(normal: Table) -> dict[tuple[str, str, str], tuple[float, float]]:
    """(centre, spread) of every column of a normal-operation table, computed once per table."""
    hit = _PROFILE_CACHE.get(id(normal))
    if hit is not None and hit[0] is normal:
        return hit[1]
    profiles = {c: normal_profile(normal.values[:, j]) for j, c in enumerate(normal.columns)}
    if len(_PROFILE_CACHE) > 8:  # a backtest reads a few scenarios; do not grow without bound
        _PROFILE_CACHE.clear()
    _PROFILE_CACHE[id(normal)] = (normal, profiles)
    return profiles


def rank_case(case: Case) -> tuple[Ranking, list[MetricEvidence]]:
    evidence = table_evidence(metrics=case.metrics, normal=case.normal, target_ts=case.target_ts)
    return rank(callees=case.callees, metrics=evidence, target=case.target), evidence
