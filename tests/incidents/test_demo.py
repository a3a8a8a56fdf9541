"""The incident demo step makes incidents of several levels with grouped alerts, and runs only once."""
from __future__ import annotations

import io

import pytest

from aiops.demo import load_organisation
from incidents import demo
from incidents.choices import AlertHold
from incidents.models import Alert, Incident

pytestmark = pytest.mark.django_db


def test_the_demo_shows_every_level_with_grouped_alerts_and_held_noise():
    load_organisation()
    out = io.StringIO()
    demo.run(out)
    open_levels = set(Incident.objects.exclude(status="resolved").values_list("severity", flat=True))
    assert open_levels == {1, 2, 3, 4}
    assert Incident.objects.get(severity=1, status="acknowledged").alerts.count() == 3
    assert Alert.objects.filter(hold=AlertHold.SILENCED).exists()
    assert Alert.objects.filter(hold=AlertHold.FLAPPING).exists()
    count = Alert.objects.count()
    demo.run(out)
    assert Alert.objects.count() == count and "already loaded" in out.getvalue()
