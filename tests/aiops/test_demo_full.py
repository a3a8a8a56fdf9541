"""`make run`'s demo, whole and in order: every step loads on a fresh database, and again changes nothing.

Each app's step has its own test; this one catches steps that disturb each other (a replayed history
landing in a live incident's window broke the demo once while every per-app test passed).
"""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from incidents.models import Incident

pytestmark = pytest.mark.slow


@pytest.mark.django_db(transaction=True)
def test_the_whole_demo_loads_and_makes_incidents_of_every_level(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    out = io.StringIO()
    call_command("demo", stdout=out)
    text = out.getvalue()
    assert "Demo loaded." in text
    core = text.split("Incident core demo", 1)[1].split("demo:", 1)[0]
    assert all(f" L{level} " in core for level in (1, 2, 3, 4)), core  # the core step shows every level
    open_levels = set(Incident.objects.exclude(status__in=["resolved", "closed"]).values_list("severity", flat=True))
    assert {1, 2, 4} <= open_levels, text  # later steps may raise the Level 3 one (the checkout fault joins it)
    # The replayed history stays history: three resolved latency incidents of past days, one each.
    assert Incident.objects.filter(title__startswith="Latency SLO burn", status="resolved").count() == 3
    assert "checkout fault → incident(s) [" in text and "incident(s) none" not in text
    before = Incident.objects.count()
    call_command("demo", stdout=io.StringIO())
    assert Incident.objects.count() == before
