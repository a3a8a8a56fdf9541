"""Alert intake: store an agent's request durably and idempotently, then turn it into signals.

The request path validates fully (the format's parser), stores the raw body in an `AlertIntake`
row with one autocommitted INSERT, and only then answers 2xx; a sender's retry of the same
notification finds the row already stored and is answered without storing anything twice.

Processing is a drain: a worker claims queued rows in batches (`FOR UPDATE SKIP LOCKED`), re-parses
the same bytes and hands each batch's signals to the incident core in one call. The request path
only asks for a drain (a debounced "kick", at most one drain waiting in the queue); a row whose
kick was lost (broker down) is in the database, and the beat sweep drains it.

Exactly once: a claim (committed, with its worker and a short lease) only says who works on a
row; the batch's signals and the rows' PROCESSED mark commit in one transaction that holds the
rows locked, so a worker that dies or loses the database mid-batch leaves nothing applied, and
the rows are taken over (lease expired, nobody holding them) and processed once.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
import psycopg
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from core.authentication import authenticate_integration_token, integration_cache_forget
from core.exceptions import InvalidInput
from core.models import Integration
from core.ratelimit import cache_add, counter_incr, integration_rate_limit_check
from core.services import integration_record_receipt
from incidents import services as incident_services
from monitoring import tasks
from monitoring.choices import AlertIntakeKind, AlertIntakeStatus
from monitoring.formats import IntakeInvalid, decode_body, get_parser
from monitoring.formats.grafana import verify_signature
from monitoring.models import AlertIntake

logger = logging.getLogger(__name__)

# Retries of one notification arrive within minutes (Alertmanager retries until the next
# group_interval, 5 min by default; PagerDuty clients back off for seconds to minutes). A
# request identical to one stored in the current or previous window is a retry; later it is a
# real re-notification (Alertmanager's repeat_interval), which the incident core counts.
IDEMPOTENCY_WINDOW_SECONDS = 600
# Rows claimed per drain step: one signals_ingest call for all their signals. Large enough to
# amortise the claim and the status update, small enough that a step takes about a second.
DRAIN_BATCH = 100
# A drain hands over to a fresh task after this long (Celery's soft time limit is 120 s).
DRAIN_MAX_SECONDS = 60.0
# A web process asks for a drain at most this often; a drain keeps looking for rows at least this
# long after it starts, so the rows of requests that skipped their kick are never left behind.
KICK_DEBOUNCE_SECONDS = 0.1
# "A drain is waiting in the queue": later kicks publish nothing. A drain deletes it when it
# starts; if its message was lost, kicks resume after this long (and the beat sweep drains).
DRAIN_FLAG_KEY = "alert-intake:drain-queued"
DRAIN_FLAG_SECONDS = 10.0
# A queued row older than this lost its kick (broker down at commit time): the sweep drains it.
# A drain takes a row within milliseconds; a backlog only costs the sweep a redundant kick.
REQUEUE_AFTER = timedelta(seconds=5)
# Rows claimed before claims carried a lease (no lease_until): their worker died after this long.
STALE_CLAIM_AFTER = timedelta(minutes=5)
# A batch that lost a lock conflict (deadlock with another drain) is run again at once this often
# before its rows go back to the queue: the conflict is between two live workers, not an outage.
LOCK_CONFLICT_ATTEMPTS = 3
# Claims of a row before it is recorded FAILED (database trouble each time).
MAX_ATTEMPTS = 6
# Duplicate requests counted in the cache reach the integration row at most this often.
RECEIPT_FLUSH_SECONDS = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class IntakeReceipt:
    intake_id: int
    event_count: int
    duplicate: bool  # a retry of a request stored earlier: nothing new was stored
    dedup_key: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DrainResult:
    claimed: int = 0  # rows taken from the queue
    processed: int = 0
    failed: int = 0
    events: int = 0  # signals handed to the incident core


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
    """Validate, rate-limit and durably store one agent request; ask for a drain once committed.

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
    if receipt.duplicate:
        _count_duplicate(integration_id=integration.pk)
    return receipt


