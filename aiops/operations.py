"""Watching the service itself: work queues, /metrics, the self-check and the dead man's switch.

`work_queues` reads every queue the pipeline drains (database rows: they are the truth; the broker
only carries kicks); `metrics_render` turns those and the counters into Prometheus text;
`pipeline_self_check` raises an incident on the `SELF_CHECK_SERVICE` when a queue stops draining
(and resolves it when it drains again); `heartbeat_send` pings `HEARTBEAT_URL` only while the
self-check finds the pipeline healthy, so the external switch fires when we stop, or stall.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.core.cache import cache
from django.db.models import Avg, Count, F, Min
from django.utils import timezone

from core.metrics import intake_counts
from core.models import Service
from core.services import service_get_or_create, team_get_or_create
from incidents import services as incident_services
from incidents.choices import (
    OPEN_INCIDENT_STATUSES,
    DeliveryStatus,
    EscalationStatus,
    SignalStatus,
    SourceKind,
    TimelineKind,
)
from incidents.contracts import SignalIn
from incidents.models import Delivery, Escalation, Incident, TimelineEvent
from monitoring.choices import AlertIntakeStatus, BatchStatus
from monitoring.models import AlertIntake, DetectQueue, TelemetryBatch

logger = logging.getLogger(__name__)

HEARTBEAT_CACHE_KEY = "aiops:heartbeat"
HEARTBEAT_SENT_KEY = "aiops:heartbeat:sent"
# Drain lag is averaged over what finished this recently: long enough to smooth, short enough to react.
LAG_WINDOW = timedelta(minutes=5)
HEARTBEAT_TIMEOUT_SECONDS = 5.0  # a slow switch must not hold up the beat worker


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkQueue:
    name: str
    depth: int  # items waiting or in hand
    oldest_seconds: float  # age of the oldest of them (0 when empty)


def _age(now: datetime, oldest: datetime | None) -> float:
    return max((now - oldest).total_seconds(), 0.0) if oldest else 0.0


def work_queues(*, now: datetime | None = None) -> list[WorkQueue]:
    """Every queue the pipeline drains, from its table: alert intake, telemetry, detection,
    deliveries and due escalations."""
    now = now or timezone.now()
    rows = []
    intake = AlertIntake.objects.filter(status__in=[AlertIntakeStatus.QUEUED, AlertIntakeStatus.PROCESSING])
    agg = intake.aggregate(n=Count("id"), oldest=Min("received_at"))
    rows.append(WorkQueue(name="alert_intake", depth=agg["n"], oldest_seconds=_age(now, agg["oldest"])))
    batches = TelemetryBatch.objects.filter(status__in=[BatchStatus.QUEUED, BatchStatus.PROCESSING])
    agg = batches.aggregate(n=Count("id"), oldest=Min("received_at"))
    rows.append(WorkQueue(name="telemetry", depth=agg["n"], oldest_seconds=_age(now, agg["oldest"])))
    agg = DetectQueue.objects.aggregate(n=Count("id"), oldest=Min("last_ts"))
    oldest_ts = agg["oldest"]
    rows.append(WorkQueue(name="detect", depth=agg["n"],
                          oldest_seconds=max(now.timestamp() - oldest_ts, 0.0) if oldest_ts is not None else 0.0))
    pending = Delivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING])
    # A retry waiting for its backoff is not late: age from when it became due.
    due = pending.filter(next_attempt_at__isnull=True) | pending.filter(next_attempt_at__lte=now)
    agg = pending.aggregate(n=Count("id"))
    oldest = due.aggregate(oldest=Min("created_at"))["oldest"]
    rows.append(WorkQueue(name="deliveries", depth=agg["n"], oldest_seconds=_age(now, oldest)))
    overdue = Escalation.objects.filter(status=EscalationStatus.ACTIVE, next_at__lte=now)
    agg = overdue.aggregate(n=Count("id"), oldest=Min("next_at"))
    rows.append(WorkQueue(name="escalations", depth=agg["n"], oldest_seconds=_age(now, agg["oldest"])))
    return rows


def _broker_depths() -> dict[str, int]:
    if not settings.REDIS_URL:
        return {}
    import redis

    from aiops.celery import QUEUES

    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
        with client.pipeline() as pipe:
            for queue in QUEUES:
                pipe.llen(queue)
            return dict(zip(QUEUES, pipe.execute(), strict=True))
    except Exception:  # noqa: BLE001  a broker that is down shows as absent depths and aiops_up{broker}
        logger.warning("could not read the broker's queue lengths", exc_info=True)
        return {}


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Text:
    """Prometheus text exposition format 0.0.4: HELP and TYPE once per family, then its samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, object], float]]):
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            label_text = ",".join(f'{key}="{_escape(val)}"' for key, val in labels.items())
            self.lines.append(f"{name}{{{label_text}}} {float(value):g}" if label_text else f"{name} {float(value):g}")

    def render(self) -> str:
        return "\n".join(self.lines) + "\n"


