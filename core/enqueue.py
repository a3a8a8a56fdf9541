"""The one way to hand work to a worker: by task name, after commit, debounced on request.

Services enqueue through here and never import a `tasks` module (tasks import services, so the
reverse would be a cycle). This is also the only module that knows tasks may run in-process:
with no broker (`CELERY_TASK_ALWAYS_EAGER`, the `make run` default) a task runs right here, after
the caller's commit, and a countdown is not waited for: the row that holds the due time (an
escalation timer, a queued intake row) is picked up by the periodic sweep instead.

Sending never raises into the caller: what we enqueue is already stored, so a broker that is down
costs a delay until the sweep of that kind of row runs, never the caller's commit.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction

from core.ratelimit import cache_add

logger = logging.getLogger(__name__)

# A process publishes at most one kick per key this often: a storm costs a few messages a second.
KICK_DEBOUNCE_SECONDS = 0.1


def is_eager() -> bool:
    """Tasks run in-process (no broker): the laptop default and most tests (read per call, so a
    test's settings override applies)."""
    return bool(settings.CELERY_TASK_ALWAYS_EAGER)


def send(task_name: str, *args: Any, countdown: float | None = None) -> bool:
    """Send `task_name(*args)` now (routed by name, aiops/celery.py). False if it could not be sent."""
    if is_eager():
        if countdown:
            return False  # nothing waits in-process: the due row's sweep runs it
        _task(task_name).apply(args=args)
        return True
    try:
        current_app.send_task(task_name, args=args, countdown=countdown)
    except Exception:  # noqa: BLE001  broker down: the work is stored, its sweep sends it later
        logger.exception("could not enqueue %s%s; its sweep will pick the work up", task_name, args)
        return False
    return True


def _task(task_name: str) -> Any:
    """The registered task `task_name`, importing the apps' `tasks` modules first if need be: a
    service enqueues by name without importing them, and only a worker imports them at start."""
    try:
        return current_app.tasks[task_name]
    except KeyError:  # celery's NotRegistered is a KeyError
        current_app.loader.import_default_modules()  # runs autodiscover_tasks (aiops/celery.py)
        return current_app.tasks[task_name]


def enqueue(task_name: str, *args: Any, countdown: float | None = None) -> None:
    """Send `task_name(*args)` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send(task_name, *args, countdown=countdown))


_kick_lock = threading.Lock()
_last_kick: dict[str, float] = {}


def kick(key: str, task_name: str, *args: Any, flag_seconds: float = 0.0, force: bool = False,
         background: bool = False) -> None:
    """Ask for `task_name(*args)` (a drain or sweep) at most every KICK_DEBOUNCE_SECONDS per process.

    With `flag_seconds`, a kick publishes only when no task of this `key` is flagged as queued or
    running in the cache (see `kick_flag`), so at most one waits in the queue. `background`
    publishes from a per-process thread, so a request never waits for the broker. `force` skips
    the debounce and the flag (a drain handing over to its successor). Never raises.
    """
    if is_eager():
        send(task_name, *args)  # in-process: run it here, after the caller's commit
        return
    if not force:
        now = time.monotonic()
        with _kick_lock:
            if now - _last_kick.get(key, 0.0) < KICK_DEBOUNCE_SECONDS:
                return
            _last_kick[key] = now
    publish = _Publish(key=key, task_name=task_name, args=args, flag_seconds=flag_seconds, force=force)
    if background:
        _publisher().request(publish)
    else:
        publish()


def kick_flag_key(key: str) -> str:
    return f"core:kick:{key}"


class _Publish:
    __slots__ = ("args", "flag_seconds", "force", "key", "task_name")

    def __init__(self, *, key: str, task_name: str, args: tuple[Any, ...], flag_seconds: float,
                 force: bool) -> None:
        self.key, self.task_name, self.args = key, task_name, args
        self.flag_seconds, self.force = flag_seconds, force

    def __call__(self) -> None:
        try:
            if not self.force and self.flag_seconds and not cache_add(
                kick_flag_key(self.key), 1, timeout=self.flag_seconds
            ):
                return  # one is queued or running already
        except Exception:  # noqa: BLE001  no cache: publish; a redundant drain finds nothing to do
            logger.warning("could not check the %s kick flag", self.key, exc_info=True)
        send(self.task_name, *self.args)


class _Publisher:
    """One daemon thread per process publishing the kicks requested meanwhile, coalesced by key.

    A kick requested at time t is published after t, which is all a drain's "keep looking for a
    moment" rule needs.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.wanted = threading.Event()
        self.pending: dict[str, Callable[[], None]] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self.run, name="core-enqueue-kicker", daemon=True).start()

    def request(self, publish: _Publish) -> None:
        with self.lock:
            queued = self.pending.get(publish.key)
            if queued is None or publish.force:
                self.pending[publish.key] = publish
        self.wanted.set()

    def run(self) -> None:
        while True:
            self.wanted.wait()
            self.wanted.clear()
            with self.lock:
                pending, self.pending = self.pending, {}
            for publish in pending.values():
                publish()


_publisher_instance: _Publisher | None = None


def _publisher() -> _Publisher:
    global _publisher_instance
    publisher = _publisher_instance
    if publisher is None or publisher.pid != os.getpid():  # first kick, or a forked child
        with _kick_lock:
            if _publisher_instance is None or _publisher_instance.pid != os.getpid():
                _publisher_instance = _Publisher()
            publisher = _publisher_instance
    return publisher