def _receipts_key(integration_id: int) -> str:
    return f"intake-receipts:{integration_id}"


def _count_duplicate(*, integration_id: int) -> None:
    """Count a retried request (no row) in the cache; stored rows are counted when first claimed.

    Best effort: the count is what the admin shows, and the sender must get its answer.
    """
    try:
        key = _receipts_key(integration_id)
        counter_incr(key, timeout=None)
        if cache_add(f"{key}:flushed", 1, timeout=RECEIPT_FLUSH_SECONDS):
            integration_receipts_flush(integration_ids=[integration_id])
    except Exception:
        logger.warning("could not count a duplicate alert request of integration %s", integration_id, exc_info=True)


def integration_receipts_flush(*, integration_ids: list[int] | None = None) -> int:
    """Move duplicate requests counted in the cache to the integration rows; returns how many moved."""
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


_INSERT_SQL = (
    f"INSERT INTO {AlertIntake._meta.db_table} (integration_id, kind, body, idempotency_key, dedup_key, "
    "event_count, status, received_at, attempts, error, outcomes) "
    "SELECT %s, %s, %s, %s, %s, %s, %s, %s, 0, '', '[]' "
    f"WHERE NOT EXISTS (SELECT 1 FROM {AlertIntake._meta.db_table} WHERE integration_id = %s AND idempotency_key = %s) "
    "ON CONFLICT (integration_id, idempotency_key) DO NOTHING RETURNING id"
)


def _store(*, integration, kind, raw, parsed, keys, now) -> IntakeReceipt:
    """Insert the row unless this window or the previous one holds it: one statement, one commit.

    The commit (a WAL flush) is the price of "stored before answered". The statement runs in
    autocommit (no BEGIN/COMMIT round trips) and does the duplicate check itself; the unique
    constraint settles two copies racing in the same window.
    """
    current, previous = keys
    params = [
        integration.pk, kind, raw.decode("utf-8"), current, parsed.dedup_key, len(parsed.signals),
        AlertIntakeStatus.QUEUED, connection.ops.adapt_datetimefield_value(now), integration.pk, previous,
    ]
    try:
        with connection.wrap_database_errors:
            row = _execute_one(_INSERT_SQL, params)
    except IntegrityError:
        # The integration was deleted while this process still had its token cached.
        integration_cache_forget(token_hash=integration.token_hash)
        raise AuthenticationFailed("Integration token has been revoked.") from None
    if row is not None:
        intake_id = row[0]
        transaction.on_commit(alert_intakes_kick)  # at once in autocommit; after the caller's commit otherwise
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


_PREPARE_ONLY_WHEN_ASKED = 2**31 - 1


def _execute_one(sql: str, params: list):
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        conn = connection.connection
        if conn.prepare_threshold is None:
            # Django turns preparation off (None), which also ignores prepare=True. A threshold no
            # statement reaches keeps Django's statements unprepared and lets this one ask.
            conn.prepare_threshold = _PREPARE_ONLY_WHEN_ASKED
        # Server-side binding: the body travels as a parameter (no quoting into the SQL text), and
        # the statement is parsed and planned once per connection.
        with psycopg.Cursor(conn) as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchone()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


_kick_lock = threading.Lock()
_last_kick = 0.0


def alert_intakes_kick(*, force: bool = False) -> None:
    """Ask a worker to drain the queued rows (after a row commits).

    Debounced per process (KICK_DEBOUNCE_SECONDS) and with at most one drain waiting in the
    queue, so an alert storm costs a few task messages a second, not one per request. The broker
    is talked to from a background thread, so the answer to the sender never waits for it. Never
    raises: the rows are committed, and the beat sweep drains whatever a lost kick left.
    """
    global _last_kick
    if settings.CELERY_TASK_ALWAYS_EAGER:
        _kick_now(force=True)  # in-process tasks: drain right here, after the commit
        return
    if not force:
        now = time.monotonic()
        with _kick_lock:
            if now - _last_kick < KICK_DEBOUNCE_SECONDS:
                return
            _last_kick = now
    _kicker().request(force=force)


