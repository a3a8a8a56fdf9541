"""Sending deliveries: claim a row, hand it to its channel, record the outcome; the sweep resends lost ones.

`notifications` decides who is told what and stores one row per person and channel; this module
makes each row go out exactly once (the conditional-update claim) and repairs what a dead worker or
a lost broker message left behind.
"""
from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from core.enqueue import enqueue
from incidents import events
from incidents.choices import ChannelKind, DeliveryStatus
from incidents.models import ChannelEndpoint, Delivery
from incidents.notifications.base import TransportError
from incidents.notifications.registry import get_channel

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # 1 try + 4 retries over ~30 s of backoff: rides out a receiver restart, still timely for a page
RETRY_BASE_SECONDS = 2.0  # doubled per attempt (2, 4, 8, 16 s) with jitter so retries of a storm spread out
RETRY_MAX_SECONDS = 60.0
STALE_SENDING = timedelta(minutes=5)  # rows claimed before leases existed (lease_until NULL): > task_time_limit
SWEEP_SEND_LIMIT = 50  # deliveries the sweep sends itself per run, so one sweep cannot run for minutes


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryOutcome:
    status: str  # "sent" | "failed" | "retry" | "skipped"
    retry_in: float | None = None
    error: str = ""


def retry_delay(attempts: int) -> float:
    base = min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS)
    return round(base * random.uniform(0.8, 1.2), 2)


def delivery_lease(delivery: Delivery) -> timedelta:
    """How long a claim lasts: the channel's own timeout (its send cannot take longer) plus a margin.

    Past it the sender is presumed dead and the sweep sends again; the margin keeps a slow but
    living sender from being overtaken (which would page twice).
    """
    if delivery.endpoint_id is not None and delivery.endpoint is not None:
        timeout = delivery.endpoint.timeout_seconds
    elif delivery.channel == ChannelKind.EMAIL:
        timeout = settings.EMAIL_TIMEOUT
    else:
        timeout = 0.0  # in-app: a row insert
    return timedelta(seconds=timeout + settings.NOTIFY_LEASE_MARGIN_SECONDS)


def delivery_claim(*, delivery_id: int, now: datetime | None = None, lease: timedelta | None = None) -> bool:
    """The conditional update that makes one worker the sender: 1 row updated for the winner, 0 for the rest."""
    now = now or timezone.now()
    lease = lease if lease is not None else timedelta(seconds=settings.NOTIFY_LEASE_MARGIN_SECONDS)
    claimed = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENDING, claimed_at=now, lease_until=now + lease, attempts=F("attempts") + 1,
        next_attempt_at=None,
    )
    if claimed:
        Delivery.objects.filter(pk=delivery_id, first_claimed_at__isnull=True).update(first_claimed_at=now)
    return claimed == 1


def delivery_send(*, delivery_id: int) -> DeliveryOutcome:
    """Claim, hand to the channel, record: sent; pending again with a retry time; or failed."""
    delivery = Delivery.objects.select_related("endpoint", "recipient").filter(pk=delivery_id).first()
    if delivery is None or not delivery_claim(delivery_id=delivery_id, lease=delivery_lease(delivery)):
        return DeliveryOutcome(status="skipped")
    delivery.refresh_from_db(fields=["status", "attempts", "claimed_at", "lease_until"])
    if delivery.endpoint is not None and not delivery.endpoint.enabled:
        return _delivery_fail(delivery, "endpoint disabled", permanent=False)
    try:
        get_channel(delivery.channel).send(delivery)
    except TransportError as exc:
        if exc.permanent or delivery.attempts >= MAX_ATTEMPTS:
            return _delivery_fail(delivery, exc.message, permanent=exc.permanent)
        delay = retry_delay(delivery.attempts)
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.PENDING, last_error=exc.message[:2000], lease_until=None,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
        )
        return DeliveryOutcome(status="retry", retry_in=delay, error=exc.message)
    except Exception as exc:  # a bug in a channel must not leave the row SENDING forever
        log.exception("channel %s crashed on delivery %s", delivery.channel, delivery.pk)
        return _delivery_fail(delivery, f"{type(exc).__name__}: {exc}", permanent=True)
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.SENT, sent_at=timezone.now(), last_error="")
    if delivery.incident_id:
        events.notification_sent(
            incident=delivery.incident_id, channel=delivery.get_channel_display(),
            recipient=_recipient_name(delivery), detail=delivery.get_kind_display().lower(),
            data={"delivery_id": delivery.pk, "kind": delivery.kind, "level": delivery.level, "step": delivery.step},
        )
    if delivery.endpoint is not None and not delivery.endpoint.healthy:
        ChannelEndpoint.objects.filter(pk=delivery.endpoint.pk).update(healthy=True, unhealthy_since=None)
    return DeliveryOutcome(status="sent")


def _recipient_name(delivery: Delivery) -> str:
    if delivery.recipient_id:
        return delivery.recipient.get_username() if delivery.recipient else f"user {delivery.recipient_id}"
    return delivery.endpoint.name if delivery.endpoint else delivery.address


def _delivery_fail(delivery: Delivery, error: str, *, permanent: bool) -> DeliveryOutcome:
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, failed_at=now, last_error=error[:2000])
    if permanent and delivery.endpoint_id:
        ChannelEndpoint.objects.filter(pk=delivery.endpoint_id).update(
            healthy=False, last_error=error[:2000], unhealthy_since=now
        )
    log.warning("delivery %s failed (%s): %s", delivery.pk, "permanent" if permanent else "gave up", error)
    return DeliveryOutcome(status="failed", error=error)


def deliveries_reclaim(*, now: datetime | None = None) -> int:
    """SENDING rows whose lease ran out lost their worker: make them PENDING again (the claim resends once)."""
    now = now or timezone.now()
    expired = Q(lease_until__lt=now) | Q(lease_until__isnull=True, claimed_at__lt=now - STALE_SENDING)
    return Delivery.objects.filter(expired, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.PENDING, lease_until=None, next_attempt_at=None,
        last_error="worker lost during hand-over (lease expired); sent again",
    )


def deliveries_sweep(*, now: datetime | None = None) -> int:
    """Beat: send deliveries no worker is sending (lease expired, message lost, notify worker down).

    The sweep sends them itself rather than re-enqueueing on `notify`, so pages go out even while
    the notify worker is down; delivery_send's claim keeps it from racing a worker into a second page.
    """
    now = now or timezone.now()
    deliveries_reclaim(now=now)
    grace = now - timedelta(seconds=settings.NOTIFY_PENDING_GRACE_SECONDS)
    stale = Q(next_attempt_at__lt=grace) | Q(next_attempt_at__isnull=True, created_at__lt=grace)
    stale |= Q(next_attempt_at__isnull=True, claimed_at__isnull=False)  # reclaimed: was due long ago
    ids = list(Delivery.objects.filter(stale, status=DeliveryStatus.PENDING).order_by("pk")
               .values_list("pk", flat=True)[:SWEEP_SEND_LIMIT])
    return sum(delivery_send(delivery_id=delivery_id).status == "sent" for delivery_id in ids)


def deliveries_requeue_failed(*, ids: Sequence[int]) -> int:
    """An admin fixed an endpoint: send these failed deliveries again (the key still prevents duplicates)."""
    requeue = list(Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.FAILED).values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=requeue).update(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=None)
    for delivery_id in requeue:
        enqueue("incidents.deliver_notification", delivery_id)
    return len(requeue)
