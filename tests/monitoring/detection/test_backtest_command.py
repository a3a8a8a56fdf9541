"""`manage.py backtest` mirrors a folder of CSV histories into scored CSVs through the live scoring path."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from monitoring.detection import get_detector, score_series
from monitoring.detection.backtest import series_backtest

from . import synthetic


def _write(path, ts_text, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value"])
        w.writerows(zip(ts_text, values, strict=False))


def _iso(ts):
    return [np.datetime_as_string(np.datetime64(int(t), "s")).replace("T", " ") for t in ts]


@pytest.fixture
def history(tmp_path):
    ts, vs, _ = synthetic.spike_in_seasonal_series(61)
    _write(
        tmp_path / "in" / "shop" / "checkout_latency.csv",
        _iso(ts[:1800]),
        [f"{v:.3f}" for v in vs[:1800]],
    )
    _write(
        tmp_path / "in" / "db.csv", [str(int(t)) for t in ts[:700]], [f"{v:.3f}" for v in vs[:700]]
    )
    return tmp_path


def _read(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_it_writes_one_scored_row_per_input_row_under_the_same_relative_path(history, capsys):
    call_command("backtest", "--input", str(history / "in"), "--output", str(history / "out"))
    for rel, n in (("shop/checkout_latency.csv", 1800), ("db.csv", 700)):
        rows = _read(history / "out" / rel)
        source = _read(history / "in" / rel)
        assert len(rows) == n
        assert list(rows[0]) == ["timestamp", "value", "anomaly_score", "is_anomaly"]
        assert [r["timestamp"] for r in rows] == [r["timestamp"] for r in source]
        scores = np.array([float(r["anomaly_score"]) for r in rows])
        assert np.all((scores >= 0) & (scores <= 1))
        threshold = get_detector().default_threshold
        assert [r["is_anomaly"] == "1" for r in rows] == list(scores >= threshold)
    assert "points/s" in capsys.readouterr().out


def test_backtest_scores_equal_one_pass_of_the_live_engine():
    ts, vs, _ = synthetic.level_shift(62)
    detector = get_detector()
    live, _ = score_series(
        detector=detector, state=detector.initial_state(), timestamps=ts, values=vs
    )
    np.testing.assert_array_equal(
        series_backtest(detector_name=None, timestamps=ts, values=vs, chunk=333), live.scores
    )


def test_another_detector_can_be_chosen_by_name(history):
    call_command(
        "backtest",
        "--input",
        str(history / "in"),
        "--output",
        str(history / "out"),
        "--detector",
        "ewma",
    )
    assert len(_read(history / "out" / "db.csv")) == 700


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,abc\n", "line 3"),
        ("timestamp,value\nyesterday,1\n", "line 2"),
        ("time,val\n1,2\n", "timestamp"),
        ("timestamp,value\n2024-01-01 00:00:00,inf\n", "not a finite number"),
    ],
    ids=["non_numeric_value", "unparseable_timestamp", "wrong_header", "infinite_value"],
)
def test_a_bad_file_fails_with_its_name_and_line(tmp_path, content, message):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.csv").write_text(content)
    with pytest.raises(CommandError) as err:
        call_command("backtest", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"))
    assert "broken.csv" in str(err.value) and message in str(err.value)
    assert not (tmp_path / "out" / "broken.csv").exists()


def test_unknown_detector_is_a_clear_error(history):
    with pytest.raises(CommandError, match="unknown detector"):
        call_command(
            "backtest",
            "--input",
            str(history / "in"),
            "--output",
            str(history / "out"),
            "--detector",
            "nope",
        )