def _kick_now(*, force: bool) -> None:
    try:
        if force or cache_add(DRAIN_FLAG_KEY, 1, timeout=DRAIN_FLAG_SECONDS):
            tasks.process_alert_intakes.delay()
    except Exception:
        logger.exception("could not ask for an alert intake drain; the sweep task drains the rows later")


class _Kicker:
    """One daemon thread per process that publishes the kicks requested meanwhile, coalesced.

    A kick requested at time t is published after t, which is all the drain's "keep looking for
    KICK_DEBOUNCE_SECONDS" rule needs (see alert_intakes_drain).
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.wanted = threading.Event()
        self.forced = False
        thread = threading.Thread(target=self.run, name="alert-intake-kicker", daemon=True)
        thread.start()

    def request(self, *, force: bool) -> None:
        self.forced = self.forced or force
        self.wanted.set()

    def run(self) -> None:
        while True:
            self.wanted.wait()
            self.wanted.clear()
            force, self.forced = self.forced, False
            _kick_now(force=force)


_kicker_instance: _Kicker | None = None


def _kicker() -> _Kicker:
    global _kicker_instance
    kicker = _kicker_instance
    if kicker is None or kicker.pid != os.getpid():  # first kick, or a forked child
        with _kick_lock:
            if _kicker_instance is None or _kicker_instance.pid != os.getpid():
                _kicker_instance = _Kicker()
            kicker = _kicker_instance
    return kicker


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


# --- processing (the drain on the ingest queue) ----------------------------------------------


def alert_intakes_drain_started() -> None:
    """A drain task is running: the next kick may queue another."""
    try:
        cache.delete(DRAIN_FLAG_KEY)
    except Exception:
        logger.warning("could not clear the alert intake drain flag", exc_info=True)


def alert_intakes_drain(
    *,
    batch_size: int = DRAIN_BATCH,
    min_seconds: float = 0.0,
    max_seconds: float = DRAIN_MAX_SECONDS,
    fan_out: bool = False,
) -> DrainResult:
    """Claim and process queued rows batch by batch until none is left.

    `min_seconds`: keep looking at least this long after starting (see KICK_DEBOUNCE_SECONDS).
    `fan_out`: a full batch asks for another drain, so idle workers help with a backlog.
    Database trouble puts the current batch back in the queue and propagates.
    """
    started = time.monotonic()
    claimed = processed = failed = events = 0
    while True:
        batch = alert_intakes_claim(limit=batch_size)
        if not batch:
            waited = time.monotonic() - started
            if waited >= min_seconds:
                break
            time.sleep(min(0.02, min_seconds - waited))
            continue
        if fan_out and len(batch) == batch_size:
            alert_intakes_kick(force=False)
        result = alert_intakes_process_batch(intakes=batch)
        claimed += result.claimed
        processed += result.processed
        failed += result.failed
        events += result.events
        if time.monotonic() - started > max_seconds:
            alert_intakes_kick(force=True)  # hand the rest to a fresh task
            break
    return DrainResult(claimed=claimed, processed=processed, failed=failed, events=events)


def alert_intakes_claim(*, limit: int = DRAIN_BATCH, intake_id: int | None = None,
                        now: datetime | None = None) -> list[AlertIntake]:
    """Take up to `limit` queued rows, oldest first, skipping rows another worker is claiming.

    The claim commits with its worker and a lease (ALERT_INTAKE_LEASE_SECONDS); the rows are
    processed under a row lock (see alert_intakes_process_batch), so the lease only has to cover
    the moment between the two. `intake_id` claims that one row, also when its claim is dead.
    A row claimed for the first time counts as a received request of its integration.
    """
    now = now or timezone.now()
    token = _claim_token()
    with transaction.atomic():
        rows = AlertIntake.objects.select_for_update(skip_locked=True)
        if intake_id is None:
            rows = rows.filter(status=AlertIntakeStatus.QUEUED).order_by("received_at", "id")
        else:
            rows = rows.filter(pk=intake_id).filter(
                Q(status=AlertIntakeStatus.QUEUED) | (_dead_claims(now) & Q(attempts__lt=MAX_ATTEMPTS))
            )
        ids = list(rows.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        AlertIntake.objects.filter(pk__in=ids).update(
            status=AlertIntakeStatus.PROCESSING, claimed_at=now, claimed_by=token,
            lease_until=now + _lease(), attempts=F("attempts") + 1,
        )
        intakes = list(
            AlertIntake.objects.filter(pk__in=ids).select_related("integration__service").order_by("received_at", "id")
        )
        first = [intake for intake in intakes if intake.attempts == 1]
        for integration_id, count in Counter(intake.integration_id for intake in first).items():
            latest = max(intake.received_at for intake in first if intake.integration_id == integration_id)
            Integration.objects.filter(pk=integration_id).update(
                received_count=F("received_count") + count,
                last_received_at=Greatest(Coalesce(F("last_received_at"), latest), latest),
            )
    return intakes


def _claim_token() -> str:
    """Who holds a claim (host and process) and which claim it is (a nonce: a claim taken over
    from a worker that was only slow is not the slow worker's any more)."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{secrets.token_hex(4)}"


def _lease() -> timedelta:
    return timedelta(seconds=settings.ALERT_INTAKE_LEASE_SECONDS)


def _dead_claims(now: datetime) -> Q:
    """PROCESSING rows whose lease ran out (their worker died, or lost the database)."""
    return Q(status=AlertIntakeStatus.PROCESSING) & (
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, claimed_at__lt=now - STALE_CLAIM_AFTER)
    )


