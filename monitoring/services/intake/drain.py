"""The alert intake drain: asked for by the request path, one worker per partition of integrations at a time.

The request path only asks for a drain of its row's partition (a debounced kick published from a
background thread, at most one drain of a partition queued or running), so an alert storm costs a
few task messages a second, not one per request; a row whose kick was lost (broker down) is in the
database, and the sweep drains it. A drain claims its partition's queued rows in batches, oldest
first, and processes each batch (batch.py).
"""
from __future__ import annotations

from core.drain import drain_kick, drain_partitions, drain_run
from monitoring.choices import AlertIntakeStatus
from monitoring.models import AlertIntake

from ..drains import ALERT_INTAKE
from .batch import DrainResult, alert_intakes_process_batch
from .claims import DRAIN_BATCH, alert_intakes_claim


def alert_intakes_kick(*, partition: int, force: bool = False) -> None:
    """Ask a worker to drain the partition's queued rows (after a row commits). Never raises: the
    rows are committed, and the sweep drains whatever a lost kick left."""
    drain_kick(ALERT_INTAKE, partition, force=force)


def alert_intakes_drain(*, partition: int | None = None, batch_size: int = DRAIN_BATCH,
                        idle_seconds: float | None = None, max_seconds: float | None = None) -> DrainResult:
    """Claim and process the partition's queued rows (every partition's when None) batch by batch
    until none is left. Database trouble puts the current batch back in the queue and propagates."""
    totals = {"claimed": 0, "processed": 0, "failed": 0, "events": 0}

    def step(p: int) -> int:
        batch = alert_intakes_claim(limit=batch_size, partition=p)
        if not batch:
            return 0
        result = alert_intakes_process_batch(intakes=batch)
        for name in totals:
            totals[name] += getattr(result, name)
        return result.claimed

    queued = AlertIntake.objects.filter(status=AlertIntakeStatus.QUEUED)

    def run(p: int) -> int:
        return drain_run(
            ALERT_INTAKE, p, lambda lease: step(p),
            pending=lambda: queued.filter(partition=p).exists(),
            pending_elsewhere=lambda: queued.exclude(partition=p).exists(),
            idle_seconds=idle_seconds, max_seconds=max_seconds,
        )

    drain_partitions(run, partition)
    return DrainResult(**totals)
