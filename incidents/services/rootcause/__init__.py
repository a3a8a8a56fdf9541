"""Probable root cause of an incident: ranking over the service graph, its evidence, backtest and injector."""
from __future__ import annotations

from .evidence import evidence_collect, evidence_provider_register
from .ranking import AlertEvidence, Candidate, MetricEvidence, Ranking, accuracy, most_anomalous, rank
from .service import incident_rootcause

__all__ = [
    "AlertEvidence",
    "Candidate",
    "MetricEvidence",
    "Ranking",
    "accuracy",
    "evidence_collect",
    "evidence_provider_register",
    "incident_rootcause",
    "most_anomalous",
    "rank",
]