def alert_intake_claim(*, intake_id: int, now: datetime | None = None) -> bool:
    """Take one row for processing; False when another worker has it or it is done."""
    return bool(alert_intakes_claim(limit=1, intake_id=intake_id, now=now))


def alert_intakes_process_batch(*, intakes: list[AlertIntake]) -> DrainResult:
    """Turn claimed rows into signals for the incident core: one core call for the whole batch.

    A row that no longer parses, or whose signals the core refuses (e.g. its service was deleted
    since), is marked FAILED with the reason; the others are processed. Database trouble puts
    every row of the batch back in the queue (FAILED after MAX_ATTEMPTS claims) and propagates.

    Exactly once: the signals and the rows' PROCESSED mark commit in one transaction, which first
    locks the rows still claimed by this claim (the lock keeps the sweep off them however long the
    batch takes). A worker that dies or loses the database mid-batch leaves nothing of it applied,
    so taking its rows over never counts a repeat twice; it also costs one commit per batch
    instead of one per new alert.
    """
    errors: dict[int, str] = {}
    parsed: list[tuple[AlertIntake, list]] = []
    answers: dict[str, bool] = {}  # service names asked of the database for this batch
    for intake in intakes:
        try:
            data = orjson.loads(intake.body)
            signals = get_parser(intake.kind).parse(
                data=data, integration=intake.integration, received_at=intake.received_at, answers=answers
            ).signals
        except (InvalidInput, orjson.JSONDecodeError) as exc:
            errors[intake.pk] = str(exc)
            continue
        parsed.append((intake, list(signals)))
    for attempt in range(LOCK_CONFLICT_ATTEMPTS):
        outcomes: dict[int, list[dict]] = {}
        failed = dict(errors)
        try:
            with transaction.atomic():
                held = _hold(intakes)
                mine = [(intake, signals) for intake, signals in parsed if intake.pk in held]
                failed = {pk: error for pk, error in failed.items() if pk in held}
                _ingest(mine, outcomes=outcomes, errors=failed)
                _finish(intakes=[intake for intake in intakes if intake.pk in held],
                        outcomes=outcomes, errors=failed)
        except TRANSIENT_DB_ERRORS as exc:
            if _lock_conflict(exc) and attempt < LOCK_CONFLICT_ATTEMPTS - 1:
                continue  # rolled back whole: run the batch again while the claim is ours
            # Rolled back whole (or the connection is gone and the server rolls it back).
            _release(intakes=intakes, error=f"{type(exc).__name__}: {exc}")
            raise
        break
    return DrainResult(
        claimed=len(intakes), processed=len(outcomes), failed=len(failed),
        events=sum(len(signals) for intake, signals in parsed if intake.pk in outcomes),
    )


