"""The gate's rules on business metrics, as a pure function: bars, minimum gain, secondary metrics."""
from __future__ import annotations

import pytest

from models_registry.choices import ModelTask
from models_registry.gate import GateThresholds, gate_decide

T = GateThresholds(
    journey_max_mae=40.0, journey_max_optimistic_share=0.35, journey_min_mae_gain=0.01,
    stuck_min_recall=0.20, stuck_min_precision=0.20, stuck_min_recall_gain=0.005, max_secondary_regression=0.02,
)


def journey(mae: float, optimistic: float = 0.25) -> dict:
    return {"n": 1000, "mae": mae, "too_optimistic_share": optimistic, "too_conservative_share": 0.2}


def stuck(recall: float, precision: float) -> dict:
    return {"n": 1000, "alert_budget": 0.1, "recall_at_budget": recall, "precision_at_budget": precision}


@pytest.mark.parametrize(
    ("case", "task", "challenger", "champion", "promote"),
    [
        ("first_version_within_bar", ModelTask.REGRESSION, journey(25.0), None, True),
        ("first_version_mae_above_bar", ModelTask.REGRESSION, journey(45.0), None, False),
        ("first_version_too_optimistic", ModelTask.REGRESSION, journey(25.0, optimistic=0.40), None, False),
        ("better_mae_by_more_than_min_gain", ModelTask.REGRESSION, journey(24.0), journey(25.0), True),
        ("better_mae_by_less_than_min_gain", ModelTask.REGRESSION, journey(24.9), journey(25.0), False),
        ("worse_mae", ModelTask.REGRESSION, journey(26.0), journey(25.0), False),
        ("better_mae_but_much_more_optimistic", ModelTask.REGRESSION, journey(24.0, 0.30), journey(25.0, 0.25), False),
        ("stuck_first_version_within_bar", ModelTask.CLASSIFICATION, stuck(0.3, 0.3), None, True),
        ("stuck_first_version_low_recall", ModelTask.CLASSIFICATION, stuck(0.15, 0.3), None, False),
        ("stuck_better_recall", ModelTask.CLASSIFICATION, stuck(0.32, 0.30), stuck(0.30, 0.30), True),
        ("stuck_recall_gain_below_minimum", ModelTask.CLASSIFICATION, stuck(0.302, 0.30), stuck(0.30, 0.30), False),
        (
            "stuck_better_recall_but_precision_collapses",
            ModelTask.CLASSIFICATION,
            stuck(0.35, 0.22),
            stuck(0.30, 0.30),
            False,
        ),
        ("empty_holdout", ModelTask.REGRESSION, {"n": 0}, None, False),
    ],
)
def test_gate_decides_on_business_metrics(case, task, challenger, champion, promote):
    result = gate_decide(task=task, challenger=challenger, champion=champion, thresholds=T)
    assert result.promote is promote, (case, result.reasons)
    assert result.reasons
    if not promote:
        assert any(reason.startswith("fail:") for reason in result.reasons)


def test_reasons_name_the_champion_comparison():
    result = gate_decide(task=ModelTask.REGRESSION, challenger=journey(26.0), champion=journey(25.0), thresholds=T)
    assert any("MAE gain over champion" in r and r.startswith("fail:") for r in result.reasons)


def test_thresholds_come_from_settings(settings):
    settings.GATE_JOURNEY_MAX_MAE = 5.0
    result = gate_decide(
        task=ModelTask.REGRESSION, challenger=journey(25.0), champion=None, thresholds=GateThresholds.from_settings()
    )
    assert not result.promote
