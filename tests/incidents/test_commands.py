"""Management commands of the incident core: bench_signals and train_severity."""
from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from incidents.models import Incident, SeverityClassifier
from incidents.services.classifier import classifier_cache_clear

pytestmark = pytest.mark.django_db


def test_bench_signals_reports_throughput_incidents_and_the_constraint():
    out = io.StringIO()
    call_command("bench_signals", n=60, services=3, stdout=out)
    text = out.getvalue()
    assert "signals/s" in text and "incidents opened:" in text
    assert "constraint held: yes" in text
    assert Incident.objects.exists()


@pytest.mark.skipif(settings.IS_POSTGRES, reason="SQLite only: on PostgreSQL the bench runs parallel workers")
def test_bench_signals_refuses_parallel_workers_on_sqlite():
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        call_command("bench_signals", n=10, workers=4, stdout=io.StringIO())


def test_train_severity_trains_on_history(make_service, make_history):
    classifier_cache_clear()
    make_history(make_service(), 60)
    out = io.StringIO()
    call_command("train_severity", stdout=out)
    assert "Trained classifier" in out.getvalue() and "60 incidents" in out.getvalue()
    assert SeverityClassifier.objects.filter(enabled=True).count() == 1
    classifier_cache_clear()