def _hold(intakes: list[AlertIntake]) -> set[int]:
    """Lock the rows this claim still holds (a row taken over after our lease ran out is not)."""
    if not intakes:
        return set()
    return set(
        AlertIntake.objects.select_for_update()
        .filter(pk__in=[intake.pk for intake in intakes], status=AlertIntakeStatus.PROCESSING,
                claimed_by__in={intake.claimed_by for intake in intakes})
        .values_list("pk", flat=True)
    )


def _lock_conflict(exc: BaseException) -> bool:
    cause = exc if isinstance(exc, psycopg.Error) else exc.__cause__
    return isinstance(cause, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure))


# Database trouble worth another try (a restart, a deadlock victim); the core runs some statements
# on psycopg cursors directly, so psycopg's own classes too.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)


def _ingest(parsed: list[tuple[AlertIntake, list]], *, outcomes: dict, errors: dict) -> None:
    """All rows' signals in one core call; if the core refuses it, row by row to find the culprit.

    Each call runs in a savepoint: what a refused call had stored is undone before the rows are
    tried one by one, so nothing is counted twice.
    """
    if not parsed:
        return
    try:
        with transaction.atomic():
            results = incident_services.signals_ingest(signals=[s for _, signals in parsed for s in signals])
    except TRANSIENT_DB_ERRORS:
        raise
    except Exception as exc:
        if len(parsed) > 1:
            for row in parsed:
                _ingest([row], outcomes=outcomes, errors=errors)
            return
        intake = parsed[0][0]
        if not isinstance(exc, InvalidInput):  # a bug, not bad data: keep the traceback
            logger.exception("alert intake %s failed", intake.pk)
        errors[intake.pk] = str(exc) if isinstance(exc, InvalidInput) else f"{type(exc).__name__}: {exc}"
        return
    at = 0
    for intake, signals in parsed:
        outcomes[intake.pk] = [
            {"alert_id": r.alert_id, "incident_id": r.incident_id, "outcome": r.outcome}
            for r in results[at:at + len(signals)]
        ]
        at += len(signals)


_FINISH_SQL = (
    f"UPDATE {AlertIntake._meta.db_table} AS t SET status = v.status, outcomes = v.outcomes::jsonb, "
    "error = v.error, processed_at = %s "
    "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[]) AS v(id, status, outcomes, error) "
    "WHERE t.id = v.id"
)


def _finish(*, intakes: list[AlertIntake], outcomes: dict[int, list[dict]], errors: dict[int, str]) -> None:
    """Record each finished row's status, outcomes and error: one statement for the batch."""
    now = timezone.now()
    done = []
    for intake in intakes:
        if intake.pk in outcomes:
            intake.status, intake.outcomes, intake.error = AlertIntakeStatus.PROCESSED, outcomes[intake.pk], ""
        elif intake.pk in errors:
            intake.status, intake.error = AlertIntakeStatus.FAILED, errors[intake.pk][:2000]
        else:
            continue
        intake.processed_at = now
        done.append(intake)
    if not done:
        return
    if connection.vendor == "postgresql":
        # Django's bulk_update writes a CASE per column over every row: slow to build and to run.
        columns = ([i.pk for i in done], [i.status for i in done],
                   [orjson.dumps(i.outcomes).decode() for i in done], [i.error for i in done])
        with connection.cursor() as cursor:
            cursor.execute(_FINISH_SQL, [now, *columns])
    else:
        AlertIntake.objects.bulk_update(done, ["status", "outcomes", "error", "processed_at"])


