"""Signal intake entry points: validate, count a batch's repeats together, then store each signal in order."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from core.models import Service
from incidents.choices import AlertHold
from incidents.contracts import InvalidSignal, SignalIn, SignalResult, signal_normalise

from . import fast_join
from .admission import pending_alerts_promote, signal_repeat, signal_store
from .commit import commit_relaxed
from .correlation import PlacementRace
from .fast_ingest import bump_fast as _bump_fast
from .fast_ingest import join_fast as _join_fast

__all__ = ["pending_alerts_promote", "signal_ingest", "signals_ingest"]

# Two racing workers settle in one retry; a third attempt covers a key retired meanwhile.
MAX_ATTEMPTS = 4


def fast_path_enabled() -> bool:
    """Whether the PostgreSQL shortcuts (`fast_ingest`, the batch count) may take signals.

    They store exactly what the general path stores (tests/integration/test_placement_property.py
    replays random histories both ways); `INCIDENTS_FAST_PATH = False` sends everything down the
    general path.
    """
    return connection.vendor == "postgresql" and settings.INCIDENTS_FAST_PATH


def signal_ingest(*, signal: SignalIn) -> SignalResult:
    """Store one signal atomically and say what became of it; raises InvalidSignal (400)."""
    return _ingest_clean(signal_normalise(signal))


def _ingest_clean(clean: SignalIn, *, unbumped: bool = False) -> SignalResult:
    """`unbumped`: the caller just found no unheld firing alert with this fingerprint to count."""
    firing_fast = clean.status == "firing" and fast_path_enabled()
    bumped = _bump_fast(clean) if firing_fast and not unbumped else None
    if bumped is not None and bumped[2] in (AlertHold.NONE, AlertHold.FLAPPING):
        return signal_repeat(clean, bumped)
    if firing_fast and bumped is None:
        joined = _join_fast(clean)
        if joined is not None:
            return joined
    # The fast path already looked for a firing alert; the first attempt need not look again.
    skip_bump = firing_fast and bumped is None and not unbumped
    own_transaction = not connection.in_atomic_block  # never relax a caller's transaction
    for attempt in range(MAX_ATTEMPTS):
        try:
            with transaction.atomic():
                if own_transaction:
                    commit_relaxed()
                return signal_store(clean, bumped=bumped, skip_bump=skip_bump and attempt == 0)
        except (IntegrityError, PlacementRace):
            # Another worker inserted the same alert or opened the same incident first; its row
            # is committed now, so the next attempt deduplicates or joins it.
            if attempt == MAX_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def signals_ingest(*, signals: Sequence[SignalIn]) -> list[SignalResult]:
    """Validate every signal first (nothing stored if one is bad), then ingest each atomically.

    Repeats of already-firing alerts in the batch are counted together in one statement
    (PostgreSQL): an alert storm is mostly repeats, and a batch (a webhook, a queue drain)
    holds many of them. Everything else goes through `signal_ingest` one by one, in order;
    the first signal of a fault that statement found not firing skips looking for it again.
    """
    clean = []
    for index, signal in enumerate(signals):
        try:
            clean.append(signal_normalise(signal))
        except InvalidSignal as exc:
            raise InvalidSignal(f"Signal {index}: {exc.message}", field=exc.field) from exc
    known = set(Service.objects.filter(name__in={s.service for s in clean}).values_list("name", flat=True))
    for index, signal in enumerate(clean):
        if signal.service not in known:
            raise InvalidSignal(f"Signal {index}: No service named {signal.service!r}.", field="service")
    results: dict[int, SignalResult] = {}
    bumped, unbumped = _bump_batch(clean)
    results.update(bumped)
    for index, signal in enumerate(clean):
        if index not in results:
            results[index] = _ingest_clean(signal, unbumped=signal.fingerprint in unbumped)
            unbumped.discard(signal.fingerprint)  # it may fire now: its next signal is a repeat
    return [results[index] for index in range(len(clean))]


def _bump_batch(signals: list[SignalIn]) -> tuple[dict[int, SignalResult], set[str]]:
    """Count repeats of firing, unheld alerts for a whole batch at once.

    Returns {index: result} for those, and the fingerprints it looked for and did not count.
    """
    if not fast_path_enabled() or len(signals) < 2:
        return {}, set()
    # A fingerprint that also resolves or acknowledges in this batch keeps its order: no shortcut.
    ordered = {s.fingerprint for s in signals if s.status != "firing"}
    groups: dict[str, list[int]] = {}
    for index, signal in enumerate(signals):
        if signal.status == "firing" and signal.fingerprint not in ordered:
            groups.setdefault(signal.fingerprint, []).append(index)
    if not groups:
        return {}, set()
    own = not connection.in_atomic_block  # never relax a caller's transaction
    rows = [(fp, len(ix), max(_stamp(signals[i]) for i in ix)) for fp, ix in groups.items()]
    values = ", ".join(["(%s, %s::integer, %s::timestamptz)"] * len(rows))  # placeholders only
    params = [value for row in rows for value in row]
    # Rows are locked in id order first: two workers bumping overlapping sets never deadlock.
    sql = (
        "WITH v(fp, n, ts) AS (VALUES " + values + "), "
        "locked AS (SELECT a.id, v.n, v.ts FROM incidents_alert a JOIN v ON a.fingerprint = v.fp "
        "WHERE a.status = 'firing' AND a.hold IN ('', 'flapping') ORDER BY a.id FOR UPDATE OF a) "
        "UPDATE incidents_alert AS a SET count = a.count + locked.n, "
        "last_seen = GREATEST(a.last_seen, locked.ts) "
        "FROM locked" + (", (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit "
                         if own else " ") +
        "WHERE a.id = locked.id "
        "RETURNING a.fingerprint, a.id, a.incident_id, a.hold"
    )
    try:
        if own:
            found = fast_join.fetch_all(sql, params)
        else:
            with transaction.atomic():  # a savepoint: a deadlock must not abort the caller's transaction
                found = fast_join.fetch_all(sql, params)
    except psycopg.errors.DeadlockDetected:
        return {}, set()  # nothing was applied (one statement); the signals take the one-by-one path
    out: dict[int, SignalResult] = {}
    for fingerprint, alert_id, incident_id, hold in found:
        outcome = "flapping" if hold == AlertHold.FLAPPING else "deduplicated"
        for index in groups.pop(fingerprint):
            out[index] = SignalResult(alert_id=alert_id, incident_id=incident_id, outcome=outcome)
    return out, set(groups)


def _stamp(signal: SignalIn) -> datetime:
    assert signal.occurred_at is not None  # normalised
    return signal.occurred_at
