"""The weekly model report (issue #14): per model volume, accuracy by week, drift, data quality, gate decisions,
retrains and incidents raised; on a page and e-mailed to the subscribers through the incident core's channels.

Reproducible for a given week: it reads only predictions made in the week, actuals known by the
week's end, and decisions, runs and monitor results recorded before it; later arrivals do not
change a past week's figures.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

from incidents.choices import ChannelKind, DeliveryKind
from incidents.services import notifications

from ..choices import ModelTask, MonitorKind, TrainingRunStatus
from ..evaluation import classification_metrics, regression_metrics
from ..models import (
    GateDecision,
    MonitorResult,
    PredictionLog,
    RegisteredModel,
    TrainingRun,
    WeeklyReportSubscription,
)
from .monitors.signals import json_safe

HISTORY_WEEKS = 4  # accuracy of this many weeks (the report's week last) so the trend shows
REPORT_CHANNELS = (ChannelKind.EMAIL, ChannelKind.INAPP)  # reading material, never a page


@dataclass(frozen=True, slots=True, kw_only=True)
class WeekAccuracy:
    week_start: str
    predictions: int
    labelled: int
    metrics: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelWeek:
    model: str
    task: str
    volume: int
    accuracy: list[WeekAccuracy]  # oldest first, the report's week last
    drift: dict[str, Any]
    data_quality: dict[str, Any]
    gate_decisions: list[dict[str, Any]]
    retrains: dict[str, int]
    incidents: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class WeeklyReport:
    week_start: date
    week_end: date  # exclusive
    models: list[ModelWeek]

    def as_dict(self) -> dict[str, Any]:
        return json_safe({"week_start": self.week_start.isoformat(), "week_end": self.week_end.isoformat(),
                          "models": [asdict(m) for m in self.models]})


@dataclass(frozen=True, slots=True, kw_only=True)
class WeeklyReportSent:
    week_start: date
    recipients: int
    deliveries: int


def week_bounds(day: date) -> tuple[datetime, datetime]:
    """Monday 00:00 UTC of `day`'s week and the next Monday."""
    monday = day - timedelta(days=day.weekday())
    start = datetime.combine(monday, time.min, tzinfo=UTC)
    return start, start + timedelta(days=7)


def latest_reportable_week() -> date:
    """The last complete week, or (historical demo data) the last week with predictions."""
    last = PredictionLog.objects.aggregate(at=Max("created_at"))["at"]
    today = timezone.now().date()
    previous = today - timedelta(days=7)
    if last is not None and last.date() < previous:
        return week_bounds(last.date())[0].date()
    return week_bounds(previous)[0].date()


def _accuracy(*, model: RegisteredModel, start: datetime, end: datetime) -> WeekAccuracy:
    rows = list(
        PredictionLog.objects.filter(model=model, created_at__gte=start, created_at__lt=end)
        .values_list("prediction", "actual", "actual_at")
    )
    labelled = [(p, a) for p, a, at in rows if a is not None and at is not None and at <= end]
    metrics: dict[str, Any] = {}
    if labelled:
        predicted = np.array([p for p, _ in labelled], dtype=np.float64)
        actual = np.array([a for _, a in labelled], dtype=np.float64)
        if model.task == ModelTask.REGRESSION:
            full = regression_metrics(actual=actual, predicted=predicted)
            metrics = {k: full[k] for k in ("mae", "too_optimistic_share", "too_conservative_share", "bias")}
        else:
            full = classification_metrics(actual=actual, scores=predicted, alert_budget=settings.MODEL_ALERT_BUDGET)
            metrics = {k: full[k] for k in ("precision_at_budget", "recall_at_budget", "alert_budget", "base_rate")}
    return WeekAccuracy(week_start=start.date().isoformat(), predictions=len(rows), labelled=len(labelled),
                        metrics=metrics)


