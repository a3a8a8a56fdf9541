"""The Celery application: queues, routes, limits and delivery guarantees in one place."""
from __future__ import annotations

import os

from celery import Celery
from kombu import Queue
from kombu.transport import redis as kombu_redis

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiops.settings")

app = Celery("aiops")
# Broker, backend, eager mode and the beat schedule come from Django settings (CELERY_*),
# which read the environment, so one place decides laptop vs production behaviour.
app.config_from_object("django.conf:settings", namespace="CELERY")

# One queue per kind of work so that a flood of one never starves another:
# an alert storm on `ingest` must not delay a page on `notify`, and a long
# training run must not hold up detection.
QUEUES = ("ingest", "detect", "notify", "training", "default")
app.conf.task_queues = tuple(Queue(name) for name in QUEUES)
app.conf.task_default_queue = "default"

# The one routing table. Keys are task-name globs; each app names its tasks
# `<app>.<what>` so a route follows the app, not a list of every task.
app.conf.task_routes = {
    # A critical alert's intake row jumps the storm on the queue pages use (monitoring/services/intake/priority.py).
    "monitoring.priority_alert_intake": {"queue": "notify"},
    "monitoring.ingest_*": {"queue": "ingest"},
    "monitoring.process_*": {"queue": "ingest"},
    "monitoring.detect_*": {"queue": "detect"},
    "monitoring.*": {"queue": "default"},
    "incidents.notify_*": {"queue": "notify"},
    "incidents.deliver_*": {"queue": "notify"},
    "incidents.escalate_*": {"queue": "notify"},
    # The sweep that runs due escalations and re-sends lost deliveries must not depend on the
    # notify worker it stands in for (issue #15): `incidents.*` puts it on `default`.
    "incidents.*": {"queue": "default"},
    "models_registry.train_*": {"queue": "training"},
    # Batch scoring is CPU-bound and runs for minutes on a big file: the training workers' kind of work.
    "models_registry.batch_score": {"queue": "training"},
    "models_registry.*": {"queue": "default"},
    "aiops.*": {"queue": "default"},
    "core.*": {"queue": "default"},
}

# Acknowledge after the task has run, so a worker that dies mid-task hands the
# message to another worker; our tasks are idempotent (they claim rows) so a
# redelivery is safe.
app.conf.task_acks_late = True
# ...and a task whose worker process was killed (OOM, SIGKILL) is requeued too.
app.conf.task_reject_on_worker_lost = True
# Take one message at a time: tasks vary from milliseconds (a page) to minutes
# (training), and prefetching would park short tasks behind long ones.
app.conf.worker_prefetch_multiplier = 1
# Soft limit raises inside the task so it can record a FAILED state; the hard
# limit kills a task that ignores it. Training overrides these per task.
app.conf.task_soft_time_limit = 120
app.conf.task_time_limit = 180
# Results are only used by tests and the health check; do not keep them forever.
app.conf.result_expires = 3600
# JSON only: never unpickle what came off the network.
app.conf.task_serializer = "json"
app.conf.result_serializer = "json"
app.conf.accept_content = ["json"]
app.conf.broker_connection_retry_on_startup = True
# Keep retrying the broker for good (the default gives up after 100 tries, about 5 min of outage):
# a worker that exits because Redis was down for a while pages nobody.
app.conf.broker_connection_max_retries = None


def _restore_unacked_tolerating_a_closed_transport(qos, client=None):
    """Skip the client-side restore when the connection's transport was already torn down.

    celery 5.7.0's consumer, on losing the broker, calls `connection.collect()` (which detaches the
    transport from its connection) and then `connection.close()`, which closes the default channel
    again; a channel that still holds unacknowledged messages (our acks_late tasks, countdowns) then
    tries to build a Redis pool from the detached transport and raises AttributeError("'NoneType'
    object has no attribute 'hostname'"), which the worker treats as unrecoverable and exits
    (issue #15, item 2; celery 5.6 never closed twice). Nothing can be restored through a dead
    connection anyway: the messages stay in Redis' unacked index and come back after the visibility
    timeout, or were lost with a non-persistent Redis, which the database sweep covers
    (incidents.sweep_response).
    """
    transport = getattr(qos.channel, "connection", None)
    if transport is None or getattr(transport, "client", None) is None:
        qos._delivered.clear()
        return None
    return _kombu_restore_unacked(qos, client)


_kombu_restore_unacked = kombu_redis.QoS.restore_unacked
# A patch of kombu's class (celery 5.7.0's double close, above): mypy forbids assigning to a method.
kombu_redis.QoS.restore_unacked = _restore_unacked_tolerating_a_closed_transport  # type: ignore[method-assign]

app.autodiscover_tasks()
