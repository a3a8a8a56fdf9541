"""The one drain engine: workers work through a queue table one partition each; producers only ask.

A producer (a request storing a row, an ingest step queueing points) calls `drain_kick` for the
row's partition after its commit. Kicks go through `core.enqueue.kick`: debounced per process, and
published only when no drain of that partition is queued or running (a flag in the cache), so a busy
intake costs a few task messages a second per partition, not one per request.

A drain holds its partition's lease, a row per (drain, partition) taken with a conditional UPDATE
(the same SQL on PostgreSQL and SQLite): one worker per partition at a time keeps a partition's
rows in order, and N workers on any number of machines drain N partitions in parallel. A drain
keeps looking for rows until it has been idle for a moment, and hands over to a fresh task after
`max_seconds` so other tasks on its queue get their turn. A lease its worker stopped renewing (the
worker died) is taken over once it runs out; a kick lost with the broker is covered by the sweeps.

In-process mode (`core.enqueue.is_eager()`: no broker) a kick runs the drain right here, after the
caller's commit, and the drain does not wait for more rows.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, models, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from core.enqueue import is_eager, kick, kick_flag_key

logger = logging.getLogger(__name__)

# "A drain of this partition is queued or running": later kicks publish nothing. A running drain
# refreshes it every step; if the kick's message was lost it expires and kicks resume.
FLAG_SECONDS = 10.0
# A drain with nothing to do polls this often until it has been idle for its `idle_seconds`.
POLL_SECONDS = 0.02


@dataclass(frozen=True, slots=True, kw_only=True)
class Drain:
    name: str
    task_name: str  # takes the partition as its one argument (None: every partition in turn)
    # The lease table: unique (drain, partition), holder, lease_until. It lives in the app of the
    # queue it guards, so a drain's rows and its leases are in one database.
    leases: type[models.Model]
    idle_seconds: float  # keep looking this long for new rows before ending
    max_seconds: float  # then hand over to a fresh task
    lease_setting: str = "DRAIN_LEASE_SECONDS"  # the setting that says how long a lease lasts unrenewed
    background: bool = False  # publish kicks from a thread: a request never waits for the broker

    def key(self, partition: int) -> str:
        return f"drain:{self.name}:{partition}"

    @property
    def lease_seconds(self) -> float:
        return float(getattr(settings, self.lease_setting))


def partition_count() -> int:
    return int(settings.DRAIN_PARTITIONS)


def partition_of(key: int | None) -> int:
    """The partition of a row whose order matters per `key` (an integration, a service)."""
    return (key or 0) % partition_count()


def partitions_rehome(rows: QuerySet) -> int:
    """Give rows queued under a larger DRAIN_PARTITIONS a partition that is drained (the sweeps)."""
    count = partition_count()
    return rows.filter(partition__gte=count).update(partition=F("partition") % count)


class LeaseLost(Exception):
    """Another worker took the partition over (this one was stalled past its lease)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    drain: Drain
    partition: int
    holder: str

    def _rows(self) -> QuerySet:
        return self.drain.leases._default_manager.filter(
            drain=self.drain.name, partition=self.partition, holder=self.holder
        )

    def renew(self) -> bool:
        until = timezone.now() + timedelta(seconds=self.drain.lease_seconds)
        return bool(self._rows().update(lease_until=until))

    def hold(self) -> None:
        """Renew inside the caller's transaction: the lease row stays locked until it commits, so
        nobody takes the partition over while this step is written. Raises LeaseLost."""
        if not self.renew():
            raise LeaseLost(f"{self.drain.name} partition {self.partition} was taken over")


def lease_take(drain: Drain, partition: int) -> Lease | None:
    """The partition's lease if it is free or ran out (conditional UPDATE), else None."""
    now = timezone.now()
    holder = f"{socket.gethostname()[:120]}:{os.getpid()}:{secrets.token_hex(4)}"
    manager = drain.leases._default_manager
    rows = manager.filter(drain=drain.name, partition=partition)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    values = {"holder": holder, "lease_until": now + timedelta(seconds=drain.lease_seconds)}
    if not rows.filter(free).update(**values):
        if rows.exists():
            return None
        manager.bulk_create([drain.leases(drain=drain.name, partition=partition)], ignore_conflicts=True)
        if not rows.filter(free).update(**values):
            return None
    return Lease(drain=drain, partition=partition, holder=holder)


