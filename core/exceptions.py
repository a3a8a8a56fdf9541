"""Domain errors that views map to HTTP status codes."""
from __future__ import annotations


class DomainError(Exception):
    """A request that is well-formed but not allowed in the current state."""

    status_code = 409
    code = "conflict"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class InvalidInput(DomainError):
    status_code = 400
    code = "invalid"
