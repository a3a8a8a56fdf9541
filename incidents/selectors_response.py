"""Reads for the response side: a person's in-app notifications, an incident's playbook run and deliveries."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Prefetch, QuerySet

from .choices import DeliveryStatus
from .models import ChannelEndpoint, Delivery, PlaybookRun, PlaybookStepRun, UserNotification


def user_notification_list(*, user, unread_only: bool = False) -> QuerySet[UserNotification]:
    notes = UserNotification.objects.filter(user=user)
    return notes.filter(read_at__isnull=True) if unread_only else notes


def user_unread_count(*, user) -> int:
    return UserNotification.objects.filter(user=user, read_at__isnull=True).count()


def playbook_run_get(*, incident_id: int) -> PlaybookRun | None:
    steps = PlaybookStepRun.objects.select_related("done_by").order_by("position", "id")
    return (PlaybookRun.objects.prefetch_related(Prefetch("steps", queryset=steps))
            .filter(incident_id=incident_id).first())


def incident_delivery_list(*, incident_id: int) -> QuerySet[Delivery]:
    return Delivery.objects.filter(incident_id=incident_id).select_related("recipient", "endpoint").order_by("created_at", "id")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryStats:
    sent: int
    failed: int
    pending: int
    unhealthy_endpoints: int


def delivery_stats(*, since: datetime) -> DeliveryStats:
    """Notifications since `since` by outcome, and endpoints marked unhealthy (for the home page)."""
    counts = dict(Delivery.objects.filter(created_at__gte=since).order_by().values_list("status")
                  .annotate(n=Count("id")))
    return DeliveryStats(
        sent=counts.get(DeliveryStatus.SENT, 0), failed=counts.get(DeliveryStatus.FAILED, 0),
        pending=counts.get(DeliveryStatus.PENDING, 0) + counts.get(DeliveryStatus.SENDING, 0),
        unhealthy_endpoints=ChannelEndpoint.objects.filter(enabled=True, healthy=False).count(),
    )
