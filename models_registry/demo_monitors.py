"""Demo step: a month of served predictions with their actuals for each reference model, then the monitors."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from .choices import MonitorTrigger
from .models import MonitorResult, RegisteredModel
from .pipelines import get_pipeline
from .services import actuals_attach, predictions_make
from .services.monitors import monitors_run_now
from .services.replay import flight_records

# The demo champions train on February 2013 (models_registry.demo); March is their first live month.
MONTH_START = datetime(2013, 3, 1, tzinfo=UTC)
MONTH_END = datetime(2013, 4, 1, tzinfo=UTC)
SAMPLE = 1_500  # enough labelled rows for every monitor, a couple of seconds per model
WEEKS = 4  # one monitor run per week, so the model page has a line to chart


def run(stdout) -> None:
    """Model monitors: a month of predictions and actuals, weekly monitor runs."""
    for model in RegisteredModel.objects.filter(name__in=["journey-time", "stuck-journey"]):
        if MonitorResult.objects.filter(model=model).exists():
            stdout.write(f"  model {model.name}: monitors already ran")
            continue
        if not model.versions.filter(alias="champion").exists():
            stdout.write(f"  model {model.name}: no champion, monitors skipped")
            continue
        pipeline = get_pipeline(model.pipeline)
        frame = pipeline.load(start=MONTH_START, end=MONTH_END).frame
        rows = frame.iloc[np.sort(np.random.default_rng(0).choice(len(frame), min(SAMPLE, len(frame)), replace=False))]
        rows = rows.reset_index(drop=True)
        records = flight_records(rows)
        days = rows["event_time"].dt.floor("D")
        actuals = []
        for day, positions in days.groupby(days).indices.items():
            batch = predictions_make(model=model, records=[records[i] for i in positions], at=day.to_pydatetime())
            actuals += [
                {"request_id": rid, "actual": float(rows["target"].iloc[i])}
                for rid, i in zip(batch.request_ids, positions, strict=False)
            ]
        actuals_attach(model=model, actuals=actuals, at=MONTH_END)
        statuses = []
        for week in range(WEEKS):
            start = MONTH_START + timedelta(days=7 * week)
            end = MONTH_END if week == WEEKS - 1 else start + timedelta(days=7)
            for monitor_run in monitors_run_now(
                model=model, period_start=start, period_end=end, trigger=MonitorTrigger.SCHEDULE
            ):
                statuses.append(f"{start:%m-%d} {monitor_run.status}")
        stdout.write(f"  model {model.name}: {len(records)} predictions in March 2013; monitors {', '.join(statuses)}")
