"""Alert intake: store an agent's request durably and idempotently, then turn it into signals.

The request path validates fully (the format's parser), stores the raw body in an `AlertIntake`
row, commits, and only then answers 2xx; the ingest task re-parses the same bytes and hands the
signals to the incident core. A sender's retry of the same notification finds the row already
stored and is answered without storing or processing anything twice.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from core.authentication import authenticate_integration_token
from core.exceptions import InvalidInput
from core.models import Integration
from core.ratelimit import counter_incr, integration_rate_limit_check
from core.services import integration_record_receipt
from incidents import services as incident_services
from monitoring import tasks
from monitoring.choices import AlertIntakeKind, AlertIntakeStatus
from monitoring.intake import IntakeInvalid, decode_body, get_parser
from monitoring.intake.grafana import verify_signature
from monitoring.models import AlertIntake

logger = logging.getLogger(__name__)

# Retries of one notification arrive within minutes (Alertmanager retries until the next
# group_interval, 5 min by default; PagerDuty clients back off for seconds to minutes). A
# request identical to one stored in the current or previous window is a retry; later it is a
# real re-notification (Alertmanager's repeat_interval), which the incident core counts.
IDEMPOTENCY_WINDOW_SECONDS = 600
# A queued row older than this lost its task message (broker down at commit time).
REQUEUE_AFTER = timedelta(minutes=2)
# A row claimed longer ago than this lost its worker (above Celery's hard time limit of 180 s).
STALE_CLAIM_AFTER = timedelta(minutes=5)
# Rows re-enqueued per reaper run, so a long outage drains in bounded steps.
REQUEUE_BATCH = 500
# "Last received" in the admin may lag this much behind the newest request (plus the reaper tick).
RECEIPT_FLUSH_SECONDS = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class IntakeReceipt:
    intake_id: int
    event_count: int
    duplicate: bool  # a retry of a request stored earlier: nothing new was stored
    dedup_key: str = ""


def idempotency_keys(*, content_key: str, received_at: datetime) -> tuple[str, str]:
    """Keys of the current and the previous window for `content_key`."""
    window = int(received_at.timestamp()) // IDEMPOTENCY_WINDOW_SECONDS
    return f"{content_key[:48]}:{window:015d}", f"{content_key[:48]}:{window - 1:015d}"


def alert_intake_receive(
    *,
    integration: Integration,
    kind: str,
    raw: bytes,
    headers=None,
    data: dict | None = None,
    now: datetime | None = None,
) -> IntakeReceipt:
    """Validate, rate-limit and durably store one agent request; enqueue it once committed.

    Raises Throttled (429), SignatureInvalid (401) or IntakeInvalid (400) with nothing stored.
    """
    now = now or timezone.now()
    integration_rate_limit_check(integration=integration, now=now.timestamp())
    if kind == AlertIntakeKind.GRAFANA and integration.secret:
        verify_signature(secret=integration.secret, body=raw, headers=headers or {}, now=now.timestamp())
    if data is None:
        data = decode_body(raw)
    parsed = get_parser(kind).parse(data=data, integration=integration, received_at=now)
    current, previous = idempotency_keys(content_key=parsed.content_key, received_at=now)
    receipt = _store(integration=integration, kind=kind, raw=raw, parsed=parsed, keys=(current, previous), now=now)
    _count_receipt(integration_id=integration.pk)
    return receipt


def _receipts_key(integration_id: int) -> str:
    return f"intake-receipts:{integration_id}"


def _count_receipt(*, integration_id: int) -> None:
    """Count a request in the cache; the integration row gets the sum at most once a second.

    An UPDATE per request would add a second commit (WAL flush) to every request and queue all
    of an integration's requests on its row lock, halving intake throughput.
    """
    key = _receipts_key(integration_id)
    counter_incr(key, timeout=None)
    if cache.add(f"{key}:flushed", 1, timeout=RECEIPT_FLUSH_SECONDS):
        integration_receipts_flush(integration_ids=[integration_id])


def integration_receipts_flush(*, integration_ids: list[int] | None = None) -> int:
    """Move counted receipts from the cache to the integration rows; returns how many moved."""
    if integration_ids is None:
        integration_ids = list(
            Integration.objects.filter(kind__in=AlertIntakeKind.values).values_list("pk", flat=True)
        )
    moved = 0
    pending = cache.get_many([_receipts_key(pk) for pk in integration_ids])
    for pk in integration_ids:
        count = pending.get(_receipts_key(pk)) or 0
        if count > 0:
            # decr, not delete: receipts counted meanwhile stay for the next flush.
            cache.decr(_receipts_key(pk), count)
            integration_record_receipt(integration_id=pk, count=count)
            moved += count
    return moved


def _store(*, integration, kind, raw, parsed, keys, now) -> IntakeReceipt:
    """Insert the row unless this window or the previous one holds it: one statement, one commit.

    The commit (a WAL flush) is the price of "stored before answered"; doing the duplicate check
    inside the INSERT keeps it to one round trip and one commit per request. The unique
    constraint settles two copies racing in the same window.
    """
    current, previous = keys
    table = AlertIntake._meta.db_table
    sql = (
        f"INSERT INTO {table} (integration_id, kind, body, idempotency_key, dedup_key, event_count, status, "
        "received_at, attempts, error, outcomes) "
        "SELECT %s, %s, %s, %s, %s, %s, %s, %s, 0, '', '[]' "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE integration_id = %s AND idempotency_key = %s) "
        "ON CONFLICT (integration_id, idempotency_key) DO NOTHING RETURNING id"
    )
    params = [
        integration.pk, kind, raw.decode("utf-8"), current, parsed.dedup_key, len(parsed.signals),
        AlertIntakeStatus.QUEUED, connection.ops.adapt_datetimefield_value(now), integration.pk, previous,
    ]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is not None:
            intake_id = row[0]
            transaction.on_commit(lambda: _enqueue(intake_id))
    if row is not None:
        return IntakeReceipt(intake_id=intake_id, event_count=len(parsed.signals), duplicate=False,
                             dedup_key=parsed.dedup_key)
    existing = (
        AlertIntake.objects.filter(integration=integration, idempotency_key__in=keys)
        .values_list("pk", "event_count", "dedup_key").first()
    )
    if existing is None:  # the holder was deleted between the two statements: store this one
        return _store(integration=integration, kind=kind, raw=raw, parsed=parsed, keys=keys, now=now)
    pk, count, dedup_key = existing
    return IntakeReceipt(intake_id=pk, event_count=count, duplicate=True, dedup_key=dedup_key or parsed.dedup_key)


def _enqueue(intake_id: int) -> None:
    try:
        tasks.process_alert_intake.delay(intake_id)
    except Exception:  # the row is committed: the reaper enqueues it once the broker is back
        logger.exception("could not enqueue alert intake %s; the requeue task will retry", intake_id)


def pagerduty_event_receive(*, raw: bytes, now: datetime | None = None) -> IntakeReceipt:
    """A PagerDuty Events v2 request: the integration is the body's `routing_key`."""
    data = decode_body(raw)
    routing_key = data.get("routing_key")
    if routing_key is None or routing_key == "":
        raise IntakeInvalid(["routing_key is missing"])
    if not isinstance(routing_key, str):
        raise IntakeInvalid(["routing_key must be a string"])
    integration = authenticate_integration_token(routing_key)
    if integration.kind != AlertIntakeKind.PAGERDUTY:
        raise AuthenticationFailed(
            f"routing_key belongs to a {integration.kind} integration; create a pagerduty one."
        )
    return alert_intake_receive(
        integration=integration, kind=AlertIntakeKind.PAGERDUTY, raw=raw, data=data, now=now
    )


