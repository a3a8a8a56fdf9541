"""Backtest: replay CSV histories through the live scoring path (score_series + state persistence) and write scores."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.exceptions import InvalidInput

from .engine import score_series
from .registry import get_detector

CHUNK = 1000  # live batches are up to this many points per series, so the backtest feeds the same sizes


class BacktestInputError(InvalidInput):
    """A CSV below the input folder cannot be read as timestamp,value rows."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestReport:
    detector: str
    threshold: float
    files: int
    points: int
    anomalies: int
    seconds: float

    @property
    def points_per_second(self) -> float:
        return self.points / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesCsv:
    timestamps_text: list[str]
    values_text: list[str]
    timestamps: np.ndarray  # epoch seconds
    values: np.ndarray


def series_csv_read(*, path: Path) -> SeriesCsv:
    """Read one ``timestamp,value`` CSV; errors name the file and the 1-based line."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as exc:  # noqa: BLE001 - pandas raises many types for unreadable CSV
        raise BacktestInputError(f"{path}: not a readable CSV ({exc})", field="input") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in ("timestamp", "value"):
        if column not in frame.columns:
            raise BacktestInputError(f"{path}: line 1: missing column {column!r} (need timestamp,value)", field="input")
    ts_text = frame["timestamp"].str.strip()
    numeric = pd.to_numeric(ts_text, errors="coerce")
    if len(ts_text) and numeric.notna().all():
        stamps = numeric.to_numpy(dtype=np.float64)  # already epoch seconds
    else:
        parsed = pd.to_datetime(ts_text, errors="coerce", utc=True, format="ISO8601")
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if bad.size:
            i = int(bad[0])
            raise BacktestInputError(f"{path}: line {i + 2}: unparseable timestamp {ts_text.iloc[i]!r}", field="timestamp")
        stamps = (parsed.astype("int64").to_numpy() / 1e9).astype(np.float64)
    values = pd.to_numeric(frame["value"].str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values)) if values.size else np.empty(0, dtype=np.int64)
    if bad.size:
        i = int(bad[0])
        raise BacktestInputError(f"{path}: line {i + 2}: value {frame['value'].iloc[i]!r} is not a finite number", field="value")
    if stamps.size and not np.isfinite(stamps).all():
        i = int(np.flatnonzero(~np.isfinite(stamps))[0])
        raise BacktestInputError(f"{path}: line {i + 2}: timestamp is not finite", field="timestamp")
    return SeriesCsv(timestamps_text=ts_text.tolist(), values_text=frame["value"].tolist(), timestamps=stamps, values=values)


def series_backtest(*, detector_name: str | None, timestamps: np.ndarray, values: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """Scores for one series, fed in time order in live-sized batches with state dumped and reloaded between them."""
    detector = get_detector(detector_name)
    order = np.argsort(timestamps, kind="stable")
    ts, vs = timestamps[order], values[order]
    scores = np.empty(ts.shape[0], dtype=np.float64)
    blob = b""  # what the series row would hold before its first batch
    for start in range(0, ts.shape[0], chunk):
        state = detector.load_state(blob)
        result, state = score_series(detector=detector, state=state, timestamps=ts[start:start + chunk], values=vs[start:start + chunk])
        blob = detector.dump_state(state)
        scores[start:start + chunk] = result.scores
    out = np.empty_like(scores)
    out[order] = scores
    return out


def backtest_run(
    *, input_dir: Path, output_dir: Path, detector_name: str | None = None, chunk: int = CHUNK,
    progress: Callable[[int], None] | None = None, on_total: Callable[[int], None] | None = None,
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
    points = anomalies = 0
    seconds = 0.0
    for path, data in series:
        started = time.perf_counter()
        scores = series_backtest(detector_name=detector.name, timestamps=data.timestamps, values=data.values, chunk=chunk)
        seconds += time.perf_counter() - started
        flagged = scores >= detector.default_threshold
        target = output_dir / path.relative_to(input_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({
            "timestamp": data.timestamps_text,
            "value": data.values_text,
            "anomaly_score": np.round(scores, 6),
            "is_anomaly": flagged.astype(np.int8),
        }).to_csv(target, index=False)
        points += len(scores)
        anomalies += int(flagged.sum())
        if progress:
            progress(len(scores))
    return BacktestReport(detector=detector.name, threshold=detector.default_threshold, files=len(files), points=points,
                          anomalies=anomalies, seconds=seconds)
