"""replay_flights runs the supervision loop end to end on a shortened range of real 2013 flights."""
from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from incidents.models import Alert, Incident
from models_registry.choices import GateOutcome, MonitorKind, MonitorStatus
from models_registry.models import GateDecision, MonitorResult, PredictionLog

# Summer is where the journey-time model's performance swings (thunderstorm delays), so a
# three-month replay (May bootstraps the champion) exercises breach → incident → retrain → gate.
REPLAY = ("--from", "2013-05", "--to", "2013-07", "--sample", "400", "--seed", "0")
QUICK_TRAINING = {"max_iter": 30, "train_window_days": 28}  # a few seconds per retrain


@pytest.mark.slow
def test_a_short_replay_raises_a_performance_incident_and_records_gated_decisions(db, make_service):
    make_service("journey-eta-model")
    out = io.StringIO()
    call_command("replay_flights", *REPLAY, "--params", json.dumps(QUICK_TRAINING), stdout=out, stderr=io.StringIO())
    table = out.getvalue()

    assert table.splitlines()[0].startswith("month") and "2013-06" in table and "2013-07" in table
    assert PredictionLog.objects.filter(model__name="journey-time-replay").count() == 800
    assert not PredictionLog.objects.filter(model__name="journey-time-replay", actual__isnull=True).exists()

    # At least one performance-driven incident, reachable from the monitor result that raised it.
    breach = MonitorResult.objects.filter(
        model__name="journey-time-replay", kind=MonitorKind.PERFORMANCE, status=MonitorStatus.BREACH
    ).filter(signal_outcome="opened").exclude(incident_id=None).first()
    assert breach is not None, table
    incident = Incident.objects.get(pk=breach.incident_id)
    assert incident.service.name == "journey-eta-model"
    assert Alert.objects.filter(fingerprint="model-monitor:journey-time-replay:performance").exists()
    assert f"#{incident.pk} " in table

    # A gated decision of a challenger against a champion, its reasons stored and printed.
    gated = GateDecision.objects.filter(model__name="journey-time-replay", champion__isnull=False)
    assert gated.exists(), table
    decision = gated.first()
    assert decision.decision in {GateOutcome.PROMOTE, GateOutcome.REJECT}
    assert decision.reasons and any("champion" in reason for reason in decision.reasons)
    assert decision.metrics["champion"] is not None
    assert "performance breach: v" in table and "gate v" in table
    assert GateDecision.objects.filter(model__name="journey-time-replay", decision=GateOutcome.PROMOTE).count() >= 2


def test_replay_refuses_a_backwards_range(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="before"):
        call_command("replay_flights", "--from", "2013-05", "--to", "2013-02", stdout=io.StringIO())
