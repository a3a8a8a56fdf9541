"""Helpers of the cost and ROI tests: prediction logs and ledger entries written directly, in bulk."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

from models_registry.choices import CostSource
from models_registry.models import CostEntry, PredictionLog

_seq = itertools.count(1)


def log_predictions(model, version, rows) -> None:
    """rows: (created_at, prediction, actual | None)."""
    PredictionLog.objects.bulk_create([
        PredictionLog(model=model, version=version, request_id=f"r{next(_seq)}", features={}, prediction=p,
                      latency_ms=1.0, created_at=at, actual=a)
        for at, p, a in rows
    ])


def month(year: int, m: int, day: int = 1) -> datetime:
    return datetime(year, m, day, tzinfo=UTC)


def add_cost(*, model=None, service=None, start, end, amount, category="infrastructure.compute") -> CostEntry:
    return CostEntry.objects.create(model=model, service=service, category=category, period_start=start,
                                    period_end=end, amount=Decimal(str(amount)), currency="EUR",
                                    source=CostSource.DEMO)
