"""Model monitors: compute drift, performance, bias and operational health from prediction logs, store
the results per version and period, and raise a signal into the incident core on a breach.

`runs` creates, executes and reaps monitor runs; `compute` is every monitor's verdict (no writes);
`signals` turns stored results into incident-core signals; `thresholds` holds the bars.
"""
from __future__ import annotations

from .compute import MonitorVerdict, PeriodData, monitors_compute, period_data
from .runs import (
    monitor_run_create,
    monitor_run_execute,
    monitor_runs_reap,
    monitors_request,
    monitors_run_now,
    monitors_schedule,
    versions_serving,
)
from .signals import monitor_alerts_resolve
from .thresholds import MonitorThresholds

__all__ = [
    "MonitorThresholds",
    "MonitorVerdict",
    "PeriodData",
    "monitor_alerts_resolve",
    "monitor_run_create",
    "monitor_run_execute",
    "monitor_runs_reap",
    "monitors_compute",
    "monitors_request",
    "monitors_run_now",
    "monitors_schedule",
    "period_data",
    "versions_serving",
]