def metrics_render(*, now: datetime | None = None) -> str:
    """Everything /metrics shows, read at scrape time (a handful of aggregate queries)."""
    now = now or timezone.now()
    out = _Text()
    counts = intake_counts()
    out.family("aiops_intake_requests_total", "counter",
               "Intake requests answered, by kind and outcome (accepted = 2xx, rejected = 4xx, unavailable = 503).",
               [({"kind": kind, "outcome": outcome}, n) for (kind, outcome), n in sorted(counts.items())])
    stored = (AlertIntake.objects.order_by().values_list("kind", "status").annotate(n=Count("id")))
    out.family("aiops_alert_intake_rows", "gauge", "Stored alert intake rows by kind and status.",
               [({"kind": kind, "status": status}, n) for kind, status, n in stored])
    queues = work_queues(now=now)
    out.family("aiops_queue_depth", "gauge", "Items waiting or in hand per work queue.",
               [({"queue": q.name}, q.depth) for q in queues])
    out.family("aiops_queue_oldest_age_seconds", "gauge", "Age of the oldest item per work queue (0 when empty).",
               [({"queue": q.name}, q.oldest_seconds) for q in queues])
    out.family("aiops_broker_queue_messages", "gauge", "Messages waiting in each broker (Celery) queue.",
               [({"queue": queue}, n) for queue, n in _broker_depths().items()])
    since = now - LAG_WINDOW
    intake_lag = (AlertIntake.objects.filter(processed_at__gte=since, status=AlertIntakeStatus.PROCESSED)
                  .aggregate(lag=Avg(F("processed_at") - F("received_at")))["lag"])
    batch_lag = (TelemetryBatch.objects.filter(processed_at__gte=since, status=BatchStatus.STORED)
                 .aggregate(lag=Avg(F("processed_at") - F("received_at")))["lag"])
    out.family("aiops_drain_lag_seconds", "gauge",
               "Mean received -> processed time of what the drains finished in the last 5 minutes.",
               [({"queue": "alert_intake"}, _seconds(intake_lag)), ({"queue": "telemetry"}, _seconds(batch_lag))])
    detect = next(q for q in queues if q.name == "detect")
    out.family("aiops_detection_lag_seconds", "gauge",
               "How far detection is behind: now minus the newest point of the longest-waiting series.",
               [({}, detect.oldest_seconds)])
    deliveries = Delivery.objects.order_by().values_list("channel", "status").annotate(n=Count("id"))
    out.family("aiops_deliveries", "gauge", "Notification deliveries by channel and status.",
               [({"channel": channel, "status": status}, n) for channel, status, n in deliveries])
    out.family("aiops_escalations_fired_total", "counter", "Escalation steps that notified someone.",
               [({}, TimelineEvent.objects.filter(kind=TimelineKind.ESCALATED).count())])
    open_counts = dict(Incident.objects.filter(status__in=OPEN_INCIDENT_STATUSES, is_drill=False).order_by()
                       .values_list("severity").annotate(n=Count("id")).values_list("severity", "n"))
    out.family("aiops_open_incidents", "gauge", "Open incidents by level (drills excluded).",
               [({"level": level}, open_counts.get(level, 0)) for level in (1, 2, 3, 4)])
    out.family("aiops_open_drills", "gauge", "Open drill incidents.",
               [({}, Incident.objects.filter(status__in=OPEN_INCIDENT_STATUSES, is_drill=True).count())])
    beat = cache.get(HEARTBEAT_CACHE_KEY)
    beat_age = (now - datetime.fromisoformat(beat)).total_seconds() if beat else -1
    out.family("aiops_heartbeat_age_seconds", "gauge", "Seconds since beat and a worker last ran the heartbeat "
               "(-1: never).", [({}, beat_age)])
    return out.render()


