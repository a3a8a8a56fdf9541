"""Alert intake: store an agent's request durably and idempotently, then turn it into signals.

The request path (`receive`) validates, stores the raw body in an `AlertIntake` row and answers;
it only asks for a drain of the row's partition (`drain`). A drain claims queued rows in batches
(`claims`), re-parses the same bytes and hands each batch's signals to the incident core in one
call (`batch`); the sweep (`sweep`) takes over rows whose worker died and drains rows whose kick
was lost.

Exactly once: a claim (committed, with its worker and a short lease) only says who works on a
row; the batch's signals and the rows' PROCESSED mark commit in one transaction that holds the
rows locked, so a worker that dies or loses the database mid-batch leaves nothing applied, and
the rows are taken over (lease expired, nobody holding them) and processed once.
"""
from __future__ import annotations

from incidents import services as incident_services

from .batch import (
    LOCK_CONFLICT_ATTEMPTS,
    TRANSIENT_DB_ERRORS,
    DrainResult,
    alert_intake_fail,
    alert_intake_process,
    alert_intakes_process_batch,
)
from .claims import DRAIN_BATCH, MAX_ATTEMPTS, STALE_CLAIM_AFTER, alert_intake_claim, alert_intakes_claim
from .drain import alert_intakes_drain, alert_intakes_kick
from .priority import alert_intake_process_priority
from .receipts import RECEIPT_FLUSH_SECONDS, integration_receipts_flush
from .receive import (
    IDEMPOTENCY_WINDOW_SECONDS,
    IntakeReceipt,
    alert_intake_receive,
    idempotency_keys,
    pagerduty_event_receive,
    pagerduty_routing_integration,
)
from .sweep import REQUEUE_AFTER, alert_intakes_replay, alert_intakes_requeue_stale

__all__ = [
    "DRAIN_BATCH", "IDEMPOTENCY_WINDOW_SECONDS", "LOCK_CONFLICT_ATTEMPTS", "MAX_ATTEMPTS", "RECEIPT_FLUSH_SECONDS",
    "REQUEUE_AFTER", "STALE_CLAIM_AFTER", "TRANSIENT_DB_ERRORS", "DrainResult", "IntakeReceipt", "alert_intake_claim",
    "alert_intake_fail", "alert_intake_process",
    "alert_intake_process_priority", "alert_intake_receive", "alert_intakes_claim", "alert_intakes_drain",
    "alert_intakes_kick", "alert_intakes_process_batch", "alert_intakes_replay", "alert_intakes_requeue_stale",
    "idempotency_keys", "incident_services", "integration_receipts_flush", "pagerduty_event_receive",
    "pagerduty_routing_integration",
]
