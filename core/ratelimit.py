"""Per-integration request limits: a fixed-window counter in the Django cache (Redis in production).

Each process leases a share of a window's limit from the shared counter and spends it locally, so
a busy integration costs one cache round trip per lease instead of one per request. Small limits
lease one request at a time and so behave exactly like a plain shared counter.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.exceptions import Throttled

from .models import Integration

logger = logging.getLogger(__name__)

# One minute matches how limits are configured (requests per minute) and how senders back off.
WINDOW_SECONDS = 60
# A process leases at most 1/LEASE_FRACTION of a window's limit at a time, and at most LEASE_MAX:
# the requests a process leased and did not use are refused to the others, so this is the most
# the limit can under-admit per process and window (1 %, or 50 requests). Limits below 100 per
# window lease one request at a time (one round trip per request, exact).
LEASE_FRACTION = 100
LEASE_MAX = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitResult:
    allowed: bool
    limit: int
    count: int  # requests counted against the window so far (leased ones included)
    retry_after: int  # seconds until the current window ends (0 when allowed)


# Django's RedisCache builds a new redis.Redis (and its ~200 response callbacks) for every
# operation; the hot path keeps one client per connection pool (clients are thread-safe).
_redis_clients: dict[int, Any] = {}


def _redis_client(backend: RedisCache, full_key: str) -> Any:
    # Django's private pool helpers (typed nowhere): the client per pool index they choose.
    pool_client: Any = backend._cache
    index = pool_client._get_connection_pool_index(write=True)
    client = _redis_clients.get(index)
    if client is None or client.connection_pool is not pool_client._get_connection_pool(write=True):
        client = _redis_clients[index] = pool_client.get_client(full_key, write=True)
    return client


def counter_incr(key: str, *, timeout: int | None, amount: int = 1) -> int:
    """Atomically add `amount` to a cache counter (created at `amount`) and return it.

    On Redis this is one pipelined round trip (INCRBY + EXPIRE) instead of Django's exists/incr/add
    dance.
    """
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        pipe = _redis_client(backend, full_key).pipeline(transaction=False)
        pipe.incrby(full_key, amount)
        if timeout is not None:
            pipe.expire(full_key, timeout)
        return int(pipe.execute()[0])
    try:
        return backend.incr(key, amount)
    except ValueError:  # first increment
        # add() is atomic: of two racing first increments one adds, the other increments.
        if backend.add(key, amount, timeout=timeout):
            return amount
        return backend.incr(key, amount)


def cache_add(key: str, value, *, timeout: float) -> bool:
    """`cache.add` (SET NX) through the kept Redis client; False when the key exists."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        return bool(_redis_client(backend, full_key).set(full_key, value, nx=True, px=int(timeout * 1000)))
    return backend.add(key, value, timeout=timeout)


def lease_size(limit: int) -> int:
    return max(1, min(LEASE_MAX, limit // LEASE_FRACTION))


@dataclass(slots=True)
class _Lease:
    window: int
    remaining: int = 0  # leased requests not spent yet
    exhausted: bool = False  # the shared counter has nothing left this window
    count: int = 0  # the shared counter after our last lease
    local: int = 0  # requests this process admitted in the window (the fallback when the cache is down)


_leases: dict[str, _Lease] = {}
_leases_lock = threading.Lock()


def rate_limit_hit(
    *, key: str, limit: int, window_seconds: int = WINDOW_SECONDS, now: float | None = None
) -> RateLimitResult:
    """Count one request against `key` and say whether it is within `limit` for the current window.

    A fixed window: the shared counter never admits more than `limit` a window across all
    processes (it may admit up to 2x the limit across a window boundary, acceptable for a generous
    flood guard). A process that runs out of its lease asks the counter for another; once the
    counter is spent, the process refuses locally until the window ends. When the cache cannot be
    reached the limit is kept per process (fail open across processes rather than refuse alerts).
    """
    now = time.time() if now is None else now
    window = int(now // window_seconds)
    retry_after = max(1, int((window + 1) * window_seconds - now + 0.999))
    lease_key = f"{key}:{limit}"  # a changed limit starts a new lease
    with _leases_lock:
        lease = _leases.get(lease_key)
        if lease is None or lease.window != window:
            if len(_leases) > 10_000:  # limits of deleted integrations, changed limits
                _leases.clear()
            lease = _leases[lease_key] = _Lease(window=window)
        if lease.remaining > 0:
            lease.remaining -= 1
            lease.local += 1
            return RateLimitResult(allowed=True, limit=limit, count=lease.count, retry_after=0)
        if lease.exhausted:
            return RateLimitResult(allowed=False, limit=limit, count=lease.count, retry_after=retry_after)
    size = lease_size(limit)
    try:
        count = counter_incr(f"ratelimit:{key}:{window}", timeout=window_seconds + 5, amount=size)
    except Exception:
        logger.warning("rate limit counter unreachable; limiting %s per process", key, exc_info=True)
        with _leases_lock:
            allowed = lease.local < limit
            lease.local += allowed
        return RateLimitResult(
            allowed=allowed, limit=limit, count=lease.local, retry_after=0 if allowed else retry_after
        )
    granted = max(0, min(size, limit - (count - size)))
    with _leases_lock:
        lease.count = max(lease.count, count)
        lease.exhausted = lease.exhausted or count >= limit
        if granted == 0:
            return RateLimitResult(allowed=False, limit=limit, count=count, retry_after=retry_after)
        lease.remaining += granted - 1
        lease.local += 1
    return RateLimitResult(allowed=True, limit=limit, count=count, retry_after=0)


def rate_limit_forget() -> None:
    """Drop this process's leases (tests, or after changing limits by hand)."""
    with _leases_lock:
        _leases.clear()


def integration_rate_limit(*, integration: Integration) -> int:
    return integration.rate_limit_per_minute or settings.INTEGRATION_RATE_LIMIT_PER_MINUTE


def integration_request_count(*, integration: Integration, now: float | None = None) -> RateLimitResult:
    """Count one request of `integration` (the API throttle, core.api.throttles, is the one caller);
    over its limit raise DRF's Throttled (429 with Retry-After)."""
    result = rate_limit_hit(
        key=f"integration:{integration.pk}", limit=integration_rate_limit(integration=integration), now=now
    )
    if not result.allowed:
        raise Throttled(
            wait=result.retry_after,
            detail=f"Integration {integration.name!r} is over its limit of {result.limit} requests per minute.",
        )
    return result
