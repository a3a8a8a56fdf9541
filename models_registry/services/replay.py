"""Replay a year of flights month by month through the real supervision loop:
predict (serving service) → actuals → monitors (→ incidents) → retrain through the gate."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from core.exceptions import InvalidInput
from core.services import service_get_or_create, team_get_or_create

from ..choices import MonitorKind, MonitorStatus, MonitorTrigger, TrainingRunStatus, TrainingTrigger
from ..exceptions import TrainingFailed
from ..models import MonitorResult, RegisteredModel
from ..pipelines import get_pipeline
from ..pipelines.flights import WEATHER
from .monitors import monitor_alerts_resolve, monitors_run_now
from .registry import registered_model_get_or_create
from .serving import actuals_attach, predictions_make
from .training import training_run_create, training_run_execute

REPLAY_MODEL = "journey-time-replay"
REPLAY_PIPELINE = "flights.journey_time"
REPLAY_SERVICE = "journey-eta-model"
REPLAY_TEAM = "Data Science"
# The first champion learns from the first replayed month (nothing earlier exists in 2013):
# three weeks of training, its last week as the holdout the gate and monitors compare against.
BOOTSTRAP_HOLDOUT_DAYS = 7
ACTUALS_CHUNK = 5_000  # below the serving service's per-request cap (10k)
PREDICT_CHUNK = 1_000  # the serving service's per-request cap

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayMonth:
    month: str  # "2013-02"
    champion: int  # version that served the month
    predictions: int
    mae: float | None
    optimistic_share: float | None
    conservative_share: float | None
    max_psi: float | None
    drifted_features: int
    statuses: dict[str, str]  # monitor kind → status
    incidents_opened: tuple[int, ...]  # incidents this month's breaches opened
    performance_incident: str  # "#3 opened" / "#3 joined" / "" : what the performance breach did
    signal_events: tuple[str, ...]  # "performance firing→#3 opened", "data_drift resolved→#3 resolved", ...
    signals: int  # breach / recovery signals sent (opened, joined or deduplicated)
    retrained: bool
    retrain_reason: str  # "performance breach", "schedule", "bootstrap", ""
    decision: str  # "promote" | "reject" | "" (no retrain) | "failed"
    decision_version: int | None
    decision_reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayReport:
    model: str
    months: tuple[ReplayMonth, ...]

    @property
    def incidents(self) -> int:
        return sum(len(m.incidents_opened) for m in self.months)

    @property
    def performance_incidents(self) -> int:
        """Months whose performance breach opened or joined an incident (not a mere duplicate)."""
        return sum(
            bool(m.performance_incident) and not m.performance_incident.endswith("deduplicated") for m in self.months
        )

    @property
    def retrains(self) -> int:
        return sum(m.retrained for m in self.months)

    @property
    def promotions(self) -> int:
        return sum(m.decision == "promote" for m in self.months)


def month_starts(first: str, last: str) -> list[datetime]:
    """UTC month starts from "YYYY-MM" to "YYYY-MM" inclusive."""
    start = datetime.strptime(first, "%Y-%m").replace(tzinfo=UTC)
    end = datetime.strptime(last, "%Y-%m").replace(tzinfo=UTC)
    if end < start:
        raise InvalidInput(f"--to {last} is before --from {first}", field="to")
    months = []
    while start <= end:
        months.append(start)
        start = _next_month(start)
    return months


def _next_month(moment: datetime) -> datetime:
    return moment.replace(year=moment.year + moment.month // 12, month=moment.month % 12 + 1)


def replay_model_reset(*, name: str = REPLAY_MODEL) -> RegisteredModel:
    """A fresh replay model (its versions, predictions and monitor history go), raising against the ETA service."""
    for old in RegisteredModel.objects.filter(name=name):
        # Its alerts would otherwise swallow the new replay's breaches as duplicates.
        monitor_alerts_resolve(model=old, reason="replay model recreated by replay_flights")
        old.delete()
    team = team_get_or_create(name=REPLAY_TEAM)
    service = service_get_or_create(name=REPLAY_SERVICE, team=team)
    return registered_model_get_or_create(
        name=name, pipeline=REPLAY_PIPELINE, team=team, service=service,
        purpose="Replay of 2013 through predict / actuals / monitors / retrain (manage.py replay_flights).",
        business_kpi="Call-centre contacts from late journeys; lost sales from pessimistic ETAs",
    )


def flight_records(frame: pd.DataFrame) -> list[dict]:
    """Raw API records (what a caller would send) from pipeline rows; NaN weather → null."""
    columns = {
        "scheduled_departure": frame["scheduled_departure"].dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy(),
        "carrier": frame["carrier"].to_numpy(),
        "origin": frame["origin"].to_numpy(),
        "dest": frame["dest"].to_numpy(),
        "distance": frame["distance"].to_numpy(dtype=np.float64),
        **{name: frame[name].to_numpy(dtype=np.float64) for name in WEATHER},
    }
    records = []
    for i in range(len(frame)):
        record = {}
        for key, values in columns.items():
            value = values[i]
            if isinstance(value, float | np.floating):
                value = None if math.isnan(value) else float(value)
            record[key] = value
        records.append(record)
    return records


def _train(*, model: RegisteredModel, as_of: datetime, trigger: str, params: dict | None = None):
    run = training_run_create(model=model, as_of=as_of, trigger=trigger, params=params or {}, enqueue=False)
    return training_run_execute(run_id=run.pk)


def flights_replay(
    *,
    first_month: str,
    last_month: str,
    sample: int = 3_000,
    seed: int = 0,
    retrain_every: int = 0,
    model_name: str = REPLAY_MODEL,
    train_params: dict | None = None,
    progress: Progress | None = None,
) -> ReplayReport:
    """Replay months [first_month, last_month]; the first month bootstraps the champion.

    Each later month: sample flights, score them through the serving service (dated on their
    scheduled day, one batch per day), attach their actual arrival delays, run every monitor for
    the month, and retrain through the gate (as of the month's end: only data known by then) when
    performance breaches, or every `retrain_every` months (0 = only on breaches). `train_params`
    go to every training run (e.g. a shorter window or fewer iterations for a quick replay).
    """
    say = progress or (lambda message: None)
    months = month_starts(first_month, last_month)
    model = replay_model_reset(name=model_name)
    pipeline = get_pipeline(model.pipeline)
    rng = np.random.default_rng(seed)
    rows: list[ReplayMonth] = []

    bootstrap_end = _next_month(months[0])
    days = (bootstrap_end - months[0]).days
    say(f"{months[0]:%Y-%m}: bootstrap champion on {days - BOOTSTRAP_HOLDOUT_DAYS} days, "
        f"holdout {BOOTSTRAP_HOLDOUT_DAYS} days")
    outcome = _train(
        model=model, as_of=bootstrap_end, trigger=TrainingTrigger.SCHEDULE,
        params={
            **(train_params or {}),
            "train_window_days": days - BOOTSTRAP_HOLDOUT_DAYS,
            "holdout_days": BOOTSTRAP_HOLDOUT_DAYS,
        },
    )
    if outcome.decision is None:
        raise TrainingFailed(f"bootstrap training failed: {outcome.run.error}")
    rows.append(
        ReplayMonth(
            month=f"{months[0]:%Y-%m}",
            champion=outcome.version.version,
            predictions=0,
            mae=None,
            optimistic_share=None,
            conservative_share=None,
            max_psi=None,
            drifted_features=0,
            statuses={},
            incidents_opened=(),
            performance_incident="",
            signal_events=(),
            signals=0,
            retrained=True,
            retrain_reason="bootstrap",
            decision=outcome.decision.decision,
            decision_version=outcome.version.version,
            decision_reasons=tuple(outcome.decision.reasons),
        )
    )

    for index, start in enumerate(months[1:], start=1):
        end = _next_month(start)
        frame = pipeline.load(start=start, end=end).frame
        if frame.empty:
            say(f"{start:%Y-%m}: no flights, skipped")
            continue
        picked = frame.iloc[np.sort(rng.choice(len(frame), size=min(sample, len(frame)), replace=False))]
        picked = picked.reset_index(drop=True)
        records = flight_records(picked)
        actual = picked["target"].to_numpy(dtype=np.float64)
        day = picked["event_time"].dt.floor("D")
        actuals: list[dict] = []
        champion_version = None
        # One batch per day (and ≤ the per-request cap): a daily scoring job, dated that day.
        for moment, positions in day.groupby(day).indices.items():
            for lo in range(0, len(positions), PREDICT_CHUNK):
                chunk = positions[lo : lo + PREDICT_CHUNK]
                batch = predictions_make(
                    model=model, records=[records[i] for i in chunk], at=moment.to_pydatetime() + timedelta(hours=6)
                )
                champion_version = batch.version
                actuals.extend(
                    {"request_id": rid, "actual": float(actual[i])}
                    for rid, i in zip(batch.request_ids, chunk, strict=False)
                )
        # Arrival delays are known once the flights have landed: attach them at the month's end.
        for lo in range(0, len(actuals), ACTUALS_CHUNK):
            actuals_attach(model=model, actuals=actuals[lo : lo + ACTUALS_CHUNK], at=end)
        runs = monitors_run_now(model=model, period_start=start, period_end=end, trigger=MonitorTrigger.REPLAY)
        results = {
            r.kind: r for r in MonitorResult.objects.filter(run__in=runs).order_by("id")
        }
        perf = results.get(MonitorKind.PERFORMANCE)
        drift = results.get(MonitorKind.DATA_DRIFT)
        opened = tuple(
            sorted({r.incident_id for r in results.values() if r.signal_outcome == "opened" and r.incident_id})
        )
        signals = sum(1 for r in results.values() if r.signal_outcome)
        performance_incident = (
            f"#{perf.incident_id} {perf.signal_outcome}"
            if perf is not None and perf.status == MonitorStatus.BREACH and perf.incident_id
            else ""
        )
        events = tuple(
            f"{r.kind} {r.status}→{'#' + str(r.incident_id) + ' ' if r.incident_id else ''}{r.signal_outcome}"
            for r in sorted(results.values(), key=lambda r: r.id)
            if r.signal_outcome
        )
        breach = perf is not None and perf.status == MonitorStatus.BREACH
        scheduled = bool(retrain_every) and index % retrain_every == 0
        reasons: tuple[str, ...] = ()
        decision, decision_version, reason = "", None, ""
        if breach or scheduled:
            reason = "performance breach" if breach else "schedule"
            say(f"{start:%Y-%m}: retraining ({reason}) as of {end:%Y-%m-%d}")
            outcome = _train(
                model=model, as_of=end,
                trigger=TrainingTrigger.PLAYBOOK if breach else TrainingTrigger.SCHEDULE,
                params=train_params,
            )
            if outcome.run.status == TrainingRunStatus.SUCCEEDED and outcome.decision is not None:
                decision = outcome.decision.decision
                decision_version = outcome.version.version
                reasons = tuple(outcome.decision.reasons)
            else:
                decision, reasons = "failed", (outcome.run.error,)
        pm = perf.metrics if perf else {}
        row = ReplayMonth(
            month=f"{start:%Y-%m}",
            champion=champion_version or 0,
            predictions=len(records),
            mae=pm.get("mae"),
            optimistic_share=pm.get("too_optimistic_share"),
            conservative_share=pm.get("too_conservative_share"),
            max_psi=(drift.metrics or {}).get("max_psi") if drift else None,
            drifted_features=int((drift.metrics or {}).get("drifted_features", 0)) if drift else 0,
            statuses={kind: r.status for kind, r in results.items()},
            incidents_opened=opened,
            performance_incident=performance_incident,
            signal_events=events,
            signals=signals,
            retrained=bool(reason),
            retrain_reason=reason,
            decision=decision,
            decision_version=decision_version,
            decision_reasons=reasons,
        )
        rows.append(row)
        say(f"{row.month}: MAE {row.mae if row.mae is None else round(row.mae, 2)}, "
            f"performance {row.statuses.get(MonitorKind.PERFORMANCE, '-')}, incidents {len(opened)}, "
            f"{'retrain → ' + decision if reason else 'no retrain'}")
    return ReplayReport(model=model.name, months=tuple(rows))
