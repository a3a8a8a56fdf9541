"""The Celery beat schedule: every periodic task in one table, by app, each with why it runs that often."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery.schedules import crontab


def beat_schedule(*, alert_intake_sweep_seconds: float, notify_sweep_seconds: float) -> dict[str, dict[str, Any]]:
    """The table for CELERY_BEAT_SCHEDULE; the two sweeps' periods are settings (see aiops/settings.py).

    Periodic tasks expire before the next tick so a stalled worker never finds a pile of them.
    """
    return {
        # --- aiops ---------------------------------------------------------------------------
        "aiops-heartbeat": {
            "task": "aiops.heartbeat",
            "schedule": timedelta(minutes=1),
            "options": {"expires": 50},
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
