"""Base class and result type every anomaly detector implements (the detection engine contract)."""
from __future__ import annotations

import io
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectionResult:
    """Per-point output of a detector for one batch of points of one series."""

    scores: np.ndarray  # float64 in [0, 1], one per input point
    expected: np.ndarray  # expected value per point
    lower: np.ndarray  # band: values outside [lower, upper] are unusual
    upper: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @classmethod
    def empty(cls) -> DetectionResult:
        z = np.empty(0, dtype=np.float64)
        return cls(scores=z, expected=z, lower=z, upper=z)

    @classmethod
    def concat(cls, parts: list[DetectionResult]) -> DetectionResult:
        if not parts:
            return cls.empty()
        return cls(
            scores=np.concatenate([p.scores for p in parts]),
            expected=np.concatenate([p.expected for p in parts]),
            lower=np.concatenate([p.lower for p in parts]),
            upper=np.concatenate([p.upper for p in parts]),
        )


class Detector(ABC):
    """A streaming, causal detector: the score of a point depends only on earlier points.

    Detectors are stateless objects; everything learnt about one series lives in
    the ``state`` value, which the caller persists between batches with
    ``dump_state``/``load_state`` so any worker can continue a series.
    """

    name: ClassVar[str]
    default_threshold: ClassVar[float]

    @abstractmethod
    def initial_state(self) -> Any:
        """State of a series that has seen no points yet."""

    @abstractmethod
    def update(self, state: Any, timestamps: np.ndarray, values: np.ndarray) -> tuple[DetectionResult, Any]:
        """Score a batch (timestamps: float64 epoch seconds, ascending) and return the new state."""

    @abstractmethod
    def dump_state(self, state: Any) -> bytes:
        """Serialise state to compact bytes (stored per series in a BinaryField)."""

    @abstractmethod
    def load_state(self, data: bytes) -> Any:
        """Inverse of ``dump_state``; ``b""`` gives the initial state."""


class StateFormatError(ValueError):
    """Persisted detector state is corrupt or from an incompatible version."""


def arrays_dump(*, version: int, arrays: dict[str, np.ndarray]) -> bytes:
    """Pack named numpy arrays into npz bytes (no pickle: state must never execute code on load)."""
    buf = io.BytesIO()
    np.savez(buf, __version__=np.array([version], dtype=np.int64), **arrays)
    return buf.getvalue()


def arrays_load(data: bytes, *, version: int) -> dict[str, np.ndarray]:
    """Unpack bytes from ``arrays_dump``; refuses pickled objects and other versions."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as exc:  # noqa: BLE001 - any decode failure means unusable state
        raise StateFormatError(f"unreadable detector state: {exc}") from exc
    found = int(arrays.pop("__version__", np.array([-1]))[0])
    if found != version:
        raise StateFormatError(f"detector state version {found}, expected {version}")
    return arrays
