"""Hot-path credentials and limits: integrations cached per process for a bounded time (revocation
still takes effect within it), and rate limits leased from the shared counter in chunks."""
from __future__ import annotations

import pytest
from django.core.cache import cache

from core import authentication, ratelimit
from core.models import Integration
from core.services import integration_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh():
    cache.clear()
    ratelimit.rate_limit_forget()
    authentication.integration_cache_forget()
    yield
    cache.clear()
    ratelimit.rate_limit_forget()
    authentication.integration_cache_forget()


@pytest.fixture
def clock(monkeypatch):
    """The auth cache's clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(authentication.time, "monotonic", lambda: now[0])
    return now


def test_a_known_token_is_answered_without_asking_the_database_again(
    make_integration, django_assert_num_queries, clock
):
    integration, token = make_integration()
    assert authentication.authenticate_integration_token(token).pk == integration.pk
    with django_assert_num_queries(0):
        again = authentication.authenticate_integration_token(token)
    assert again.pk == integration.pk and again.service.pk == integration.service.pk
    again.name = "changed by a caller"
    assert authentication.authenticate_integration_token(token).name == integration.name


def test_a_token_revoked_by_another_process_fails_within_the_cache_bound(make_integration, clock):
    integration, token = make_integration()
    authentication.authenticate_integration_token(token)
    # Another process (the admin's) revokes: this one does not hear of it...
    Integration.objects.filter(pk=integration.pk).update(revoked_at="2026-01-01T00:00:00Z")
    clock[0] += authentication.INTEGRATION_CACHE_SECONDS - 0.1
    assert authentication.authenticate_integration_token(token).pk == integration.pk
    # ...and refuses the token once the cached entry is INTEGRATION_CACHE_SECONDS old.
    clock[0] += 0.2
    with pytest.raises(authentication.exceptions.AuthenticationFailed, match="revoked"):
        authentication.authenticate_integration_token(token)


def test_a_token_revoked_in_this_process_fails_at_once_over_http(integration_client, clock):
    client = integration_client()
    assert client.post("/api/v1/integrations/test").status_code == 202
    integration_revoke(integration=Integration.objects.get(pk=client.integration.pk))
    response = client.post("/api/v1/integrations/test")
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_unknown_tokens_are_not_cached(make_integration, django_assert_num_queries):
    for _ in range(2):
        with django_assert_num_queries(1), pytest.raises(authentication.exceptions.AuthenticationFailed):
            authentication.authenticate_integration_token("aiops_not-a-real-token")


# --- rate limits ---------------------------------------------------------------------------------


def as_process(monkeypatch, leases: dict) -> None:
    """Make the module's lease table one process's own (several web processes in one test)."""
    monkeypatch.setattr(ratelimit, "_leases", leases)


def test_small_limits_are_exact_and_answer_retry_after():
    now = 120.0 * 1000 + 10  # 10 s into a window
    results = [ratelimit.rate_limit_hit(key="k", limit=3, now=now) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert results[-1].retry_after == 50
    assert ratelimit.rate_limit_hit(key="k", limit=3, now=now + 50).allowed  # the next window


def test_processes_lease_from_one_counter_and_never_admit_more_than_the_limit(monkeypatch):
    limit, now = 1000, 60.0 * 5000
    round_trips = []
    real = ratelimit.counter_incr
    monkeypatch.setattr(ratelimit, "counter_incr", lambda *a, **k: round_trips.append(k["amount"]) or real(*a, **k))
    processes = [{}, {}, {}]
    admitted = 0
    for i in range(3000):  # three processes taking turns, far over the limit
        as_process(monkeypatch, processes[i % 3])
        admitted += ratelimit.rate_limit_hit(key="busy", limit=limit, now=now).allowed
    assert admitted == limit
    size = ratelimit.lease_size(limit)
    assert size == 10 and len(round_trips) <= limit // size + 3  # one round trip per lease, not per request
    as_process(monkeypatch, {})  # a fourth process finds the window spent
    assert not ratelimit.rate_limit_hit(key="busy", limit=limit, now=now).allowed


def test_a_process_with_unused_leased_requests_leaves_the_others_at_most_a_lease_short(monkeypatch):
    limit, now = 200, 60.0 * 7000
    idle, busy = {}, {}
    as_process(monkeypatch, idle)
    assert ratelimit.rate_limit_hit(key="k", limit=limit, now=now).allowed  # leases 2, spends 1
    as_process(monkeypatch, busy)
    admitted = sum(ratelimit.rate_limit_hit(key="k", limit=limit, now=now).allowed for _ in range(limit))
    assert limit - 1 - ratelimit.lease_size(limit) < admitted <= limit - 1


def test_without_the_cache_the_limit_holds_per_process(monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(ratelimit, "counter_incr", down)
    results = [ratelimit.rate_limit_hit(key="k", limit=3, now=600.0) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
