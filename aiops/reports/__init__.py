"""Reports that span apps (issue 11). Adding a report = one module with a registered `compute(*, period)`,
imported below; the page, CSV, API, e-mail and `manage.py report` pick it up by name."""
from __future__ import annotations

from . import business_impact, operations, reliability, roi, weekly_kpi  # noqa: F401  (registration)
from .base import (
    Chart,
    Figure,
    Period,
    ReportResult,
    ReportSpec,
    Table,
    period_default,
    period_parse,
    report_register,
    report_run,
    report_spec,
    report_specs,
)

__all__ = [
    "Chart", "Figure", "Period", "ReportResult", "ReportSpec", "Table", "period_default", "period_parse",
    "report_register", "report_run", "report_spec", "report_specs",
]
