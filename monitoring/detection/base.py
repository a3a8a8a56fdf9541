"""Base class and result type every anomaly detector implements (the detection engine contract)."""

from __future__ import annotations

import logging
import struct
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

logger = logging.getLogger(__name__)


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
    def update(
        self, state: Any, timestamps: np.ndarray, values: np.ndarray
    ) -> tuple[DetectionResult, Any]:
        """Score a batch (timestamps: float64 epoch seconds, ascending) and return the new state."""

    @abstractmethod
    def dump_state(self, state: Any) -> bytes:
        """Serialise state to compact bytes (stored per series in a BinaryField)."""

    @abstractmethod
    def load_state(self, data: bytes) -> Any:
        """Inverse of ``dump_state``; ``b""`` gives the initial state."""


class StateFormatError(ValueError):
    """Persisted detector state is corrupt or from an incompatible version."""


class StateVersionMismatch(StateFormatError):
    """State written by another version of the detector (expected after an upgrade)."""


def arrays_load_checked(
    data: bytes, *, version: int, template: dict[str, np.ndarray], name: str
) -> dict[str, np.ndarray]:
    """Load state shaped like ``template``; state of another version is replaced by the template.

    Persisted state is learnt, not configured: after an upgrade changes its layout the
    series simply re-learns (logged), rather than failing ingestion. Corrupt bytes or a
    same-version layout mismatch are bugs and raise ``StateFormatError`` (compiled
    kernels must never index past a short array).
    """
    try:
        arrays = arrays_load(data, version=version)
    except StateVersionMismatch as exc:
        logger.info("detector %s: %s; starting the series afresh", name, exc)
        return template
    for key, expected in template.items():
        got = arrays.get(key)
        if got is None or got.shape != expected.shape:
            shape = None if got is None else got.shape
            raise StateFormatError(
                f"detector state {key!r} has shape {shape}, expected {expected.shape}"
            )
    return {key: arrays[key] for key in template}


_MAGIC = b"AIDS"  # "AIOps detector state"
_HEADER = struct.Struct("<4sHH")  # magic, state version, number of arrays
_ARRAY = struct.Struct("<B")  # name length, followed by name, ndim, dims, float64 data


def arrays_dump(*, version: int, arrays: dict[str, np.ndarray]) -> bytes:
    """Pack named float64 arrays into compact bytes: a small header plus raw data, zlib-compressed.

    Hand-rolled rather than ``np.savez`` because state is written after every
    batch of every series (savez's zip container costs ~5 ms; this costs ~50 us)
    and because loading must never unpickle.
    """
    parts = [_HEADER.pack(_MAGIC, version, len(arrays))]
    for key, value in arrays.items():
        arr = np.ascontiguousarray(value, dtype=np.float64)
        name = key.encode()
        parts.append(
            _ARRAY.pack(len(name)) + name + struct.pack(f"<B{arr.ndim}I", arr.ndim, *arr.shape)
        )
        parts.append(arr.tobytes())
    # Level 1: most of the state is zero-filled histograms, so the fastest level already shrinks it ~5x.
    return zlib.compress(b"".join(parts), 1)


def arrays_load(data: bytes, *, version: int) -> dict[str, np.ndarray]:
    """Unpack bytes from ``arrays_dump``; refuses anything malformed or of another version."""
    try:
        raw = zlib.decompress(data)
        magic, found, count = _HEADER.unpack_from(raw, 0)
        if magic != _MAGIC:
            raise ValueError("not detector state")
        if found != version:
            raise StateVersionMismatch(f"detector state version {found}, expected {version}")
        pos = _HEADER.size
        arrays: dict[str, np.ndarray] = {}
        for _ in range(count):
            (name_len,) = _ARRAY.unpack_from(raw, pos)
            pos += 1
            name = raw[pos : pos + name_len].decode()
            pos += name_len
            (ndim,) = struct.unpack_from("<B", raw, pos)
            pos += 1
            shape = struct.unpack_from(f"<{ndim}I", raw, pos)
            pos += 4 * ndim
            size = int(np.prod(shape, dtype=np.int64)) * 8
            if pos + size > len(raw):
                raise ValueError("truncated")
            arrays[name] = (
                np.frombuffer(raw, dtype=np.float64, count=size // 8, offset=pos)
                .reshape(shape)
                .copy()
            )
            pos += size
    except StateFormatError:
        raise
    except Exception as exc:
        raise StateFormatError(f"unreadable detector state: {exc}") from exc
    return arrays
