"""Money findings (ROI under target, cost spike, forecast over budget) as Level 3 signals into the core."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings

import incidents.services as incident_services
from core.models import Service
from incidents.contracts import SignalIn

logger = logging.getLogger(__name__)

SIGNAL_SOURCE = "model-cost"


@dataclass(frozen=True, slots=True, kw_only=True)
class CostFinding:
    """One finding: `kind` is roi_below_target | cost_spike | budget_forecast; `outcome` what the core did."""

    kind: str
    owner: str  # "model journey-time" / "service checkout-api"
    title: str
    details: str
    outcome: str  # the core's outcome ("opened", "joined", ...), "no service", or "error: ..."


def cost_signal_raise(*, kind: str, owner: str, service: Service | None, title: str, details: str,
                      labels: dict[str, str], payload: dict[str, Any], href: str) -> CostFinding:
    """Raise a warning signal (Level 3 on a tier 2+ service: scheduled response, the team is told)."""
    if service is None:
        return CostFinding(kind=kind, owner=owner, title=title, details=details,
                           outcome="no service: nothing to raise the signal against")
    try:
        result = incident_services.signal_ingest(signal=SignalIn(
            source_kind="model", source_name=SIGNAL_SOURCE, service=service.name, title=title,
            # One alert per owner and kind: next month's breach of the same kind joins it.
            fingerprint=f"{SIGNAL_SOURCE}:{owner}:{kind}", description=details,
            labels={**labels, "finding": kind}, severity_hint="warning", payload=payload,
            links=[{"href": f"{settings.SITE_URL}{href}", "text": "ROI report"}],
        ))
    except Exception as exc:  # the core refused it: the finding is still reported, with why
        logger.exception("cost finding %s for %s: signal not raised", kind, owner)
        return CostFinding(kind=kind, owner=owner, title=title, details=details, outcome=f"error: {exc}")
    return CostFinding(kind=kind, owner=owner, title=title, details=details, outcome=result.outcome)