def _seconds(value: timedelta | float | None) -> float:
    if value is None:
        return 0.0
    return value.total_seconds() if isinstance(value, timedelta) else float(value) / 1e6  # SQLite: microseconds


@dataclass(frozen=True, slots=True, kw_only=True)
class SelfCheck:
    stalled: tuple[str, ...]  # queues whose oldest item waited longer than SELF_CHECK_STALL_SECONDS
    queues: tuple[WorkQueue, ...]

    @property
    def healthy(self) -> bool:
        return not self.stalled


def _self_check_service() -> Service:
    existing = Service.objects.filter(name=settings.SELF_CHECK_SERVICE).first()
    if existing is not None:
        return existing
    team = team_get_or_create(name=settings.SELF_CHECK_TEAM)
    return service_get_or_create(name=settings.SELF_CHECK_SERVICE, team=team, tier=1)


def _stalled(queues: Iterable[WorkQueue]) -> tuple[str, ...]:
    return tuple(q.name for q in queues if q.depth and q.oldest_seconds > settings.SELF_CHECK_STALL_SECONDS)


def pipeline_self_check(*, now: datetime | None = None) -> SelfCheck:
    """Beat: an incident per queue that stopped draining (critical: nothing else would page about
    it), resolved once it drains again. Signals go straight to the incident core, not through the
    intake queue that may be the one stalled."""
    now = now or timezone.now()
    queues = tuple(work_queues(now=now))
    limit = settings.SELF_CHECK_STALL_SECONDS
    stalled = _stalled(queues)
    previous = set(cache.get("aiops:self-check:stalled") or [])
    service = _self_check_service() if stalled or previous else None
    for queue in queues:
        if queue.name in stalled:
            status = SignalStatus.FIRING
        elif queue.name in previous:
            status = SignalStatus.RESOLVED
        else:
            continue
        assert service is not None
        incident_services.signal_ingest(signal=SignalIn(
            source_kind=SourceKind.GENERIC, source_name="aiops self-check", service=service.name,
            title=f"AIOps queue {queue.name} is not draining",
            description=(f"{queue.depth} items waiting, the oldest for {queue.oldest_seconds:.0f} s "
                         f"(limit {limit:.0f} s): check the workers of this queue and the broker."),
            fingerprint=f"aiops-self-check-{queue.name}", labels={"queue": queue.name, "check": "self"},
            severity_hint="critical", status=status, occurred_at=now,
        ))
    cache.set("aiops:self-check:stalled", list(stalled), timeout=None)
    if stalled:
        logger.error("self-check: queues not draining: %s", ", ".join(stalled))
    return SelfCheck(stalled=stalled, queues=queues)


def heartbeat_send(*, now: datetime | None = None) -> bool:
    """Beat: record the heartbeat, and ping the dead man's switch only if the pipeline is healthy.

    Returns whether the switch was pinged. Its failure is logged: the switch alerts on silence.
    """
    now = now or timezone.now()
    cache.set(HEARTBEAT_CACHE_KEY, now.isoformat(), timeout=None)
    url = settings.HEARTBEAT_URL
    if not url:
        return False
    stalled = _stalled(work_queues(now=now))  # the self-check's own entry raises the incident
    if stalled:
        logger.error("heartbeat withheld: queues not draining: %s", ", ".join(stalled))
        return False
    try:
        response = requests.get(url, timeout=HEARTBEAT_TIMEOUT_SECONDS)
        response.raise_for_status()
    except requests.RequestException:
        logger.exception("heartbeat to the dead man's switch failed")
        return False
    cache.set(HEARTBEAT_SENT_KEY, now.isoformat(), timeout=None)
    return True
