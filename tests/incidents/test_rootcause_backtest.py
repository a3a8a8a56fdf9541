"""`manage.py rootcause_backtest`: rankings written per case, accuracy printed, the answer never used, and a
malformed file named with its row."""
from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

NODES = ["web", "api", "db"]


def _write_case(root, *, rows: list[list[str]], truth: str = "db"):
    scenario = root / "shop"
    (scenario / "train" / "issue_0").mkdir(parents=True)
    (scenario / "graph.csv").write_text(",web,api,db\nweb,0,1,0\napi,0,0,1\ndb,0,0,0\n")
    header = ["microservice,web,api,db", "metric,latency,latency,latency", "statistic,Average,Average,Average",
              "unix_timestamp,,,"]
    (scenario / "train" / "issue_0" / "metrics.csv").write_text("\n".join(header + [",".join(r) for r in rows]))
    (scenario / "train" / "issue_0" / "target.json").write_text(json.dumps(
        {"target": {"node": "web", "metric": "latency", "timestamp": 1300}, "root_cause": {"node": truth}}))
    return scenario


# Normal for three points, then the database slows and its callers with it.
ROWS = [["1000", "0.10", "0.05", "0.010"], ["1100", "0.10", "0.05", "0.010"], ["1200", "0.10", "0.05", "0.010"],
        ["1300", "0.30", "0.25", "0.200"], ["1400", "0.32", "0.26", "0.210"]]


def test_it_writes_rankings_and_prints_accuracy_without_reading_the_answer(tmp_path):
    _write_case(tmp_path / "a", rows=ROWS, truth="db")
    _write_case(tmp_path / "b", rows=ROWS, truth="web")
    outputs = []
    for name in ("a", "b"):
        out = io.StringIO()
        call_command("rootcause_backtest", input=str(tmp_path / name), output=str(tmp_path / f"{name}.json"),
                     no_inject=True, stdout=out)
        outputs.append(out.getvalue())
    ranked_a = json.loads((tmp_path / "a.json").read_text())
    ranked_b = json.loads((tmp_path / "b.json").read_text())
    assert ranked_a == ranked_b  # the root cause in target.json changes nothing
    assert ranked_a["shop/train/issue_0"][0] == "db"
    assert "AC@1=1.000" in outputs[0] and "AC@1=0.000" in outputs[1]


def test_a_malformed_metrics_file_is_named_with_its_row(tmp_path):
    bad = [*ROWS[:2], ["1200", "0.10", "oops", "0.010"], *ROWS[3:]]
    _write_case(tmp_path, rows=bad)
    with pytest.raises(CommandError) as err:
        call_command("rootcause_backtest", input=str(tmp_path), output=str(tmp_path / "out.json"), no_inject=True,
                     stdout=io.StringIO())
    assert "metrics.csv: row 7" in str(err.value)
    assert not (tmp_path / "out.json").exists()  # nothing half-written