def _monitor_summary(*, model: RegisteredModel, kind: str, start: datetime, end: datetime) -> dict[str, Any]:
    results = list(
        MonitorResult.objects.filter(model=model, kind=kind, period_end__gt=start, period_end__lte=end,
                                     created_at__lte=end + timedelta(days=7))
        .order_by("period_end", "id")
    )
    if not results:
        return {"status": "no_data", "runs": 0, "features": []}
    worst = max(results, key=lambda r: ("ok", "warning", "breach").index(r.status) if r.status in (
        "ok", "warning", "breach") else -1)
    features: list[str] = []
    for result in results:
        if kind == MonitorKind.DATA_DRIFT:
            features += [f["feature"] for f in result.details.get("features", []) if f.get("drifted")]
        else:
            features += list(result.metrics.get("offending_features", []))
    return {"status": worst.status, "runs": len(results), "features": sorted(set(features)),
            "reasons": list(worst.reasons)[:3]}


def weekly_report_build(*, week_start: date) -> WeeklyReport:
    """The report for the week starting `week_start` (any day of it: the Monday is taken)."""
    start, end = week_bounds(week_start)
    models = []
    for model in RegisteredModel.objects.order_by("name"):
        accuracy = [
            _accuracy(model=model, start=start - timedelta(days=7 * back), end=end - timedelta(days=7 * back))
            for back in range(HISTORY_WEEKS - 1, -1, -1)
        ]
        decisions = [
            {"version": d.challenger.version, "decision": d.decision, "at": d.created_at.isoformat(),
             "by": d.decided_by, "reason": next((r for r in d.reasons if r.startswith("fail")), d.reasons[0]
                                                if d.reasons else "")}
            for d in GateDecision.objects.filter(model=model, created_at__gte=start, created_at__lt=end)
            .select_related("challenger").order_by("created_at", "id")
        ]
        runs = TrainingRun.objects.filter(model=model, created_at__gte=start, created_at__lt=end)
        incidents = sorted({
            int(incident) for incident in MonitorResult.objects.filter(
                model=model, period_end__gt=start, period_end__lte=end, incident_id__isnull=False
            ).values_list("incident_id", flat=True) if incident is not None
        })
        models.append(ModelWeek(
            model=model.name, task=model.task, volume=accuracy[-1].predictions, accuracy=accuracy,
            drift=_monitor_summary(model=model, kind=MonitorKind.DATA_DRIFT, start=start, end=end),
            data_quality=_monitor_summary(model=model, kind=MonitorKind.DATA_QUALITY, start=start, end=end),
            gate_decisions=decisions,
            retrains={"runs": runs.count(), "succeeded": runs.filter(status=TrainingRunStatus.SUCCEEDED).count(),
                      "failed": runs.filter(status=TrainingRunStatus.FAILED).count()},
            incidents=incidents,
        ))
    return WeeklyReport(week_start=start.date(), week_end=end.date(), models=models)


def weekly_report_subscribe(*, user: User, subscribed: bool = True) -> bool:
    if subscribed:
        WeeklyReportSubscription.objects.get_or_create(user=user)
    else:
        WeeklyReportSubscription.objects.filter(user=user).delete()
    return subscribed


def weekly_report_send(*, week_start: date | None = None) -> WeeklyReportSent:
    """E-mail (and in-app) the week's report to every subscriber, once per person and channel per week."""
    last_week = week_bounds(timezone.now().date() - timedelta(days=7))[0].date()
    report = weekly_report_build(week_start=week_start or last_week)
    users = [s.user for s in WeeklyReportSubscription.objects.select_related("user").filter(user__is_active=True)]
    last_day = report.week_end - timedelta(days=1)
    title = f"[AIOps] Weekly model report {report.week_start:%Y-%m-%d} to {last_day:%Y-%m-%d}"
    url = f"{settings.SITE_URL}/models/weekly-report/?week={report.week_start:%Y-%m-%d}"
    context = {"report": report, "title": title, "url": url}
    message = {
        "subject": title,
        "text": render_to_string("models_registry/weekly_report_email.txt", context),
        "html": render_to_string("models_registry/weekly_report_email.html", context),
        "url": url, "kind": DeliveryKind.REPORT,
        "data": {"week_start": report.week_start.isoformat(), "models": [m.model for m in report.models]},
    }
    targets = notifications.person_targets(users=users, allowed=REPORT_CHANNELS)
    result = notifications.deliveries_create(
        kind=DeliveryKind.REPORT, scope=f"model-weekly:{report.week_start:%Y-%m-%d}", targets=targets, message=message
    )
    return WeeklyReportSent(week_start=report.week_start, recipients=len(users), deliveries=result.created)
