"""Artifact storage under ARTIFACT_DIR: joblib files addressed by relative path, checked by SHA-256 on load."""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import joblib
from django.conf import settings

from .exceptions import ArtifactIntegrityError

_CHUNK = 1 << 20


def artifact_root() -> Path:
    return Path(settings.ARTIFACT_DIR)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_save(*, obj: Any, relative_path: str) -> tuple[str, str]:
    """Write `obj` atomically (temp file + rename) and return (relative path, SHA-256)."""
    target = artifact_root() / relative_path
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(fd)
    try:
        joblib.dump(obj, tmp, compress=3)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return relative_path, file_sha256(target)


def artifact_load(*, relative_path: str, sha256: str) -> Any:
    """Load an artifact after checking its SHA-256; a missing file or another hash raises ArtifactIntegrityError."""
    root = artifact_root().resolve()
    target = (root / relative_path).resolve()
    if root not in target.parents:
        raise ArtifactIntegrityError(f"artifact path {relative_path!r} leaves the artifact directory")
    if not target.is_file():
        raise ArtifactIntegrityError(f"artifact {relative_path!r} is missing")
    # Hash the bytes we then unpickle, so a file swapped between check and load cannot slip through.
    data = target.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ArtifactIntegrityError(
            f"artifact {relative_path!r} has SHA-256 {actual[:12]}…, expected {sha256[:12]}… (tampered or corrupted)"
        )
    return joblib.load(io.BytesIO(data))
