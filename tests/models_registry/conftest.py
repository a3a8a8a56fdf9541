"""Fixtures of the registry tests: the reference models registered with small, fast training windows."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models_registry.services import (
    registered_model_get_or_create,
    training_run_create,
    training_run_execute,
)

# Ten days of training and four of holdout keep one fit well under a second.
FAST = {"train_window_days": 10, "holdout_days": 4, "max_iter": 25}
WEAK = {"train_window_days": 10, "holdout_days": 4, "max_iter": 1}  # barely better than a constant
AS_OF = datetime(2013, 3, 1, tzinfo=UTC)


@pytest.fixture
def journey_model(db, make_service):
    service = make_service("journey-eta-model")
    return registered_model_get_or_create(
        name="journey-time", pipeline="flights.journey_time", team=service.team, service=service,
        business_kpi="Call-centre contacts",
    )


@pytest.fixture
def stuck_model(db, make_service):
    service = make_service()
    return registered_model_get_or_create(name="stuck-journey", pipeline="flights.stuck_journey", team=service.team)


@pytest.fixture
def train(db):
    """Run one training synchronously: train(model, params=..., as_of=...) -> TrainingOutcome."""

    def run(model, *, params=None, as_of=AS_OF):
        created = training_run_create(model=model, as_of=as_of, params=params or FAST, enqueue=False)
        return training_run_execute(run_id=created.pk)

    return run
