"""Domain errors of the models_registry app (the API maps them to 4xx)."""
from __future__ import annotations

from core.exceptions import DomainError, InvalidInput, NotFound


class ModelNotFound(NotFound):
    code = "model_not_found"


class NoChampion(DomainError):
    """The model has no champion to serve or roll back from."""

    status_code = 409
    code = "no_champion"


class ArtifactIntegrityError(DomainError):
    """An artifact file is missing or its SHA-256 differs from the one recorded at training time."""

    status_code = 409
    code = "artifact_integrity"


class InvalidRecords(InvalidInput):
    code = "invalid_records"


class UnknownRequestIds(InvalidInput):
    code = "unknown_request_ids"


class TrainingRunConflict(DomainError):
    code = "training_run_conflict"


class TrainingFailed(Exception):
    """Raised inside a training run; the run is marked failed with this message."""


class BatchFileTooLarge(DomainError):
    status_code = 413
    code = "batch_file_too_large"


class BatchResultNotReady(DomainError):
    """The job has not succeeded: there is no complete result set to download."""

    status_code = 409
    code = "batch_result_not_ready"