# --- processing (the ingest task) ----------------------------------------------------------


def alert_intake_claim(*, intake_id: int, now: datetime | None = None) -> bool:
    """Take a row for processing; False when another worker has it or it is done."""
    now = now or timezone.now()
    return bool(
        AlertIntake.objects.filter(pk=intake_id)
        .filter(
            Q(status=AlertIntakeStatus.QUEUED)
            | Q(status=AlertIntakeStatus.PROCESSING, claimed_at__lt=now - STALE_CLAIM_AFTER)
        )
        .update(status=AlertIntakeStatus.PROCESSING, claimed_at=now, attempts=F("attempts") + 1)
    )


def alert_intake_process(*, intake_id: int) -> AlertIntake | None:
    """Turn a claimed row's body into signals for the incident core, in one transaction.

    Returns None when the row was not claimable (a redelivered message for finished work).
    A row the core refuses (e.g. its service was deleted since) is marked FAILED, not retried;
    other errors propagate so the task retries, and the row goes back to QUEUED meanwhile.
    """
    if not alert_intake_claim(intake_id=intake_id):
        return None
    intake = AlertIntake.objects.select_related("integration__service").get(pk=intake_id)
    try:
        data = orjson.loads(intake.body)
        parsed = get_parser(intake.kind).parse(
            data=data, integration=intake.integration, received_at=intake.received_at, cached=False
        )
        with transaction.atomic():
            results = incident_services.signals_ingest(signals=list(parsed.signals))
            outcomes = [
                {"alert_id": r.alert_id, "incident_id": r.incident_id, "outcome": r.outcome} for r in results
            ]
            AlertIntake.objects.filter(pk=intake_id).update(
                status=AlertIntakeStatus.PROCESSED, processed_at=timezone.now(), outcomes=outcomes, error=""
            )
    except InvalidInput as exc:  # IntakeInvalid, or the core's InvalidSignal
        alert_intake_fail(intake_id=intake_id, error=str(exc))
    except Exception as exc:
        AlertIntake.objects.filter(pk=intake_id).update(
            status=AlertIntakeStatus.QUEUED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    intake.refresh_from_db()
    return intake


def alert_intake_fail(*, intake_id: int, error: str) -> None:
    AlertIntake.objects.filter(pk=intake_id).exclude(status=AlertIntakeStatus.PROCESSED).update(
        status=AlertIntakeStatus.FAILED, processed_at=timezone.now(), error=error[:2000]
    )


def alert_intakes_requeue_stale(*, now: datetime | None = None) -> int:
    """Enqueue rows whose task message was lost or whose worker died; returns how many."""
    now = now or timezone.now()
    ids = list(
        AlertIntake.objects.filter(
            Q(status=AlertIntakeStatus.QUEUED, received_at__lt=now - REQUEUE_AFTER)
            | Q(status=AlertIntakeStatus.PROCESSING, claimed_at__lt=now - STALE_CLAIM_AFTER)
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:REQUEUE_BATCH]
    )
    for intake_id in ids:
        _enqueue(intake_id)
    integration_receipts_flush()
    return len(ids)


def alert_intakes_replay(*, intake_ids: list[int]) -> int:
    """Queue finished or failed rows again (admin action after fixing a cause); the core dedups."""
    ids = list(
        AlertIntake.objects.filter(pk__in=intake_ids)
        .exclude(status=AlertIntakeStatus.PROCESSING)
        .values_list("pk", flat=True)
    )
    AlertIntake.objects.filter(pk__in=ids).update(status=AlertIntakeStatus.QUEUED, claimed_at=None, error="")
    for intake_id in ids:
        transaction.on_commit(lambda intake_id=intake_id: _enqueue(intake_id))
    return len(ids)
