"""Counting refused or failed prediction requests per model and day (the operational monitor's error rate)."""
from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from core.exceptions import DomainError

from ..models import RegisteredModel, ServingErrorCount

F_ = TypeVar("F_", bound=Callable[..., Any])


def serving_error_record(*, model: RegisteredModel, code: str, day: date | None = None) -> None:
    """Add one failed request to today's counter (an UPDATE; the first of the day INSERTs)."""
    day = day or timezone.localdate()
    if ServingErrorCount.objects.filter(model=model, day=day, code=code).update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            ServingErrorCount.objects.create(model=model, day=day, code=code, count=1)
    except IntegrityError:  # another request created today's row first
        ServingErrorCount.objects.filter(model=model, day=day, code=code).update(count=F("count") + 1)


def serving_errors_count(*, model: RegisteredModel, period_start: datetime, period_end: datetime) -> int:
    """Failed requests in the days the period covers (day granularity: monitors run per day or month)."""
    start = timezone.localtime(period_start)
    end = timezone.localtime(period_end)
    # Every day the period touches: a period ending at midnight stops the day before.
    last = end.date() if end.time() != time.min else end.date() - timedelta(days=1)
    total = (
        ServingErrorCount.objects.filter(model=model, day__gte=start.date(), day__lte=max(last, start.date()))
        .aggregate(total=Sum("count"))["total"]
    )
    return int(total or 0)


def serving_errors_counted(func: F_) -> F_:
    """Decorator for a serving service taking `model=`: a domain error (bad records, no champion, a
    tampered artifact) is counted against the model, then re-raised unchanged."""

    @functools.wraps(func)
    def wrapper(*args: Any, model: RegisteredModel, **kwargs: Any) -> Any:
        try:
            return func(*args, model=model, **kwargs)
        except DomainError as exc:
            serving_error_record(model=model, code=exc.code)
            raise

    return wrapper  # type: ignore[return-value]
