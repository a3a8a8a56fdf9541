"""Model pages: "Roll back" only when there is a version to go back to; unmeasured weeks are gaps in the chart."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.choices import Role
from models_registry.selectors import _periods_with_gaps

pytestmark = pytest.mark.django_db


def test_roll_back_is_offered_only_with_more_than_one_version(make_model_version, client, make_user):
    first = make_model_version()
    client.force_login(make_user(Role.OPERATOR))
    url = f"/models/{first.model.name}/"
    assert "Roll back to previous champion" not in client.get(url).content.decode()
    make_model_version(first.model)
    assert "Roll back to previous champion" in client.get(url).content.decode()


def test_weeks_never_measured_become_gaps_between_measured_ones():
    week = timedelta(weeks=1)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    measured = [start, start + week, start + 4 * week]
    assert _periods_with_gaps(measured) == [start + i * week for i in range(5)]
    assert _periods_with_gaps(measured[:2]) == measured[:2]
