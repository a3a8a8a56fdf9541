"""Backtest: replay CSV histories through the live scoring path (score_series + state persistence) and write scores."""

from __future__ import annotations

import csv
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.exceptions import InvalidInput

from .engine import score_series
from .registry import get_detector

CHUNK = (
    1000  # live batches are up to this many points per series, so the backtest feeds the same sizes
)


class BacktestInputError(InvalidInput):
    """A CSV below the input folder cannot be read as timestamp,value rows."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestReport:
    detector: str
    threshold: float
    files: int
    points: int
    anomalies: int
    seconds: float  # scoring only (engine + state dump/load between batches)
    warmup_seconds: float = 0.0  # one-off JIT load before the first batch
    cpu_seconds: float = 0.0  # CPU time of the scoring: the one-core rate even on a busy machine

    @property
    def points_per_second(self) -> float:
        return self.points / self.seconds if self.seconds > 0 else float("inf")

    @property
    def points_per_cpu_second(self) -> float:
        return self.points / self.cpu_seconds if self.cpu_seconds > 0 else float("inf")


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesCsv:
    timestamps_text: list[str]
    values_text: list[str]
    timestamps: np.ndarray  # epoch seconds
    values: np.ndarray


def series_csv_read(*, path: Path) -> SeriesCsv:
    """Read one ``timestamp,value`` CSV; errors name the file and the 1-based line.

    Timestamps are ISO 8601 (naive = UTC) or epoch seconds. Parsed column-wise with numpy
    (a row-by-row pass only runs to locate the first bad line once parsing has failed).
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BacktestInputError(f"{path}: not a readable CSV ({exc})", field="input") from exc
    if not rows:
        raise BacktestInputError(
            f"{path}: line 1: empty file (need a timestamp,value header)", field="input"
        )
    header = [h.strip() for h in rows[0]]
    for column in ("timestamp", "value"):
        if column not in header:
            raise BacktestInputError(
                f"{path}: line 1: missing column {column!r} (need timestamp,value)", field="input"
            )
    ti, vi = header.index("timestamp"), header.index("value")
    body = [(n, r) for n, r in enumerate(rows[1:], start=2) if r and any(c.strip() for c in r)]
    width = max(ti, vi) + 1
    for n, r in body:
        if len(r) < width:
            raise BacktestInputError(
                f"{path}: line {n}: expected at least {width} columns, got {len(r)}", field="input"
            )
    lines = [n for n, _ in body]
    ts_text = [r[ti].strip() for _, r in body]
    values_text = [r[vi].strip() for _, r in body]
    stamps = _column_timestamps(path, ts_text, lines)
    values = _column_floats(path, values_text, lines)
    return SeriesCsv(
        timestamps_text=ts_text, values_text=values_text, timestamps=stamps, values=values
    )


def _column_timestamps(path: Path, texts: list[str], lines: list[int]) -> np.ndarray:
    if not texts:
        return np.empty(0, dtype=np.float64)
    try:
        float(texts[0])
        numeric = True
    except ValueError:
        numeric = False
    try:
        if numeric:
            stamps = np.array(texts, dtype=np.float64)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter(
                    "ignore", UserWarning
                )  # numpy converts "+01:00" offsets to UTC and says so
                stamps = np.array(texts, dtype="datetime64[us]").astype(np.int64) / 1e6
    except ValueError:
        for k, text in enumerate(texts):
            try:
                np.array([text], dtype=np.float64 if numeric else "datetime64[us]")
            except ValueError:
                raise BacktestInputError(
                    f"{path}: line {lines[k]}: unparseable timestamp {text!r}", field="timestamp"
                ) from None
        raise
    bad = np.flatnonzero(~np.isfinite(stamps))
    if bad.size:
        k = int(bad[0])
        raise BacktestInputError(
            f"{path}: line {lines[k]}: timestamp {texts[k]!r} is not a finite time",
            field="timestamp",
        )
    return stamps.astype(np.float64)


