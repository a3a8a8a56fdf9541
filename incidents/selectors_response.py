"""Reads for the response side: a person's in-app notifications, an incident's playbook run and deliveries."""
from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from .models import Delivery, PlaybookRun, PlaybookStepRun, UserNotification


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
