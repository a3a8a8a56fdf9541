"""The monthly money pass: last month's ROI targets and cost spikes, and the budget forecasts ahead."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from .cost_signals import CostFinding
from .costs import month_add, month_start
from .forecasts import budget_forecasts_check
from .roi import cost_spikes_check, roi_targets_check


@dataclass(frozen=True, slots=True, kw_only=True)
class MoneyCheck:
    month: datetime  # the complete month judged
    findings: tuple[CostFinding, ...]


def money_checks_run(*, now: datetime | None = None) -> MoneyCheck:
    """Judge the last complete month before `now` and forecast from it; each finding is a Level 3 signal."""
    current = month_start(now or timezone.now())
    last = month_add(current, -1)
    findings = roi_targets_check(month=last) + cost_spikes_check(month=last) + budget_forecasts_check(as_of=current)
    return MoneyCheck(month=last, findings=tuple(findings))
