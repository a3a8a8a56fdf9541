"""`backtest --nab`: NAB scoring, the short/hourly variants, the baselines and leave-one-family-out CV.

Runs on a tiny synthetic NAB-style folder written per test (CI has no copy of NAB); where the project's
stand-alone scorer exists (`../shared/nab/nab_score.py`) the in-memory scorer is checked against it.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from monitoring.detection import evaluate, get_detector, nab, score_series
from monitoring.detection.backtest import series_backtest
from monitoring.detection.detectors.robust_z import MIN_POINTS, WINDOW

STEP = 300.0
START = np.datetime64("2024-03-04T00:00:00")
REPO = Path(__file__).resolve().parents[3]
# The stand-alone scorer sits beside the repository (`../shared/nab`) on a development machine; or in
# $NAB_DIR. CI has neither: that one test skips.
SHARED_SCORER = next(
    (
        p / "nab_score.py"
        for p in (Path(os.environ.get("NAB_DIR", "/nonexistent")), REPO.parent / "shared" / "nab",
                  REPO.parent.parent / "shared" / "nab")
        if (p / "nab_score.py").is_file()
    ),
    Path("/nonexistent/nab_score.py"),
)
PROFILES = {
    "standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}},
    "reward_low_FP_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0}},
    "reward_low_FN_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0}},
}


def _stamp(i: int) -> str:
    return str(START + np.timedelta64(int(i * STEP), "s")).replace("T", " ")


def _series(seed: int, n: int, kind: str | None, at: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) * STEP
    v = 50.0 + 10.0 * np.sin(2 * np.pi * t / 86400.0) + rng.normal(0.0, 1.0, n)
    if kind == "spike":
        v[at] += 25.0
    elif kind == "shift":
        v[at:] += 12.0
    return v


@pytest.fixture(scope="module")
def nab_dir(tmp_path_factory) -> Path:
    """Three families of 5-minute series (1,600 points each), windows of 160 rows around each fault."""
    root = tmp_path_factory.mktemp("nab")
    spec = [
        ("famA/a1.csv", 1, "spike", 1200),
        ("famA/a2.csv", 2, "shift", 1000),
        ("famB/b1.csv", 3, "spike", 900),
        ("famB/b2.csv", 4, "shift", 1300),
        ("famC/c1.csv", 5, None, 0),
    ]
    labels = {}
    for rel, seed, kind, at in spec:
        n = 1600
        values = _series(seed, n, kind, at)
        path = root / "data" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("timestamp,value\n" + "".join(f"{_stamp(i)},{values[i]:.4f}\n" for i in range(n)))
        labels[rel] = [[_stamp(at - 80) + ".000000", _stamp(at + 80) + ".000000"]] if kind else []
    (root / "labels.json").write_text(json.dumps(labels))
    (root / "profiles.json").write_text(json.dumps(PROFILES))
    return root


@pytest.fixture(scope="module")
def files(nab_dir):
    return nab.nab_load(data_dir=nab_dir / "data", labels=nab_dir / "labels.json")


def test_the_scorer_gives_100_for_a_detection_at_each_window_start_and_0_for_none(files):
    first = []
    for f in files:
        s = np.zeros(f.values.shape[0])
        for a, _ in f.spans:
            s[a] = 1.0
        first.append(s)
    assert nab.nab_score(files, first).score == pytest.approx(100.0)
    assert nab.nab_score(files, [np.zeros(f.values.shape[0]) for f in files]).score == pytest.approx(0.0)
    late = [np.roll(s, 150) for s in first]  # 150 rows into a 161-row window: worth much less
    worth = (2.0 / (1.0 + math.exp(5.0 * -11 / 161)) - 1.0) / nab.PEAK
    assert nab.nab_score(files, late).score == pytest.approx(100.0 * (1.0 + worth) / 2.0)


def test_a_false_detection_costs_and_a_coarse_threshold_grid_is_respected(files):
    scores = []
    for f in files:
        s = np.zeros(f.values.shape[0])
        for a, _ in f.spans:
            s[a + 10] = 0.9
        s[400] = 0.5  # after probation, outside every window
        scores.append(s)
    best = nab.nab_score(files, scores)
    assert best.threshold == pytest.approx(0.9) and best.false_detections == 0
    everything = nab.nab_score(files, scores, thresholds=[0.5] * len(files))
    assert everything.false_detections == len(files) and everything.score < best.score
    _, t = nab.nab_sweep(files, scores, candidates=np.array([0.4, 0.8]))
    assert t == pytest.approx(0.8)


@pytest.mark.skipif(not SHARED_SCORER.is_file(), reason="the stand-alone NAB scorer is not on this machine")
def test_the_in_memory_scorer_agrees_with_the_stand_alone_one(nab_dir, files, tmp_path):
    call_command("backtest", "--input", str(nab_dir / "data"), "--output", str(tmp_path / "scores"), verbosity=0)
    out = subprocess.run(
        [sys.executable, str(SHARED_SCORER), "--data", str(nab_dir / "data"), "--labels",
         str(nab_dir / "labels.json"), "--profiles", str(nab_dir / "profiles.json"), "--scores",
         str(tmp_path / "scores")],
        capture_output=True, text=True, check=True,
    ).stdout
    theirs = float(re.search(r"NAB standard=(-?[\d.]+)", out).group(1))
    mine = nab.nab_score(files, evaluate.files_score(files).scores).score
    assert mine == pytest.approx(theirs, abs=0.05)


def test_the_short_variant_cuts_700_rows_ending_140_after_each_anomaly_and_rewindows_them(files):
    short = {f.rel: f for f in nab.variant_short(files)}
    assert set(short) == {"famA/a1__a0.csv", "famA/a2__a0.csv", "famB/b1__a0.csv", "famB/b2__a0.csv", "famC/c1.csv"}
    seg = short["famA/a1__a0.csv"]
    assert seg.values.shape[0] == 700
    source = next(f for f in files if f.rel == "famA/a1.csv")
    np.testing.assert_array_equal(seg.values, source.values[1200 + 141 - 700 : 1200 + 141])
    assert seg.spans == ((559 - 35, 559 + 35),)  # NAB's rule: width int(0.1 * 700), centred on the anomaly
    assert short["famC/c1.csv"].values.shape[0] == 700 and short["famC/c1.csv"].spans == ()


def test_the_hourly_variant_averages_each_hour_and_maps_windows_to_hours(files):
    hourly = {f.rel: f for f in nab.variant_hourly(files)}
    f = hourly["famA/a1.csv"]
    source = next(s for s in files if s.rel == "famA/a1.csv")
    assert f.values.shape[0] == math.ceil(1600 / 12)
    assert f.values[3] == pytest.approx(source.values[36:48].mean())
    assert f.spans == (((1200 - 80) // 12, (1200 + 80) // 12),)


def _robust_z_direct(values: np.ndarray, i: int) -> float:
    past = values[max(0, i - WINDOW) : i]
    med = np.median(past)
    sigma = max(1.4826 * np.median(np.abs(past - med)), 1.2533 * np.mean(np.abs(past - med)))
    z = abs(values[i] - med) / sigma
    return z / (z + 3.0)


def test_robust_z_is_the_rolling_median_and_mad_of_the_previous_288_points():
    rng = np.random.default_rng(7)
    values = rng.standard_t(3, 700) * 5.0 + 100.0
    ts = np.arange(700) * STEP
    scores = series_backtest(detector_name="robust_z", timestamps=ts, values=values, chunk=97)
    assert np.all(scores[:MIN_POINTS] == 0.0)
    for i in (MIN_POINTS, 100, WINDOW, 500, 699):
        assert scores[i] == pytest.approx(_robust_z_direct(values, i), rel=1e-9)


def test_robust_z_floors_the_mad_with_the_mean_deviation_on_a_spiky_series():
    # Mostly one value with regular spikes: the MAD is 0, the mean deviation is not, so an ordinary spike
    # scores an ordinary z, not infinity; a window of one value makes any other value score 1.
    values = np.where(np.arange(700) % 10 == 0, 10.0, 1.0)
    values[650] = 40.0
    ts = np.arange(700) * STEP
    scores = series_backtest(detector_name="robust_z", timestamps=ts, values=values, chunk=97)
    assert scores[600] == pytest.approx(_robust_z_direct(values, 600), rel=1e-9)
    assert 0.5 < scores[600] < scores[650] < 1.0
    flat = np.ones(100)
    flat[60] = 2.0
    flat_scores = series_backtest(detector_name="robust_z", timestamps=ts[:100], values=flat)
    assert flat_scores[59] == 0.0 and flat_scores[60] == 1.0


def test_a_detector_can_be_chosen_per_series(files):
    chosen = evaluate.files_score(files, per_series={"famB/*": "robust_z"})
    for f, s in zip(files, chosen.scores, strict=True):
        name = "robust_z" if f.family == "famB" else None
        np.testing.assert_array_equal(
            s, series_backtest(detector_name=name, timestamps=f.timestamps, values=f.values)
        )


def test_backtest_nab_prints_every_variant_both_detectors_cv_throughput_and_false_pages(nab_dir, capsys):
    call_command("backtest", "--nab", str(nab_dir), "--variant", "all", "--cv", "families", verbosity=0)
    out = capsys.readouterr().out
    for variant in ("dev", "short", "hourly"):
        assert f"== {variant}:" in out
        assert re.search(rf"NAB standard {variant}\s+in-sample\s+-?[\d.]+\s+cross-validated\s+-?[\d.]+", out)
    header = re.search(r"^\s+(\w+)\s+robust_z$", out, re.M)
    assert header and header.group(1) == get_detector().name
    assert re.search(r"points/s per core\s+[\d,]+\s+[\d,]+", out)
    assert "false pages per series per week" in out
    for fam in ("famA", "famB", "famC"):
        assert re.search(rf"^  {fam}\s+(-?[\d.]+|raw -?[\d.]+)\s+(-?[\d.]+|raw -?[\d.]+)\s+\{{", out, re.M), fam
    standard = re.search(r"NAB standard\s+(-?[\d.]+)\s+(-?[\d.]+)", out)
    assert float(standard.group(1)) > 50.0  # the synthetic faults are plain: the default finds them


def test_backtest_nab_refuses_a_folder_without_labels_and_an_unknown_detector(nab_dir, tmp_path):
    with pytest.raises(CommandError, match="labels.json"):
        call_command("backtest", "--nab", str(tmp_path), verbosity=0)
    with pytest.raises(CommandError, match="unknown detector"):
        call_command("backtest", "--nab", str(nab_dir), "--detector", "nope", verbosity=0)
    with pytest.raises(CommandError, match="--input"):
        call_command("backtest", verbosity=0)


def test_false_pages_count_episodes_on_normal_stretches_per_week(files):
    scores = [np.zeros(f.values.shape[0]) for f in files]
    c1 = next(i for i, f in enumerate(files) if f.rel == "famC/c1.csv")
    scores[c1][[600, 601, 602, 1400]] = 1.0  # one episode of three rows, then another page
    rates = evaluate.false_pages_per_week(files, scores, 0.75)
    weeks = (1600 - 240) * STEP / evaluate.WEEK
    assert rates["famC"] == pytest.approx(2 / weeks, rel=0.01)
    assert rates["famA"] == 0.0


def _hourly(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.arange(n) * 3600.0 + 1.7e9, 20.0 + rng.normal(0.0, 1.0, n)


def test_the_warm_up_scores_a_short_series_from_its_first_day():
    ts, vs = _hourly(60, 1)
    vs[20] += 15.0  # the 21st hour of the series' life
    blend = get_detector()
    result, _ = score_series(detector=blend, state=blend.initial_state(), timestamps=ts, values=vs)
    flagged = np.flatnonzero(result.scores >= blend.default_threshold)
    assert list(flagged) == [20]
    adaptive = get_detector("adaptive")
    old, _ = score_series(detector=adaptive, state=adaptive.initial_state(), timestamps=ts, values=vs)
    assert old.scores[20] == 0.0  # the old detector scored nothing for its first 100 points


@pytest.mark.parametrize(("step", "gap"), [(3600.0, 8), (300.0, 30)], ids=["hourly_8h_later", "5min_150min_later"])
def test_a_second_anomaly_soon_after_the_first_is_flagged_too(step, gap):
    rng = np.random.default_rng(5)
    n = 1500
    ts = np.arange(n) * step + 1.7e9
    vs = 20.0 + rng.normal(0.0, 1.0, n)
    first = 1200
    vs[first] += 12.0
    vs[first + gap] += 12.0  # as large as the first: no "clearly bigger" break-through
    detector = get_detector()
    result, _ = score_series(detector=detector, state=detector.initial_state(), timestamps=ts, values=vs)
    flagged = set(np.flatnonzero(result.scores >= detector.default_threshold))
    assert {first, first + gap} <= flagged
    adaptive = get_detector("adaptive")
    old, _ = score_series(detector=adaptive, state=adaptive.initial_state(), timestamps=ts, values=vs)
    assert old.scores[first + gap] < adaptive.default_threshold <= old.scores[first]  # what the issue reported


def test_a_series_with_the_old_default_detectors_state_restarts_cleanly_under_the_new_one():
    ts, vs = _hourly(400, 3)
    adaptive = get_detector("adaptive")
    _, old_state = score_series(detector=adaptive, state=adaptive.initial_state(), timestamps=ts[:200], values=vs[:200])
    blend = get_detector()
    state = blend.load_state(adaptive.dump_state(old_state))  # the stored blob of an upgraded series
    resumed, _ = score_series(detector=blend, state=state, timestamps=ts[200:], values=vs[200:])
    fresh, _ = score_series(detector=blend, state=blend.initial_state(), timestamps=ts[200:], values=vs[200:])
    np.testing.assert_array_equal(resumed.scores, fresh.scores)


def test_cv_scores_each_family_with_choices_made_without_it(files, monkeypatch):
    """Grid point 0 detects only famA's faults, point 1 everyone else's: famA's fold must choose point 1."""

    def fake_scores(fs, point):
        out = []
        for f in fs:
            s = np.zeros(f.values.shape[0])
            if (f.family == "famA") == (point["p"] == 0.0):
                for a, _ in f.spans:
                    s[a] = 1.0
            out.append(s)
        return out

    monkeypatch.setattr(evaluate, "CV_GRID", (("p", 0, (0.0, 1.0)),))
    monkeypatch.setattr(evaluate, "_grid_scores", fake_scores)
    report = evaluate.cv_families({"dev": files})
    rows = {r.family: r for r in report.families}
    assert rows["famA"].chosen == {"p": 1.0} and rows["famB"].chosen == {"p": 0.0}
    assert rows["famA"].cv == pytest.approx(0.0) and rows["famB"].cv == pytest.approx(0.0)  # each misses all
    assert report.cv["dev"] == pytest.approx(0.0)
    assert report.in_sample["dev"] == pytest.approx(50.0)  # one point, chosen on all, finds half the windows
