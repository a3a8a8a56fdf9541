"""Duplicate alert requests (a sender's retries) counted in the cache, moved to the integration rows in bulk."""
from __future__ import annotations

import logging

from django.core.cache import cache

from core.models import Integration
from core.ratelimit import cache_add, counter_incr
from core.services import integration_record_receipt
from monitoring.choices import AlertIntakeKind

logger = logging.getLogger(__name__)

# Duplicate requests counted in the cache reach the integration row at most this often.
RECEIPT_FLUSH_SECONDS = 1


def _receipts_key(integration_id: int) -> str:
    return f"intake-receipts:{integration_id}"


def duplicate_count(*, integration_id: int) -> None:
    """Count a retried request (no row) in the cache; stored rows are counted when first claimed.

    Best effort: the count is what the admin shows, and the sender must get its answer.
    """
    try:
        key = _receipts_key(integration_id)
        counter_incr(key, timeout=None)
        if cache_add(f"{key}:flushed", 1, timeout=RECEIPT_FLUSH_SECONDS):
            integration_receipts_flush(integration_ids=[integration_id])
    except Exception:
        logger.warning("could not count a duplicate alert request of integration %s", integration_id, exc_info=True)


def integration_receipts_flush(*, integration_ids: list[int] | None = None) -> int:
    """Move duplicate requests counted in the cache to the integration rows; returns how many moved."""
    if integration_ids is None:
        integration_ids = list(
            Integration.objects.filter(kind__in=AlertIntakeKind.values).values_list("pk", flat=True)
        )
    moved = 0
    pending = cache.get_many([_receipts_key(pk) for pk in integration_ids])
    for pk in integration_ids:
        count = pending.get(_receipts_key(pk)) or 0
        if count > 0:
            # decr, not delete: receipts counted meanwhile stay for the next flush.
            cache.decr(_receipts_key(pk), count)
            integration_record_receipt(integration_id=pk, count=count)
            moved += count
    return moved

