"""API plumbing shared by every app."""
from .handlers import exception_handler

__all__ = ["exception_handler"]
