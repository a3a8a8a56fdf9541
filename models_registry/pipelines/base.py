"""The pipeline contract: one object turns raw records into features for both training and serving."""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..exceptions import InvalidRecords


@dataclass(frozen=True, slots=True, kw_only=True)
class InputField:
    """One raw input a caller sends per record."""

    name: str
    kind: str  # "number" | "string" | "datetime"
    nullable: bool = False  # null allowed (the model handles missing values), the key must still be present
    help: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingData:
    """Raw rows of a time window: the pipeline's input columns plus `event_time` (UTC) and `target`."""

    frame: pd.DataFrame
    start: datetime
    end: datetime


@dataclass(slots=True, kw_only=True)
class FittedModel:
    """What an artifact file holds: the estimator plus everything serving needs to rebuild features."""

    pipeline: str
    estimator: Any
    features: list[str]
    categories: dict[str, list[str]]
    params: dict[str, Any]
    # A sample of training features (and the model's scores on them): the drift monitors' reference.
    reference: pd.DataFrame | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Pipeline(ABC):
    """A model family: raw inputs, feature building, estimator, and validation metrics."""

    name: ClassVar[str]
    task: ClassVar[str]
    inputs: ClassVar[tuple[InputField, ...]]
    features: ClassVar[tuple[str, ...]]
    categorical: ClassVar[tuple[str, ...]]
    default_params: ClassVar[dict[str, Any]]

    # ---- data -------------------------------------------------------------------------------------
    @abstractmethod
    def data_range(self) -> tuple[datetime, datetime]:
        """First and last instants for which raw data exists."""

    @abstractmethod
    def load(self, *, start: datetime, end: datetime) -> TrainingData:
        """Raw rows with event_time in [start, end), with their target."""

    # ---- features (shared by training and serving) ------------------------------------------------
    @abstractmethod
    def build_features(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Feature frame (columns `features`) from raw input columns; categoricals as strings."""

    def encode(self, features: pd.DataFrame, categories: Mapping[str, Sequence[str]]) -> np.ndarray:
        """Float matrix for the estimator: categoricals as codes of the training categories, unseen → NaN."""
        matrix = np.empty((len(features), len(self.features)), dtype=np.float64)
        for position, name in enumerate(self.features):
            if name in self.categorical:
                codes = pd.Index(categories[name]).get_indexer(features[name].to_numpy()).astype(np.float64)
                codes[codes < 0] = np.nan
                matrix[:, position] = codes
            else:
                matrix[:, position] = features[name].to_numpy(dtype=np.float64)
        return matrix

    # ---- estimator --------------------------------------------------------------------------------
    @abstractmethod
    def fit(self, *, features: pd.DataFrame, target: np.ndarray, params: Mapping[str, Any]) -> FittedModel:
        """Train on a feature frame."""

    @abstractmethod
    def predict(self, fitted: FittedModel, features: pd.DataFrame) -> np.ndarray:
        """Regression values or positive-class scores, float64."""

    @abstractmethod
    def evaluate(self, *, target: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
        """Validation metrics, business metrics included."""

    # ---- serving input ----------------------------------------------------------------------------
    def validate_records(self, records: Any) -> list[dict[str, Any]]:
        """Check raw records against `inputs`; the first problem raises InvalidRecords naming index and field."""
        if not isinstance(records, list) or not records:
            raise InvalidRecords("records must be a non-empty list of objects", field="records")
        clean: list[dict[str, Any]] = []
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise InvalidRecords(f"record {index} is not an object", field=f"records[{index}]")
            row: dict[str, Any] = {}
            for spec in self.inputs:
                value = record.get(spec.name, _MISSING)
                kind = type(value)
                # Fast path for the common well-typed values (serving validates ~1,200 values per batch).
                if spec.kind == "number" and (kind is float or kind is int) and math.isfinite(value):
                    row[spec.name] = float(value)
                    continue
                if spec.kind == "string" and kind is str and value and not value[0].isspace() and not value[-1].isspace():
                    row[spec.name] = value
                    continue
                where = f"records[{index}].{spec.name}"
                if value is _MISSING:
                    raise InvalidRecords(f"record {index}: missing field {spec.name!r}", field=where)
                row[spec.name] = _check_value(value, spec, index=index, where=where)
            clean.append(row)
        return clean

    def records_from_frame(self, raw: pd.DataFrame) -> list[dict[str, Any]]:
        """API records (JSON-ready: ISO date-times, None for missing) from raw rows as `load` returns them."""
        columns = [spec.name for spec in self.inputs]
        out: list[dict[str, Any]] = []
        for values in raw[columns].itertuples(index=False, name=None):
            record: dict[str, Any] = {}
            for spec, value in zip(self.inputs, values):
                if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
                    record[spec.name] = None
                elif spec.kind == "datetime":
                    record[spec.name] = pd.Timestamp(value).isoformat()
                elif spec.kind == "number":
                    record[spec.name] = float(value)
                else:
                    record[spec.name] = str(value)
            out.append(record)
        return out

    def frame_from_records(self, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        """Raw input frame from validated records (the same columns `load` returns)."""
        return pd.DataFrame.from_records(list(records), columns=[spec.name for spec in self.inputs])


_MISSING = object()


def _check_value(value: Any, spec: InputField, *, index: int, where: str) -> Any:
    if value is None:
        if spec.nullable:
            return None
        raise InvalidRecords(f"record {index}: field {spec.name!r} must not be null", field=where)
    if spec.kind == "number":
        # bool is an int subclass in Python; a true/false distance is a caller bug, not a number.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidRecords(f"record {index}: field {spec.name!r} must be a finite number", field=where)
        return float(value)
    if spec.kind == "string":
        if not isinstance(value, str) or not value.strip():
            raise InvalidRecords(f"record {index}: field {spec.name!r} must be a non-empty string", field=where)
        return value.strip()
    if spec.kind == "datetime":
        if not isinstance(value, str):
            raise InvalidRecords(f"record {index}: field {spec.name!r} must be an ISO 8601 date-time string", field=where)
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRecords(
                f"record {index}: field {spec.name!r} is not an ISO 8601 date-time", field=where
            ) from None
        return value
    raise AssertionError(f"unknown input kind {spec.kind!r}")
