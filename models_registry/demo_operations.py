"""Demo step (issue #14): two daily at-risk lists (one journey handled), a challenger in shadow compared live
on March's traffic, and the weekly model report sent to a subscriber."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model

from . import selectors
from .choices import BatchJobSource, MonitorKind, TrainingTrigger
from .models import BatchScoringJob, RegisteredModel
from .pipelines import get_pipeline
from .services import batch as batch_services
from .services import batch_journeys, training_run_create, training_run_execute
from .services import shadow as shadow_services
from .services import weekly_report as weekly_services
from .services.at_risk import at_risk_actuals_attach, journey_handle
from .services.monitors import monitors_run_now

# The demo's live month is March 2013 (demo_monitors); the lists are drawn on its last two mornings.
LIST_DAYS = (datetime(2013, 3, 30, 10, tzinfo=UTC), datetime(2013, 3, 31, 10, tzinfo=UTC))
REPORT_WEEK = date(2013, 3, 18)  # a full week of served predictions and actuals
# A challenger with fewer trees: the gate rejects it offline, the shadow shows it live.
CHALLENGER_PARAMS = {"train_window_days": 28, "holdout_days": 7, "max_iter": 30}
MARCH = (datetime(2013, 3, 1, tzinfo=UTC), datetime(2013, 4, 1, tzinfo=UTC))


def run(stdout) -> None:
    """Model operations: at-risk lists, a shadow challenger, the weekly model report."""
    _at_risk(stdout)
    _shadow(stdout)
    _weekly_report(stdout)


def _at_risk(stdout) -> None:
    model = RegisteredModel.objects.filter(name=settings.AT_RISK_MODEL).first()
    if model is None or selectors.model_champion(model=model) is None:
        stdout.write("  at-risk list: no stuck-journey champion, skipped")
        return
    if BatchScoringJob.objects.filter(model=model, source=BatchJobSource.OPEN_JOURNEYS).exists():
        stdout.write("  at-risk list: already scored")
        return
    for as_of in LIST_DAYS:
        job = batch_services.batch_job_create_open_journeys(model=model, as_of=as_of, enqueue=False)
        job = batch_services.batch_job_execute(job_id=job.pk)
        if as_of == LIST_DAYS[0] and job.status == "succeeded":
            olivia = get_user_model().objects.filter(username="olivia").first()
            top = job.at_risk.order_by("rank").filter(scheduled_departure__gte=LIST_DAYS[1]).first()
            if top is not None:
                journey_handle(journey_key=top.journey_key, user=olivia, note="called the carrier")
        stdout.write(f"  at-risk list {as_of:%Y-%m-%d}: job {job.pk} {job.status}, {job.rows_scored} open journeys")
    # The first list's journeys have flown by the second morning: their outcomes feed the precision monitor.
    first = BatchScoringJob.objects.filter(model=model, source=BatchJobSource.OPEN_JOURNEYS).order_by("pk").first()
    if first is not None and first.status == "succeeded":
        frame = get_pipeline(model.pipeline).load(
            start=LIST_DAYS[0], end=LIST_DAYS[0] + timedelta(hours=settings.AT_RISK_HORIZON_HOURS)).frame
        outcomes = dict(zip(batch_journeys.journey_keys(frame), frame["target"].tolist(), strict=False))
        keys = set(first.at_risk.values_list("journey_key", flat=True))
        at_risk_actuals_attach(actuals=[{"journey_key": k, "actual": v} for k, v in outcomes.items() if k in keys])
        for monitor_run in monitors_run_now(model=model, period_start=LIST_DAYS[0] - timedelta(hours=1),
                                            period_end=LIST_DAYS[0] + timedelta(hours=1)):
            result = monitor_run.results.filter(kind=MonitorKind.AT_RISK_PRECISION).first()
            if result is not None:
                reason = result.reasons[0] if result.reasons else ""
                stdout.write(f"  at-risk precision monitor: {result.status} ({reason})")


def _shadow(stdout) -> None:
    model = RegisteredModel.objects.filter(name="journey-time").first()
    if model is None or selectors.model_champion(model=model) is None:
        stdout.write("  shadow: no journey-time champion, skipped")
        return
    if model.shadow_id is not None:
        stdout.write("  shadow: already in place")
        return
    challenger = selectors.model_challenger(model=model)
    if challenger is None:
        run = training_run_create(model=model, as_of=MARCH[0], params=CHALLENGER_PARAMS,
                                  trigger=TrainingTrigger.DEMO, enqueue=False)
        challenger = training_run_execute(run_id=run.pk).version
    if challenger is None or challenger.alias != "challenger":
        stdout.write("  shadow: no challenger to put in shadow")
        return
    shadow_services.shadow_set(model=model, version=challenger)
    scored = shadow_services.shadow_backfill(model=model, start=MARCH[0], end=MARCH[1])
    live = shadow_services.shadow_comparison(model=model)
    mae = (f"MAE champion {live.champion_metrics.get('mae', 0):.2f} vs shadow {live.shadow_metrics.get('mae', 0):.2f}"
           if live.compared else "no actuals yet")
    stdout.write(f"  shadow: v{challenger.version} scores journey-time's live requests ({scored} March requests "
                 f"replayed; {live.compared} compared, {mae})")


def _weekly_report(stdout) -> None:
    manager = get_user_model().objects.filter(username="max").first()
    if manager is not None:
        weekly_services.weekly_report_subscribe(user=manager)
    sent = weekly_services.weekly_report_send(week_start=REPORT_WEEK)
    stdout.write(f"  weekly model report {sent.week_start}: {sent.deliveries} deliveries to {sent.recipients} "
                 f"subscriber(s); page /models/weekly-report/?week={REPORT_WEEK:%Y-%m-%d}")