def _column_floats(path: Path, texts: list[str], lines: list[int]) -> np.ndarray:
    try:
        values = np.array(texts, dtype=np.float64)
    except ValueError:
        values = np.array([_float_or_nan(t) for t in texts], dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        k = int(bad[0])
        raise BacktestInputError(
            f"{path}: line {lines[k]}: value {texts[k]!r} is not a finite number", field="value"
        )
    return values


def _float_or_nan(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _write_scores(target: Path, data: SeriesCsv, scores: np.ndarray, flagged: np.ndarray) -> None:
    # Plain string joins: 10x faster than DataFrame.to_csv, and the input text is echoed verbatim.
    # Inputs are plain numbers and ISO times, so no CSV quoting is ever needed.
    score_text = np.char.mod("%.6f", scores).tolist()
    flag_text = np.where(flagged, "1", "0").tolist()
    with target.open("w", newline="") as fh:
        fh.write("timestamp,value,anomaly_score,is_anomaly\n")
        fh.write(
            "".join(
                f"{t},{v},{sc},{a}\n"
                for t, v, sc, a in zip(
                    data.timestamps_text, data.values_text, score_text, flag_text, strict=False
                )
            )
        )


def series_backtest(
    *, detector_name: str | None, timestamps: np.ndarray, values: np.ndarray, chunk: int = CHUNK
) -> np.ndarray:
    """Scores for one series, fed in time order in live-sized batches with state dumped and reloaded between them."""
    detector = get_detector(detector_name)
    order = np.argsort(timestamps, kind="stable")
    ts, vs = timestamps[order], values[order]
    scores = np.empty(ts.shape[0], dtype=np.float64)
    blob = b""  # what the series row would hold before its first batch
    for start in range(0, ts.shape[0], chunk):
        state = detector.load_state(blob)
        result, state = score_series(
            detector=detector,
            state=state,
            timestamps=ts[start : start + chunk],
            values=vs[start : start + chunk],
        )
        blob = detector.dump_state(state)
        scores[start : start + chunk] = result.scores
    out = np.empty_like(scores)
    out[order] = scores
    return out


def backtest_run(
    *,
    input_dir: Path,
    output_dir: Path,
    detector_name: str | None = None,
    chunk: int = CHUNK,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> BacktestReport:
    """Score every CSV below ``input_dir`` and write ``timestamp,value,anomaly_score,is_anomaly`` mirrors."""
    detector = get_detector(detector_name)
    files = sorted(p for p in input_dir.rglob("*.csv") if p.is_file())
    if not files:
        raise BacktestInputError(f"{input_dir}: no CSV files found", field="input")
    # Read everything first so a bad file fails before any output is written.
    series = [(path, series_csv_read(path=path)) for path in files]
    if on_total:
        on_total(sum(len(s.values) for _, s in series))
    # Compile/load the JIT kernels once up front so the throughput figure is the steady-state rate
    # a long-running ingestion worker sees; the one-off cost is reported on its own.
    started = time.perf_counter()
    detector.update(detector.initial_state(), np.zeros(1), np.zeros(1))
    warmup = time.perf_counter() - started
    points = anomalies = 0
    seconds = cpu = 0.0
    for path, data in series:
        started, cpu_started = time.perf_counter(), time.process_time()
        scores = series_backtest(
            detector_name=detector.name, timestamps=data.timestamps, values=data.values, chunk=chunk
        )
        seconds += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
        flagged = scores >= detector.default_threshold
        target = output_dir / path.relative_to(input_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_scores(target, data, scores, flagged)
        points += len(scores)
        anomalies += int(flagged.sum())
        if progress:
            progress(len(scores))
    return BacktestReport(
        detector=detector.name,
        threshold=detector.default_threshold,
        files=len(files),
        points=points,
        anomalies=anomalies,
        seconds=seconds,
        warmup_seconds=warmup,
        cpu_seconds=cpu,
    )
