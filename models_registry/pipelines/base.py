"""The pipeline contract: one object turns raw records into features for both training and serving."""
from __future__ import annotations

import logging
import math
import operator
import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..exceptions import InvalidRecords
from .forest import CompiledForest, ForestUnsupported, forest_compile

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordBatch:
    """Validated serving records, column by column, in the order of the pipeline's `inputs`.

    Numbers are float64 arrays (NaN for null), strings and ISO date-times object arrays of str.
    """

    columns: dict[str, np.ndarray]
    size: int

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def rows(self) -> list[dict[str, Any]]:
        """The records as validated (what the prediction log stores): numbers as floats, None for null."""
        names = list(self.columns)
        values = []
        for column in self.columns.values():
            if column.dtype == np.float64:
                items = column.tolist()
                if np.isnan(column).any():
                    items = [None if math.isnan(item) else item for item in items]
                values.append(items)
            else:
                values.append(column.tolist())
        return [dict(zip(names, row, strict=False)) for row in zip(*values, strict=False)]


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
    def feature_columns(self, raw: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Feature arrays (keys `features`) from raw input columns (a frame or `RecordBatch.columns`);
        categoricals as str."""

    def build_features(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Feature frame (columns `features`) from a raw frame: `feature_columns`, as training and monitors use it."""
        return pd.DataFrame(self.feature_columns(raw), index=raw.index)

    def encode(self, features: Mapping[str, Any], categories: Mapping[str, Sequence[str]]) -> np.ndarray:
        """Float matrix for the estimator: categoricals as codes of the training categories, unseen → NaN."""
        matrix = np.empty((len(features[self.features[0]]), len(self.features)), dtype=np.float64)
        for position, name in enumerate(self.features):
            if name in self.categorical:
                matrix[:, position] = _category_codes(features[name], tuple(categories[name]))
            else:
                matrix[:, position] = np.asarray(features[name], dtype=np.float64)
        return matrix

    # ---- estimator --------------------------------------------------------------------------------
    @abstractmethod
    def fit(self, *, features: pd.DataFrame, target: np.ndarray, params: Mapping[str, Any]) -> FittedModel:
        """Train on a feature frame."""

    def predict(self, fitted: FittedModel, features: Mapping[str, Any]) -> np.ndarray:
        """Regression values or positive-class scores, float64 (training, evaluation and serving alike)."""
        matrix = self.encode(features, fitted.categories)
        forest = self.compiled_forest(fitted)
        if forest is not None:
            return forest.scores(matrix)
        return self.estimator_scores(fitted.estimator, matrix)

    @abstractmethod
    def estimator_scores(self, estimator: Any, matrix: np.ndarray) -> np.ndarray:
        """What the estimator's own predict/predict_proba says for an encoded matrix."""

    def compiled_forest(self, fitted: FittedModel) -> CompiledForest | None:
        """The fitted trees compiled for fast scoring, once per loaded estimator; None: use the estimator.

        A compiled forest is used only after it reproduced, bit for bit, the estimator's own scores
        on the training reference sample stored with the artifact.
        """
        estimator = fitted.estimator
        try:
            return _forests[estimator]
        except KeyError:
            pass
        except TypeError:  # not weak-referenceable: nothing to cache against
            return None
        forest = self._forest_checked(fitted)
        with _forests_lock:
            _forests[estimator] = forest
        return forest

    def _forest_checked(self, fitted: FittedModel) -> CompiledForest | None:
        reference = fitted.reference
        if reference is None or "prediction" not in reference.columns or not len(reference):
            return None
        try:
            forest = forest_compile(fitted.estimator)
        except ForestUnsupported as exc:
            logger.info("scoring %s with the estimator itself: %s", self.name, exc)
            return None
        matrix = self.encode(reference, fitted.categories)
        if not np.array_equal(forest.scores(matrix), reference["prediction"].to_numpy(dtype=np.float64)):
            logger.warning("compiled trees of a %s model differ from the estimator; using the estimator", self.name)
            return None
        return forest

    @abstractmethod
    def evaluate(self, *, target: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
        """Validation metrics, business metrics included."""

    # ---- serving input ----------------------------------------------------------------------------
    def validate_records(self, records: Any) -> RecordBatch:
        """Check raw records against `inputs`, column by column; the first problem (lowest record index,
        then the first field in `inputs` order) raises InvalidRecords naming index and field."""
        if not isinstance(records, list) or not records:
            raise InvalidRecords("records must be a non-empty list of objects", field="records")
        # Records after a non-object one are not looked at: that one is the first problem unless an
        # earlier record has a bad field.
        not_object = next((index for index, record in enumerate(records) if not isinstance(record, dict)), None)
        checked = records if not_object is None else records[:not_object]
        columns: dict[str, np.ndarray] = {}
        first: tuple[int, int, InvalidRecords] | None = None
        for position, (spec, values) in enumerate(zip(self.inputs, self._values_by_input(checked), strict=False)):
            column = _column_fast(values, spec)
            if column is None:
                column, problem = _column_checked(values, spec)
                if problem is not None and (first is None or (problem[0], position) < first[:2]):
                    first = (problem[0], position, problem[1])
            columns[spec.name] = column
        if first is not None:
            raise first[2]
        if not_object is not None:
            raise InvalidRecords(f"record {not_object} is not an object", field=f"records[{not_object}]")
        return RecordBatch(columns=columns, size=len(records))

    def _values_by_input(self, records: Sequence[dict[str, Any]]) -> list[Sequence[Any]]:
        """Each input's values across the records (_MISSING where a record lacks the key)."""
        names = [spec.name for spec in self.inputs]
        if len(names) > 1 and records:
            getter = operator.itemgetter(*names)
            try:
                return list(zip(*map(getter, records), strict=False))  # one C call per record when every key is there
            except KeyError:
                pass
        return [[record.get(name, _MISSING) for record in records] for name in names]

    def records_from_frame(self, raw: pd.DataFrame) -> list[dict[str, Any]]:
        """API records (JSON-ready: ISO date-times, None for missing) from raw rows as `load` returns them."""
        columns = [spec.name for spec in self.inputs]
        out: list[dict[str, Any]] = []
        for values in raw[columns].itertuples(index=False, name=None):
            record: dict[str, Any] = {}
            for spec, value in zip(self.inputs, values, strict=False):
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
_NUMBER_TYPES = frozenset({float, int})
_NULLABLE_NUMBER_TYPES = frozenset({float, int, type(None)})
_forests: weakref.WeakKeyDictionary[Any, CompiledForest | None] = weakref.WeakKeyDictionary()
_forests_lock = threading.Lock()


def _category_codes(values: Any, categories: tuple[str, ...]) -> np.ndarray:
    """Position of each value in `categories` as float64, NaN for a category unseen in training."""
    if len(values) < 1_000:  # a serving batch: a dict beats building a pandas index per call
        lookup = _category_lookup(categories)
        return np.fromiter((lookup.get(value, np.nan) for value in values), dtype=np.float64, count=len(values))
    codes = _category_index(categories).get_indexer(np.asarray(values, dtype=object)).astype(np.float64)
    codes[codes < 0] = np.nan
    return codes


@lru_cache(maxsize=64)
def _category_index(categories: tuple[str, ...]) -> pd.Index:
    return pd.Index(categories)


@lru_cache(maxsize=64)
def _category_lookup(categories: tuple[str, ...]) -> dict[str, float]:
    return {category: float(position) for position, category in enumerate(categories)}


def _column_fast(values: Sequence[Any], spec: InputField) -> np.ndarray | None:
    """The column when every value is well-typed (the common case), else None: look value by value."""
    if spec.kind == "number":
        types = set(map(type, values))
        if not (types <= _NUMBER_TYPES or (spec.nullable and types <= _NULLABLE_NUMBER_TYPES)):
            return None
        try:
            column = np.array(values, dtype=np.float64)  # None -> NaN
        except OverflowError:  # an integer beyond float range
            return None
        finite = np.isfinite(column)
        if not finite.all() and (type(None) not in types or (~finite).sum() != values.count(None)):
            return None
        return column
    if not all(type(value) is str for value in values):
        return None
    if spec.kind == "string":
        stripped = [value.strip() for value in values]
        if not all(stripped) or "\x00" in "".join(stripped):
            return None
        return np.array(stripped, dtype=object)
    if spec.kind == "datetime":
        try:
            for value in values:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return np.array(values, dtype=object)
    raise AssertionError(f"unknown input kind {spec.kind!r}")


def _column_checked(values: Sequence[Any], spec: InputField) -> tuple[np.ndarray, tuple[int, InvalidRecords] | None]:
    """Value by value: the column, or the first bad value's index and error."""
    clean: list[Any] = []
    for index, value in enumerate(values):
        where = f"records[{index}].{spec.name}"
        try:
            if value is _MISSING:
                raise InvalidRecords(f"record {index}: missing field {spec.name!r}", field=where)
            clean.append(_check_value(value, spec, index=index, where=where))
        except InvalidRecords as exc:
            return np.empty(0), (index, exc)
    if spec.kind == "number":
        return np.array([np.nan if value is None else value for value in clean], dtype=np.float64), None
    return np.array(clean, dtype=object), None


def _check_value(value: Any, spec: InputField, *, index: int, where: str) -> Any:
    if value is None:
        if spec.nullable:
            return None
        raise InvalidRecords(f"record {index}: field {spec.name!r} must not be null", field=where)
    if spec.kind == "number":
        # bool is an int subclass in Python; a true/false distance is a caller bug, not a number.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidRecords(f"record {index}: field {spec.name!r} must be a finite number", field=where)
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float range
            number = math.inf
        if not math.isfinite(number):
            raise InvalidRecords(f"record {index}: field {spec.name!r} must be a finite number", field=where)
        return number
    if spec.kind == "string":
        if not isinstance(value, str) or not value.strip():
            raise InvalidRecords(f"record {index}: field {spec.name!r} must be a non-empty string", field=where)
        if "\x00" in value:  # PostgreSQL cannot store a NUL character in the logged record
            raise InvalidRecords(f"record {index}: field {spec.name!r} contains a NUL character", field=where)
        return value.strip()
    if spec.kind == "datetime":
        if not isinstance(value, str):
            raise InvalidRecords(
                f"record {index}: field {spec.name!r} must be an ISO 8601 date-time string", field=where
            )
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:  # NUL characters included
            raise InvalidRecords(
                f"record {index}: field {spec.name!r} is not an ISO 8601 date-time", field=where
            ) from None
        return value
    raise AssertionError(f"unknown input kind {spec.kind!r}")
