"""The Celery beat schedule: every periodic task in one table, by app, each with why it runs that often."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery.schedules import crontab


def beat_schedule(*, alert_intake_sweep_seconds: float, notify_sweep_seconds: float) -> dict[str, dict[str, Any]]:
    """The table for CELERY_BEAT_SCHEDULE; the two sweeps' periods are settings (see aiops/settings/pipeline.py).

    Periodic tasks expire before the next tick so a stalled worker never finds a pile of them.
    """
    return {
        # --- aiops ---------------------------------------------------------------------------
        "aiops-heartbeat": {
            "task": "aiops.heartbeat",
            "schedule": timedelta(minutes=1),
            "options": {"expires": 50},
        },
        # --- aiops: report e-mails (issue 11) -------------------------------------------------
        # Yesterday's business impact to its subscribers, after the night's costs are refreshed.
        "aiops-report-business-impact": {
            "task": "aiops.send_report",
            "schedule": crontab(hour=7, minute=0),
            "args": ("business_impact",),
            "options": {"expires": 6 * 3600},
        },
        # Last week's KPIs on Monday morning (the weekly digest links to the page).
        "aiops-report-weekly-kpi": {
            "task": "aiops.send_report",
            "schedule": crontab(hour=7, minute=15, day_of_week="mon"),
            "args": ("weekly_kpi",),
            "options": {"expires": 12 * 3600},
        },
        # A queue whose oldest item waits past SELF_CHECK_STALL_SECONDS raises a critical incident
        # (issue 16); every minute, so a stall pages within a minute of crossing the limit.
        "aiops-self-check": {
            "task": "aiops.self_check",
            "schedule": timedelta(minutes=1),
            "options": {"expires": 50},
        },
        # --- models_registry: training -------------------------------------------------------
        # Fails training runs stuck past their limit (a worker died mid-run, a lost message).
        "models-registry-reap-training-runs": {
            "task": "models_registry.reap_training_runs",
            "schedule": timedelta(minutes=5),
            "options": {"expires": 240},
        },
        # Weekly challenger for every registered model; the gate decides whether it serves.
        "models-registry-weekly-retrain": {
            "task": "models_registry.schedule_retraining",
            "schedule": timedelta(days=7),
            "options": {"expires": 3600},
        },
        # --- models_registry: monitors -------------------------------------------------------
        # Daily pass of every monitor over every champion; expires before the next one is due.
        "models-registry-run-monitors": {
            "task": "models_registry.run_monitors",
            "schedule": timedelta(days=1),
            "options": {"expires": 6 * 3600},
        },
        # --- models_registry: cost and ROI (issue 11) -----------------------------------------
        # Monthly, once the month's ledger is in: ROI under target, cost spikes, forecasts over budget.
        # Monthly because every check judges complete months; a daily pass would only repeat itself.
        "models-registry-check-money": {
            "task": "models_registry.check_money",
            "schedule": crontab(hour=6, minute=0, day_of_month="2"),
            "options": {"expires": 12 * 3600},
        },
        # --- models_registry: operations (issue #14) -----------------------------------------
        # The daily at-risk list: open journeys scored with the stuck-journey champion before the
        # ops team's morning triage.
        "models-registry-daily-at-risk": {
            "task": "models_registry.batch_daily_at_risk",
            "schedule": crontab(hour=5, minute=0),
            "options": {"expires": 6 * 3600},
        },
        # Last week's model report to the subscribers, Monday after the incidents' weekly report.
        "models-registry-weekly-report": {
            "task": "models_registry.weekly_model_report",
            "schedule": crontab(hour=7, minute=30, day_of_week="mon"),
            "options": {"expires": 12 * 3600},
        },
        # --- monitoring: telemetry -----------------------------------------------------------
        "monitoring-expire-points": {
            "task": "monitoring.expire_points",
            "schedule": timedelta(hours=1),
            "options": {"expires": 3000},
        },
        # Batches whose ingest message was lost (broker down at commit time) are queued again.
        "monitoring-requeue-batches": {
            "task": "monitoring.requeue_batches",
            "schedule": timedelta(minutes=5),
            "options": {"expires": 240},
        },
        # Processed telemetry batches are kept a day for Idempotency-Key replays, then deleted.
        "monitoring-expire-batches": {
            "task": "monitoring.expire_batches",
            "schedule": timedelta(hours=1),
            "options": {"expires": 3000},
        },
        # --- monitoring: capacity (issue 13) ----------------------------------------------------
        # Time-to-exhaustion forecasts: a trend over days moves little in 15 minutes, and a raised
        # signal is resolved within one period of the trend turning.
        "monitoring-forecast-capacity": {
            "task": "monitoring.forecast_capacity",
            "schedule": timedelta(minutes=15),
            "options": {"expires": 14 * 60},
        },
        # --- monitoring: alert intake --------------------------------------------------------
        # Alert requests stored while the broker was down, or whose worker died, are queued again;
        # every few seconds because these are pages waiting to happen.
        "monitoring-requeue-alert-intakes": {
            "task": "monitoring.requeue_alert_intakes",
            "schedule": timedelta(seconds=alert_intake_sweep_seconds),
            "options": {"expires": alert_intake_sweep_seconds},
        },
        # --- incidents: notifications, escalation and digests --------------------------------
        # Runs due escalations and re-sends lost deliveries itself, on the `default` queue: it must
        # not depend on the notify worker it stands in for.
        "incidents-response-sweep": {
            "task": "incidents.sweep_response",
            "schedule": timedelta(seconds=notify_sweep_seconds),
            "options": {"expires": max(notify_sweep_seconds - 1, 1)},
        },
        # Daily digest (Level 4 + summary of all levels) for the day before, early morning.
        "incidents-daily-digest": {
            "task": "incidents.notify_digest",
            "schedule": crontab(hour=6, minute=30),
            "args": ("daily",),
            "options": {"expires": 6 * 3600},
        },
        # Weekly KPI report to managers (counts by level, MTTA, MTTR, noisiest services) on Mondays.
        "incidents-weekly-report": {
            "task": "incidents.notify_digest",
            "schedule": crontab(hour=7, minute=0, day_of_week="mon"),
            "args": ("weekly",),
            "options": {"expires": 12 * 3600},
        },
        # --- incidents: reviews, action items, cost (issue 11) -------------------------------
        # Hourly: a reminder is due on a local day of the owner's team, and teams sit in many zones.
        "incidents-remind-reviews": {
            "task": "incidents.remind_reviews",
            "schedule": timedelta(hours=1),
            "options": {"expires": 3000},
        },
        "incidents-remind-action-items": {
            "task": "incidents.remind_action_items",
            "schedule": timedelta(hours=1),
            "options": {"expires": 3000},
        },
        # A recurrence marks its item within the hour; a watch that ended becomes "held".
        "incidents-watch-action-items": {
            "task": "incidents.watch_action_items",
            "schedule": timedelta(hours=1),
            "options": {"expires": 3000},
        },
        # Open incidents' cost grows by the minute; reports read the stored figure, 15 minutes old at most.
        "incidents-refresh-incident-costs": {
            "task": "incidents.refresh_incident_costs",
            "schedule": timedelta(minutes=15),
            "options": {"expires": 840},
        },
        # --- incidents: noise control and severity -------------------------------------------
        # Alerts held for "minimum persistence" open their incident once they have persisted,
        # even if the source does not repeat; every 30 s so the delay stays close to the setting.
        "incidents-promote-pending-alerts": {
            "task": "incidents.promote_pending_alerts",
            "schedule": timedelta(seconds=30),
            "options": {"expires": 25},
        },
        # The duration rule raises long-running incidents a level; five minutes is fine-grained
        # enough for a rule that starts after an hour.
        "incidents-reassess-open-incidents": {
            "task": "incidents.reassess_open_incidents",
            "schedule": timedelta(minutes=5),
            "options": {"expires": 240},
        },
    }
