"""Artifacts: stored under ARTIFACT_DIR with their SHA-256, and refused on load when the bytes differ."""
from __future__ import annotations

import pytest

from models_registry.artifacts import artifact_load, artifact_save, file_sha256
from models_registry.exceptions import ArtifactIntegrityError


def test_an_artifact_round_trips_with_its_hash(settings):
    path, sha = artifact_save(obj={"weights": [1, 2, 3]}, relative_path="m/run-1.joblib")
    assert (settings.ARTIFACT_DIR / path).is_file() and file_sha256(settings.ARTIFACT_DIR / path) == sha
    assert artifact_load(relative_path=path, sha256=sha) == {"weights": [1, 2, 3]}


@pytest.mark.parametrize(
    ("case", "damage", "message"),
    [
        ("flipped_byte", lambda p: p.write_bytes(p.read_bytes()[:-1] + bytes([p.read_bytes()[-1] ^ 1])), "SHA-256"),
        ("truncated", lambda p: p.write_bytes(p.read_bytes()[:10]), "SHA-256"),
        ("deleted", lambda p: p.unlink(), "missing"),
    ],
)
def test_a_damaged_artifact_is_refused(settings, case, damage, message):
    path, sha = artifact_save(obj={"weights": [1, 2, 3]}, relative_path="m/run-2.joblib")
    damage(settings.ARTIFACT_DIR / path)
    with pytest.raises(ArtifactIntegrityError, match=message):
        artifact_load(relative_path=path, sha256=sha)


def test_a_path_outside_the_artifact_directory_is_refused():
    with pytest.raises(ArtifactIntegrityError, match="leaves the artifact directory"):
        artifact_load(relative_path="../../etc/passwd", sha256="0" * 64)
