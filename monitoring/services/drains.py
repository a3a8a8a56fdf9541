"""Drains: one worker at a time works through a queue table; the producers only ask for one.

A producer (a request storing a telemetry batch, an ingest step queueing points for detection)
calls `drain_kick` after its commit. Kicks are debounced per process and publish a task only when
no drain of that kind is queued or running (a flag in the cache), so a busy intake costs a few
task messages a second, not one per request. A drain holds a database lock while it runs (one at
a time per database, which keeps the work in order), keeps looking for new rows until it has
been idle for a moment, and hands over to a fresh task after `max_seconds` so other tasks on its
queue get their turn. A kick lost with the broker is covered by the beat sweep.
"""
from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from core.ratelimit import cache_add
from monitoring import tasks

logger = logging.getLogger(__name__)

# A process publishes at most one kick per drain this often.
KICK_DEBOUNCE_SECONDS = 0.1
# "A drain is queued or running": later kicks publish nothing. A running drain refreshes it every
# step; if the kick's message was lost, it expires and kicks resume (the beat sweep also kicks).
FLAG_SECONDS = 10.0
# A drain with nothing to do polls this often until it has been idle for its `idle_seconds`.
POLL_SECONDS = 0.02
_LOCK_NAMESPACE = zlib.crc32(b"monitoring.drains") & 0x7FFFFFFF


@dataclass(frozen=True, slots=True, kw_only=True)
class Drain:
    name: str
    task: str  # name of the task in monitoring.tasks that runs the drain
    idle_seconds: float  # keep looking this long for new rows before ending
    max_seconds: float  # then hand over to a fresh task

    @property
    def flag_key(self) -> str:
        return f"monitoring:drain:{self.name}"

    @property
    def lock_key(self) -> int:
        return zlib.crc32(self.name.encode()) & 0x7FFFFFFF


INGEST = Drain(name="telemetry-ingest", task="ingest_telemetry", idle_seconds=0.5, max_seconds=5.0)
DETECT = Drain(name="telemetry-detect", task="detect_telemetry", idle_seconds=1.0, max_seconds=5.0)

_kick_lock = threading.Lock()
_last_kick: dict[str, float] = {}


def drain_kick(drain: Drain, *, force: bool = False) -> None:
    """Ask a worker to run `drain` (after the caller's rows are committed). Never raises."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        getattr(tasks, drain.task).delay()  # in-process tasks: drain right here
        return
    if not force:
        now = time.monotonic()
        with _kick_lock:
            if now - _last_kick.get(drain.name, 0.0) < KICK_DEBOUNCE_SECONDS:
                return
            _last_kick[drain.name] = now
    try:
        if force or cache_add(drain.flag_key, 1, timeout=FLAG_SECONDS):
            getattr(tasks, drain.task).delay()
    except Exception:  # noqa: BLE001
        logger.exception("could not ask for a %s drain; the sweep task asks again later", drain.name)


def drain_run(drain: Drain, step: Callable[[], int], *, pending: Callable[[], bool],
              on_finish: Callable[[], object] | None = None,
              idle_seconds: float | None = None, max_seconds: float | None = None) -> int:
    """Run `step` (returns how many rows it took; 0 when the queue was empty) until idle, then
    `on_finish` (still holding the drain).

    Returns the rows taken, or -1 when another worker holds the drain (it will see our rows).
    """
    eager = settings.CELERY_TASK_ALWAYS_EAGER
    idle_limit = 0.0 if eager else (drain.idle_seconds if idle_seconds is None else idle_seconds)
    max_seconds = drain.max_seconds if max_seconds is None else max_seconds
    with _drain_lock(drain) as held:
        if not held:
            return -1
        try:
            taken, handed_over = _loop(drain, step, idle_limit, max_seconds)
        finally:
            if on_finish is not None:
                on_finish()
        if not eager:
            _unflag(drain)
    # Rows committed after our last look but whose kick saw our flag: ask for another drain.
    if handed_over or (not eager and pending()):
        drain_kick(drain, force=True)
    return taken


def _loop(drain: Drain, step: Callable[[], int], idle_limit: float, max_seconds: float) -> tuple[int, bool]:
    taken = 0
    started = last_work = time.monotonic()
    while True:
        _flag(drain)
        n = step()
        now = time.monotonic()
        if n:
            taken += n
            last_work = now
            if now - started > max_seconds:
                return taken, True
            continue
        if now - last_work >= idle_limit:
            return taken, False
        time.sleep(POLL_SECONDS)


def _flag(drain: Drain) -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return
    try:
        cache.set(drain.flag_key, 1, timeout=FLAG_SECONDS)
    except Exception:  # noqa: BLE001  kicks then publish a few redundant tasks, which find the lock held
        logger.warning("could not flag the %s drain as running", drain.name, exc_info=True)


def _unflag(drain: Drain) -> None:
    try:
        cache.delete(drain.flag_key)
    except Exception:  # noqa: BLE001  the flag expires by itself
        logger.warning("could not clear the %s drain flag", drain.name, exc_info=True)


_local_locks: dict[str, threading.Lock] = {}


@contextmanager
def _drain_lock(drain: Drain) -> Iterator[bool]:
    """One drain of a kind at a time: a PostgreSQL session lock (freed if the worker dies)."""
    if connection.vendor != "postgresql":
        lock = _local_locks.setdefault(drain.name, threading.Lock())  # SQLite: one process anyway
        held = lock.acquire(blocking=False)
        try:
            yield held
        finally:
            if held:
                lock.release()
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, drain.lock_key])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, drain.lock_key])
            except Exception:  # noqa: BLE001  a broken connection has released it already
                logger.warning("could not release the %s drain lock", drain.name, exc_info=True)
