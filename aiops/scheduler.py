"""The in-process scheduler: beat's table (aiops/beat.py) run by a thread when there is no broker.

With tasks in-process (`make run`, SQLite, no Redis) no `celery beat` runs, so escalation timers
(`incidents.sweep_response` runs due `Escalation.next_at` rows), the intake sweeps, pending-alert
promotion and the digests would never fire. `manage.py run` (`make run`) starts this thread in that mode
(`INPROCESS_SCHEDULER`), so what a user tries on a laptop behaves like production. With a broker it
never starts: beat does the job, exactly once.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery.schedules import BaseSchedule, schedule
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from core.enqueue import is_eager, send

logger = logging.getLogger(__name__)

# How often the thread looks at the table: the shortest entry (the sweeps) runs every few seconds.
TICK_SECONDS = 1.0


@dataclass(slots=True, kw_only=True)
class _Entry:
    name: str
    task: str
    schedule: BaseSchedule
    args: tuple[Any, ...]
    last_run_at: datetime


class InProcessScheduler:
    """Runs each beat entry when due (celery's own `is_due`, so crontabs mean what beat means)."""

    def __init__(self, table: Mapping[str, Mapping[str, Any]], *, now: datetime | None = None,
                 run: Callable[..., object] = send) -> None:
        start = now or timezone.now()
        self.run = run
        self.entries = []
        for name, spec in table.items():
            every = spec["schedule"]
            sched = schedule(run_every=every) if isinstance(every, timedelta) else every
            self.entries.append(_Entry(name=name, task=spec["task"], schedule=sched,
                                       args=tuple(spec.get("args", ())), last_run_at=start))
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None

    def tick(self, *, now: datetime | None = None) -> list[str]:
        """Run every due entry once; returns the names that ran. A failing task is logged, never raised."""
        now = now or timezone.now()
        ran = []
        for entry in self.entries:
            if not _due(entry, now):
                continue
            entry.last_run_at = now
            try:
                self.run(entry.task, *entry.args)
            except Exception:  # noqa: BLE001  one failing task must not stop the timers of the others
                logger.exception("in-process scheduler: %s failed", entry.name)
            ran.append(entry.name)
        return ran

    def start(self) -> threading.Thread:
        self.thread = threading.Thread(target=self._loop, name="aiops-inprocess-scheduler", daemon=True)
        self.thread.start()
        return self.thread

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            close_old_connections()  # this thread's connection, as a request's
            try:
                self.tick()
            finally:
                close_old_connections()


def _due(entry: _Entry, now: datetime) -> bool:
    sched = entry.schedule
    if isinstance(sched, schedule):  # an interval: compare with our own clock (tests pass `now`)
        return now - entry.last_run_at >= sched.run_every
    base, delta, _ = sched.remaining_delta(entry.last_run_at)  # a crontab: when its next run falls
    return base + delta <= now


_started: InProcessScheduler | None = None
_started_lock = threading.Lock()


def scheduler_start_if_needed() -> InProcessScheduler | None:
    """Start the thread once per process when tasks run in-process and the setting allows it."""
    global _started
    if not (is_eager() and settings.INPROCESS_SCHEDULER):
        return None
    with _started_lock:
        if _started is None:
            _started = InProcessScheduler(settings.CELERY_BEAT_SCHEDULE)
            _started.start()
            logger.info("in-process scheduler started: %s periodic tasks", len(_started.entries))
    return _started