def _release(*, intakes: list[AlertIntake], error: str) -> None:
    """Put claimed rows back in the queue after database trouble; FAILED once out of attempts."""
    if not intakes:
        return
    ids = [intake.pk for intake in intakes]
    rows = AlertIntake.objects.filter(pk__in=ids, status=AlertIntakeStatus.PROCESSING,
                                      claimed_by__in={intake.claimed_by for intake in intakes})
    try:
        rows.filter(attempts__gte=MAX_ATTEMPTS).update(
            status=AlertIntakeStatus.FAILED, processed_at=timezone.now(), error=error[:2000]
        )
        rows.update(status=AlertIntakeStatus.QUEUED, claimed_at=None, claimed_by="", lease_until=None,
                    error=error[:2000])
    except TRANSIENT_DB_ERRORS:  # the database is away: the leases run out and the sweep re-queues them
        logger.warning("could not release claimed alert intake rows %s", ids, exc_info=True)


def alert_intake_process(*, intake_id: int) -> AlertIntake | None:
    """Claim and process one row (the per-row task; the admin's replays use the drain).

    Returns None when the row was not claimable (a redelivered message for finished work).
    """
    intakes = alert_intakes_claim(limit=1, intake_id=intake_id)
    if not intakes:
        return None
    alert_intakes_process_batch(intakes=intakes)
    return AlertIntake.objects.get(pk=intake_id)


def alert_intake_fail(*, intake_id: int, error: str) -> None:
    AlertIntake.objects.filter(pk=intake_id).exclude(status=AlertIntakeStatus.PROCESSED).update(
        status=AlertIntakeStatus.FAILED, processed_at=timezone.now(), error=error[:2000]
    )


def alert_intakes_requeue_stale(*, now: datetime | None = None) -> int:
    """The sweep (beat, every ALERT_INTAKE_SWEEP_SECONDS): re-queue rows whose worker died (lease
    run out, rows not held by a live drain) and drain rows whose kick was lost; returns how many
    rows were waiting."""
    now = now or timezone.now()
    with transaction.atomic():
        # SKIP LOCKED: a row a live drain holds is being processed, whatever its lease says.
        dead = list(AlertIntake.objects.select_for_update(skip_locked=True).filter(_dead_claims(now))
                    .values_list("pk", "attempts"))
        AlertIntake.objects.filter(pk__in=[pk for pk, attempts in dead if attempts >= MAX_ATTEMPTS]).update(
            status=AlertIntakeStatus.FAILED, processed_at=now, error="claimed too often without finishing"
        )
        back = [pk for pk, attempts in dead if attempts < MAX_ATTEMPTS]
        waiting = AlertIntake.objects.filter(pk__in=back).update(
            status=AlertIntakeStatus.QUEUED, claimed_at=None, claimed_by="", lease_until=None
        )
    if waiting:
        logger.warning("took over %s alert intake rows whose worker died", waiting)
    waiting += AlertIntake.objects.filter(
        status=AlertIntakeStatus.QUEUED, received_at__lt=now - REQUEUE_AFTER
    ).exclude(pk__in=back).count()
    if waiting:
        alert_intakes_kick(force=True)
    integration_receipts_flush()
    return waiting


def alert_intakes_replay(*, intake_ids: list[int]) -> int:
    """Queue finished or failed rows again (admin action after fixing a cause); the core dedups."""
    ids = list(
        AlertIntake.objects.filter(pk__in=intake_ids)
        .exclude(status=AlertIntakeStatus.PROCESSING)
        .values_list("pk", flat=True)
    )
    AlertIntake.objects.filter(pk__in=ids).update(status=AlertIntakeStatus.QUEUED, claimed_at=None, claimed_by="",
                                                  lease_until=None, error="")
    if ids:
        transaction.on_commit(lambda: alert_intakes_kick(force=True))
    return len(ids)
