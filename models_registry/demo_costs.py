"""Demo step: a year of model and service cost imported from a FOCUS file, value settings and budgets for
the reference models, the monthly money pass over March 2013, and the ROI report it feeds."""
from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from core.models import Service

from .models import CostImport, ModelEconomics, RegisteredModel, ServiceBudget
from .reports import roi_report
from .services.costs import focus_import
from .services.money import money_checks_run

FOCUS_FILE = Path(__file__).parent / "demo_data" / "focus_2012-04_2013-03.csv"
# The monitors demo logs March 2013 (a sample of the month's journeys); the pass runs as on April 2nd.
CHECK_AT = datetime(2013, 4, 2, 6, tzinfo=UTC)
# Per-unit money, illustrative: an accurate ETA is worth 0.80 (fewer calls, more conversions), an inbound
# call about a journey later than forecast costs 0.60, a sale lost to a too pessimistic ETA 0.40 of margin.
ECONOMICS = {
    "journey-time": {"tolerance": 15.0, "value_accurate": Decimal("0.80"), "cost_optimistic": Decimal("0.60"),
                     "cost_conservative": Decimal("0.40"), "roi_target": 0.5, "monthly_budget": Decimal("80")},
    # A stuck journey caught early saves a rebooking (TP); a false alarm costs an agent's look (FP); a miss
    # or a quiet journey costs nothing more than without the model.
    "stuck-journey": {"threshold": 0.2, "value_tp": Decimal("2.50"), "value_fp": Decimal("-0.40"),
                      "value_fn": Decimal("0"), "value_tn": Decimal("0"), "roi_target": 0.5,
                      "monthly_budget": Decimal("70")},
}
SERVICE_BUDGETS = {"checkout-api": Decimal("700"), "journey-eta-model": Decimal("40")}


def run(stdout) -> None:
    """Costs and ROI: FOCUS import, value settings, budgets, the monthly money pass, the ROI report."""
    content = FOCUS_FILE.read_bytes()
    if CostImport.objects.filter(sha256=hashlib.sha256(content).hexdigest()).exists():
        stdout.write(f"  costs: {FOCUS_FILE.name} already imported")
        return
    batch = focus_import(content=content, filename=FOCUS_FILE.name)
    stdout.write(f"  costs: {FOCUS_FILE.name}: {batch.entries} entries, {batch.skipped} unallocated rows skipped, "
                 f"{batch.total} {batch.currency}")
    for model in RegisteredModel.objects.filter(name__in=ECONOMICS):
        ModelEconomics.objects.update_or_create(model=model, defaults=ECONOMICS[model.name])
    for service in Service.objects.filter(name__in=SERVICE_BUDGETS):
        ServiceBudget.objects.update_or_create(
            service=service, defaults={"monthly_budget": SERVICE_BUDGETS[service.name]}
        )
    check = money_checks_run(now=CHECK_AT)
    for finding in check.findings:
        stdout.write(f"  costs: {finding.kind} on {finding.owner}: {finding.outcome}")
    report = roi_report(start=date(2013, 3, 1), end=date(2013, 4, 1))
    for row in report.models:
        roi = "—" if row.roi is None else f"{row.roi:.0%}"
        stdout.write(f"  ROI {row.model} 2013-03: cost {row.cost:.2f}, value {row.value:.2f}, ROI {roi} "
                     f"(target {row.roi_target:.0%}), {row.predictions} predictions")
