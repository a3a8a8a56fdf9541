"""Per-integration request limits: a fixed-window counter in the Django cache (Redis in production)."""
from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.exceptions import Throttled

from .models import Integration

# One minute matches how limits are configured (requests per minute) and how senders back off.
WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitResult:
    allowed: bool
    limit: int
    count: int
    retry_after: int  # seconds until the current window ends (0 when allowed)


def counter_incr(key: str, *, timeout: int | None) -> int:
    """Atomically add one to a cache counter (created at 1) and return it.

    On Redis this is one pipelined round trip (INCR + EXPIRE) instead of Django's exists/incr/add
    dance: the intake hot path counts every request twice (rate limit, receipts).
    """
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        client = backend._cache.get_client(full_key, write=True)
        pipe = client.pipeline(transaction=False)
        pipe.incr(full_key)
        if timeout is not None:
            pipe.expire(full_key, timeout)
        return int(pipe.execute()[0])
    try:
        return backend.incr(key)
    except ValueError:  # first increment
        # add() is atomic: of two racing first increments one adds, the other increments.
        if backend.add(key, 1, timeout=timeout):
            return 1
        return backend.incr(key)


def rate_limit_hit(*, key: str, limit: int, window_seconds: int = WINDOW_SECONDS, now: float | None = None) -> RateLimitResult:
    """Count one request against `key` and say whether it is within `limit` for the current window.

    A fixed window is one atomic INCR per request (no sorted sets, no Lua): cheap enough for the
    intake hot path. It admits up to 2x the limit across a window boundary, which is acceptable
    for a generous flood guard.
    """
    now = time.time() if now is None else now
    window = int(now // window_seconds)
    count = counter_incr(f"ratelimit:{key}:{window}", timeout=window_seconds + 5)
    retry_after = 0 if count <= limit else max(1, int((window + 1) * window_seconds - now + 0.999))
    return RateLimitResult(allowed=count <= limit, limit=limit, count=count, retry_after=retry_after)


def integration_rate_limit(*, integration: Integration) -> int:
    return integration.rate_limit_per_minute or settings.INTEGRATION_RATE_LIMIT_PER_MINUTE


def integration_rate_limit_check(*, integration: Integration, now: float | None = None) -> RateLimitResult:
    """Count a request of `integration`; over its limit raise DRF's Throttled (429 with Retry-After)."""
    result = rate_limit_hit(
        key=f"integration:{integration.pk}", limit=integration_rate_limit(integration=integration), now=now
    )
    if not result.allowed:
        raise Throttled(
            wait=result.retry_after,
            detail=f"Integration {integration.name!r} is over its limit of {result.limit} requests per minute.",
        )
    return result
