"""The Celery application: queues, routes, limits and delivery guarantees in one place."""
from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

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
    "monitoring.ingest_*": {"queue": "ingest"},
    "monitoring.process_*": {"queue": "ingest"},
    "monitoring.detect_*": {"queue": "detect"},
    "monitoring.*": {"queue": "default"},
    "incidents.notify_*": {"queue": "notify"},
    "incidents.deliver_*": {"queue": "notify"},
    "incidents.escalate_*": {"queue": "notify"},
    "incidents.*": {"queue": "default"},
    "models_registry.train_*": {"queue": "training"},
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

app.autodiscover_tasks()
