"""The suite's own counters can fail: a delivery answered twice is a duplicate, a missing one is lost."""
from __future__ import annotations

import json

import requests

from .conftest import percentile


def test_the_pager_counts_a_delivery_answered_twice_as_a_duplicate(pager):
    for delivery_id in (1, 2, 2):
        body = {"delivery_id": delivery_id, "kind": "page", "url": f"http://x/incidents/{delivery_id}/"}
        assert requests.post(pager.url, data=json.dumps(body), timeout=5).status_code == 200
    assert pager.duplicates == 1
    assert pager.incidents_paged() == {1, 2}
    assert pager.first_page_at(3) is None


def test_percentiles_take_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 51.0  # rank round(0.5 * 99) = 50 (0-based)
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