def _lease_release(lease: Lease) -> None:
    try:
        lease._rows().update(holder="", lease_until=None)
    except DatabaseError:  # the database is away: the lease runs out by itself
        logger.warning("could not release the %s lease of partition %s", lease.drain.name, lease.partition,
                       exc_info=True)


def drain_kick(drain: Drain, partition: int, *, force: bool = False) -> None:
    """Ask a worker to drain `partition` (after the caller's rows are committed). Never raises."""
    kick(drain.key(partition), drain.task_name, partition, flag_seconds=FLAG_SECONDS, force=force,
         background=drain.background)


def drain_kick_on_commit(drain: Drain, partitions: Iterable[int]) -> None:
    """Kick the partitions once the current transaction commits (at once outside one)."""
    wanted = sorted(set(partitions))

    def kicks() -> None:
        for partition in wanted:
            drain_kick(drain, partition)

    if wanted:
        transaction.on_commit(kicks)


def drain_run(drain: Drain, partition: int, step: Callable[[Lease], int], *, pending: Callable[[], bool],
              pending_elsewhere: Callable[[], bool] | None = None, on_finish: Callable[[], object] | None = None,
              idle_seconds: float | None = None, max_seconds: float | None = None) -> int:
    """Run `step` (returns the rows it took; 0 when the partition was empty) until idle, then
    `on_finish` (still holding the partition). `pending` says whether the partition has rows,
    `pending_elsewhere` whether other partitions do: then an empty partition ends the drain at
    once instead of waiting for its rows, so the worker takes another partition's queued drain.

    Returns the rows taken, or -1 when another worker holds the partition (it will see our rows).
    """
    eager = is_eager()
    if idle_seconds is None:
        idle_seconds = 0.0 if eager else drain.idle_seconds
    lease = lease_take(drain, partition)
    if lease is None:
        return -1
    try:
        taken, handed_over = _loop(lease, step, idle_seconds, drain.max_seconds if max_seconds is None else max_seconds,
                                   flag=not eager, elsewhere=pending_elsewhere)
    finally:
        try:
            if on_finish is not None:
                on_finish()
        finally:
            _lease_release(lease)
            if not eager:
                _unflag(drain, partition)
    # Rows committed after our last look whose kick saw our flag: ask for another drain.
    if handed_over or (not eager and pending()):
        drain_kick(drain, partition, force=True)
    return taken


def drain_partitions(run: Callable[[int], int], partition: int | None) -> int:
    """`run(partition)`, or every partition in turn when None (direct calls, messages of earlier
    versions): the rows taken, -1 when every partition asked for was held by another worker."""
    if partition is not None:
        return run(partition)
    results = [run(p) for p in range(partition_count())]
    if all(r < 0 for r in results):
        return -1
    return sum(r for r in results if r > 0)


def _loop(lease: Lease, step: Callable[[Lease], int], idle_seconds: float, max_seconds: float, *,
          flag: bool, elsewhere: Callable[[], bool] | None) -> tuple[int, bool]:
    taken = 0
    started = last_work = renewed = time.monotonic()
    while True:
        if flag:
            _flag(lease.drain, lease.partition)
        if time.monotonic() - renewed >= lease.drain.lease_seconds / 3:
            if not lease.renew():
                return taken, False  # taken over: the new holder drains what is left
            renewed = time.monotonic()
        try:
            n = step(lease)
        except LeaseLost:
            return taken, False
        now = time.monotonic()
        if n:
            taken += n
            last_work = now
            if now - started > max_seconds:
                return taken, True
            continue
        if now - last_work >= idle_seconds or (elsewhere is not None and elsewhere()):
            return taken, False
        time.sleep(POLL_SECONDS)


def _flag(drain: Drain, partition: int) -> None:
    try:
        cache.set(kick_flag_key(drain.key(partition)), 1, timeout=FLAG_SECONDS)
    except Exception:  # noqa: BLE001  kicks then publish a few redundant drains, which find the lease held
        logger.warning("could not flag the %s drain of partition %s as running", drain.name, partition, exc_info=True)


def _unflag(drain: Drain, partition: int) -> None:
    try:
        cache.delete(kick_flag_key(drain.key(partition)))
    except Exception:  # noqa: BLE001  the flag expires by itself
        logger.warning("could not clear the %s drain flag of partition %s", drain.name, partition, exc_info=True)
