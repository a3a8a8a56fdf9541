"""Tasks of the models_registry app: training on the `training` queue, reaper and weekly retraining."""
from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import services
from .services import batch as batch_services
from .services import money as money_services
from .services import monitors as monitor_services
from .services import weekly_report as weekly_report_services


@shared_task(
    name="models_registry.train_model",
    # Training has its own limits: the soft one raises inside the run, which then records FAILED.
    soft_time_limit=settings.MODEL_TRAINING_TIME_LIMIT,
    time_limit=settings.MODEL_TRAINING_TIME_LIMIT + 60,
)
def train_model(run_id: int) -> str:
    # No retries: a failed run is recorded with its error; the next schedule or a person retries.
    outcome = services.training_run_execute(run_id=run_id)
    return outcome.run.status


@shared_task(name="models_registry.reap_training_runs")
def reap_training_runs() -> int:
    # Batch jobs share the training queue and its limits: one reaper for both.
    return services.training_runs_reap() + batch_services.batch_jobs_reap()


@shared_task(name="models_registry.schedule_retraining")
def schedule_retraining() -> int:
    return len(services.retraining_schedule())


@shared_task(name="models_registry.run_monitors")
def run_monitors() -> int:
    """Daily beat pass: queue a monitor run per model and serving version."""
    return len(monitor_services.monitors_schedule())


@shared_task(name="models_registry.execute_monitor_run")
def execute_monitor_run(run_id: int) -> str:
    # No retries: the run is claimed by a conditional update (a redelivery does nothing) and a
    # failure is recorded on the row; the next daily pass monitors the period again.
    return monitor_services.monitor_run_execute(run_id=run_id).state


@shared_task(name="models_registry.check_money")
def check_money() -> int:
    """Monthly beat pass: ROI targets, cost spikes and budget forecasts; each finding is a signal."""
    # No retries: signals dedup by fingerprint in the core, and next month's pass judges again.
    return len(money_services.money_checks_run().findings)
@shared_task(
    name="models_registry.batch_score",
    # Big files take minutes: the training queue's limits, not the default 120 s.
    soft_time_limit=settings.MODEL_TRAINING_TIME_LIMIT,
    time_limit=settings.MODEL_TRAINING_TIME_LIMIT + 60,
)
def batch_score(job_id: int) -> str:
    # No retries: the job is claimed by a conditional update and a failure is recorded on the row.
    return batch_services.batch_job_execute(job_id=job_id).status


@shared_task(name="models_registry.batch_daily_at_risk")
def batch_daily_at_risk() -> int:
    """Daily beat pass: score the open journeys with the stuck-journey champion (the at-risk list)."""
    return len(batch_services.batch_schedule_daily())


@shared_task(name="models_registry.weekly_model_report")
def weekly_model_report() -> int:
    """Weekly beat pass: build last week's model report and send it to the subscribers."""
    return weekly_report_services.weekly_report_send().deliveries
