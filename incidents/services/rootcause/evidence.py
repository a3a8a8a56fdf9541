"""Anomaly evidence for root cause, handed over by other apps through a registered provider.

`incidents` knows nothing of metrics: `monitoring` registers a provider (in its AppConfig.ready) that
answers "which metrics of these services were abnormal in this time range, how far from normal, since
when" as `MetricEvidence`. With no provider, or no telemetry, the ranking falls back to alerts.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from .ranking import MetricEvidence

logger = logging.getLogger(__name__)

# func(*, services, start, end) -> list[MetricEvidence]; `services` are core.Service names.
EvidenceProvider = Callable[..., "list[MetricEvidence]"]

_PROVIDERS: dict[str, EvidenceProvider] = {}


def evidence_provider_register(name: str) -> Callable[[EvidenceProvider], EvidenceProvider]:
    def decorate(func: EvidenceProvider) -> EvidenceProvider:
        _PROVIDERS[name] = func
        return func

    return decorate


def evidence_collect(*, services: Sequence[str], start: datetime, end: datetime) -> list[MetricEvidence]:
    """Evidence from every provider; a failing provider is logged and skipped (alerts still rank)."""
    out: list[MetricEvidence] = []
    for name, provider in _PROVIDERS.items():
        try:
            out.extend(provider(services=list(services), start=start, end=end))
        except Exception:
            logger.exception("root-cause evidence provider %s failed", name)
    return out
