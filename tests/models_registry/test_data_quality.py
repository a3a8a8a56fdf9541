"""Data-quality monitors: each check raises a signal with the offending features and example rows, and a
clean period after it resolves the signal (null rate, out of range, unknown category, type errors, freshness,
output validation)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from incidents.models import Alert
from models_registry.choices import BatchJobSource, BatchJobStatus, MonitorKind, MonitorStatus
from models_registry.models import BatchScoringJob, MonitorResult, PredictionLog
from models_registry.pipelines import get_pipeline
from models_registry.services import actuals_attach, predictions_make
from models_registry.services import monitors as monitor_services
from models_registry.services.monitors.quality import dq_threshold
from models_registry.services.replay import flight_records

from . import monitor_fixtures
from .monitor_fixtures import FEB, MAR

january_fit = monitor_fixtures.january_fit
champion_model = monitor_fixtures.champion_model

DAY = timedelta(days=1)
BAD_DAY = datetime(2013, 2, 10, tzinfo=UTC)
GOOD_DAY = datetime(2013, 2, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def february_records():
    frame = get_pipeline("flights.journey_time").load(start=FEB, end=MAR).frame
    rows = frame.iloc[np.sort(np.random.default_rng(3).choice(len(frame), 120, replace=False))]
    return rows.reset_index(drop=True), flight_records(rows.reset_index(drop=True))


def _serve(model, records, at, *, actuals=None):
    batch = predictions_make(model=model, records=records, at=at)
    if actuals is not None:
        actuals_attach(model=model, actuals=[{"request_id": r, "actual": a} for r, a in zip(
            batch.request_ids, actuals, strict=False)], at=at + timedelta(hours=1))
    return batch


def _break_nulls(records):
    return [{**r, "temp": None, "humid": None} for r in records]


def _break_range(records):
    return [{**r, "distance": 250_000.0} for r in records]


def _break_categories(records):
    return [{**r, "carrier": "ZZ"} for r in records]


@pytest.mark.parametrize(
    ("breaker", "feature", "check"),
    [(_break_nulls, "temp", "null_rate"), (_break_range, "distance", "out_of_range"),
     (_break_categories, "carrier", "unknown_category")],
    ids=["null_rate", "out_of_range", "unknown_category"],
)
def test_an_input_check_raises_a_signal_with_examples_and_a_clean_day_resolves_it(
    champion_model, february_records, breaker, feature, check
):
    _, records = february_records
    _serve(champion_model, breaker(records), BAD_DAY)
    _serve(champion_model, records, GOOD_DAY)

    bad = result_of(champion_model, BAD_DAY, MonitorKind.DATA_QUALITY)

    assert bad.status == MonitorStatus.BREACH and feature in bad.metrics["offending_features"]
    breach = next(b for b in bad.metrics["breaches"] if b["feature"] == feature and b["check"] == check)
    assert breach["value"] > dq_threshold(feature, check) and breach["examples"]
    assert bad.signal_outcome == "opened"
    alert = Alert.objects.get(fingerprint=f"model-monitor:{champion_model.name}:data_quality")
    assert alert.payload["metrics"]["offending_features"] == bad.metrics["offending_features"]

    good = result_of(champion_model, GOOD_DAY, MonitorKind.DATA_QUALITY)

    assert good.status == MonitorStatus.OK and good.signal_outcome  # the resolved signal went through
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_a_feature_threshold_override_silences_a_known_gap(champion_model, february_records, settings):
    settings.MONITOR_DQ_FEATURE_THRESHOLDS = {"temp": {"null_rate": 1.0}, "humid": {"null_rate": 1.0}}
    _serve(champion_model, _break_nulls(february_records[1]), BAD_DAY)
    assert result_of(champion_model, BAD_DAY, MonitorKind.DATA_QUALITY).status == MonitorStatus.OK


def test_type_errors_of_batch_rows_raise_and_clear(champion_model, february_records):
    _serve(champion_model, february_records[1], BAD_DAY)
    BatchScoringJob.objects.create(
        model=champion_model, source=BatchJobSource.FILE, status=BatchJobStatus.SUCCEEDED, rows_done=100,
        bad_rows=[{"row": i, "field": "distance", "error": "field 'distance' must be a finite number"}
                  for i in range(2, 12)], bad_rows_count=10, finished_at=BAD_DAY + timedelta(hours=2),
    )
    bad = result_of(champion_model, BAD_DAY, MonitorKind.DATA_QUALITY)
    assert bad.status == MonitorStatus.BREACH and bad.metrics["offending_features"] == ["distance"]
    assert bad.metrics["breaches"][0]["examples"][0]["row"] == 2

    _serve(champion_model, february_records[1], GOOD_DAY)
    good = result_of(champion_model, GOOD_DAY, MonitorKind.DATA_QUALITY)
    assert good.status == MonitorStatus.OK and good.signal_outcome


def test_freshness_breaches_when_predictions_or_actuals_stop_and_clears_when_they_return(
    champion_model, february_records, settings
):
    settings.MONITOR_FRESHNESS_PREDICTION_HOURS = 24
    rows, records = february_records
    _serve(champion_model, records, BAD_DAY - 3 * DAY, actuals=rows["target"].tolist())
    silent = result_of(champion_model, BAD_DAY, MonitorKind.FRESHNESS)  # nothing for three days
    assert silent.status == MonitorStatus.BREACH and silent.metrics["hours_since_prediction"] > 24
    assert "prediction" in silent.metrics["offending_features"] and silent.signal_outcome == "opened"

    _serve(champion_model, records, GOOD_DAY, actuals=rows["target"].tolist())
    fresh = result_of(champion_model, GOOD_DAY, MonitorKind.FRESHNESS)
    assert fresh.status == MonitorStatus.OK and fresh.signal_outcome


def test_output_validation_flags_implausible_predictions_and_clears(champion_model, february_records):
    batch = _serve(champion_model, february_records[1], BAD_DAY)
    PredictionLog.objects.filter(request_id__in=batch.request_ids[:20]).update(prediction=1e9)
    bad = result_of(champion_model, BAD_DAY, MonitorKind.OUTPUT_QUALITY)
    assert bad.status == MonitorStatus.BREACH and bad.metrics["examples"][0]["prediction"] == 1e9
    assert bad.signal_outcome == "opened"

    _serve(champion_model, february_records[1], GOOD_DAY)
    good = result_of(champion_model, GOOD_DAY, MonitorKind.OUTPUT_QUALITY)
    assert good.status == MonitorStatus.OK and good.signal_outcome


def result_of(model, day, kind) -> MonitorResult:
    runs = monitor_services.monitors_run_now(model=model, period_start=day, period_end=day + DAY)
    return MonitorResult.objects.get(run__in=runs, kind=kind)
