"""Reproducible runs: each run records code version, data fingerprint, parameters, seeds and library versions;
`retrain --reproduce RUN_ID` re-runs it and says whether the metrics match exactly."""
from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from models_registry.models import TrainingRun
from models_registry.services import training_run_reproduce


def test_a_run_records_what_it_needs_and_reproduces_exactly(journey_model, train):
    outcome = train(journey_model)
    environment = outcome.run.environment

    assert environment["code_version"] and environment["data_fingerprint"] == outcome.version.data_fingerprint
    assert environment["seeds"] == {"random_state": 0, "reference_sample": 0}
    assert {"python", "numpy", "pandas", "scikit-learn"} <= set(environment["libraries"])
    assert environment["params"]["max_iter"] == 25 and environment["metrics"] == outcome.version.metrics

    out = io.StringIO()
    call_command("retrain", reproduce=outcome.run.pk, stdout=out, stderr=io.StringIO())
    assert "metrics match exactly" in out.getvalue()
    assert f"mae: recorded {outcome.version.metrics['mae']!r} = now" in out.getvalue()


def test_a_run_that_does_not_reproduce_is_reported(journey_model, train):
    run = train(journey_model).run
    environment = dict(run.environment)
    environment["metrics"] = {**environment["metrics"], "mae": environment["metrics"]["mae"] + 1e-9}
    environment["libraries"] = {**environment["libraries"], "numpy": "0.0.1"}
    TrainingRun.objects.filter(pk=run.pk).update(environment=environment)

    result = training_run_reproduce(run_id=run.pk)

    assert not result.matches and result.differences[0].startswith("metric mae: recorded")
    assert any(line.startswith("numpy: recorded 0.0.1") for line in result.environment_differences)
    with pytest.raises(CommandError, match="did not reproduce"):
        call_command("retrain", reproduce=run.pk, stdout=io.StringIO(), stderr=io.StringIO())
