"""The per-integration rate limit and receipt counters on the real Redis cache (pipelined path)."""
from __future__ import annotations

import json
import time

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from core import ratelimit
from core.authentication import integration_cache_forget
from core.choices import IntegrationKind
from core.models import Integration
from core.ratelimit import counter_incr
from monitoring.models import AlertIntake
from monitoring.services import intake as intake_services

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_counters_limits_and_receipts_work_on_redis(celery_worker_process, client, make_integration):
    assert isinstance(caches["default"], RedisCache)
    key = f"test-counter-{id(client)}"
    assert [counter_incr(key, timeout=5) for _ in range(3)] == [1, 2, 3]
    cache.delete(key)

    integration, token = make_integration(IntegrationKind.PAGERDUTY)
    Integration.objects.filter(pk=integration.pk).update(rate_limit_per_minute=2)
    if time.time() % 60 > 50:  # limits count per wall-clock minute: start well inside one
        time.sleep(61 - time.time() % 60)
    event = {"routing_key": token, "event_action": "trigger",
             "payload": {"summary": "x", "source": "y", "severity": "info"}}
    codes = []
    for i in range(3):
        event["dedup_key"] = f"k{i}"
        codes.append(client.post("/api/v1/integrations/pagerduty/v2/enqueue", data=json.dumps(event),
                                 content_type="application/json").status_code)
    assert codes == [202, 202, 429]
    # The worker drains both rows and counts them as received when it first takes them.
    wait_for(lambda: AlertIntake.objects.filter(status="processed").count() == 2, message="both events processed")
    intake_services.integration_receipts_flush(integration_ids=[integration.pk])
    assert Integration.objects.get(pk=integration.pk).received_count == 2

    # A generous limit is leased from the shared counter: one INCRBY for many requests.
    Integration.objects.filter(pk=integration.pk).update(rate_limit_per_minute=5000)
    integration_cache_forget()  # as if INTEGRATION_CACHE_SECONDS had passed
    window = int(time.time() // ratelimit.WINDOW_SECONDS)
    for i in range(3, 6):
        event["dedup_key"] = f"k{i}"
        assert client.post("/api/v1/integrations/pagerduty/v2/enqueue", data=json.dumps(event),
                           content_type="application/json").status_code == 202
    if int(time.time() // ratelimit.WINDOW_SECONDS) == window:  # else a new window: nothing to compare
        # Two counted under the limit of 2 (the third was refused here without asking), then one lease.
        assert cache.get(f"ratelimit:integration:{integration.pk}:{window}") == 2 + ratelimit.lease_size(5000)
    wait_for(lambda: AlertIntake.objects.filter(status="processed").count() == 5, message="all events processed")
