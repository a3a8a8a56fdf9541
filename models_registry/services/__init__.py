"""Writes of the models_registry app, one module per area, re-exported here."""
from __future__ import annotations

from .registry import model_rollback, registered_model_get_or_create
from .serving import actuals_attach, fitted_model_for, predictions_make, predictions_serve
from .training import (
    retraining_schedule,
    training_run_create,
    training_run_execute,
    training_run_reproduce,
    training_run_start,
    training_runs_reap,
)

__all__ = [
    "actuals_attach",
    "fitted_model_for",
    "model_rollback",
    "predictions_make",
    "predictions_serve",
    "registered_model_get_or_create",
    "retraining_schedule",
    "training_run_create",
    "training_run_execute",
    "training_run_reproduce",
    "training_run_start",
    "training_runs_reap",
]
