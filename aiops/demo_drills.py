"""Drill demo: one Level 2 drill, paged for real and acknowledged by the operator, so /drills/ has a result."""
from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model

from core.models import Service
from incidents.models import Incident
from incidents.selectors import drill_results
from incidents.services import incident_acknowledge
from incidents.services.drills import drill_start

DEMO_ACK_SECONDS = 95  # the operator acknowledged it a minute and a half in (the row's time, not a wait)


def run(stdout) -> None:
    service = Service.objects.filter(name="checkout-api").first() or Service.objects.order_by("pk").first()
    if service is None or Incident.objects.filter(is_drill=True).exists():  # a second `demo` adds nothing
        return
    incident = drill_start(service=service, level=2, started_by="demo")
    operator = get_user_model().objects.filter(username="olivia").first()
    if operator is not None:
        incident_acknowledge(incident=incident, user=operator)
        incident.refresh_from_db()
        Incident.objects.filter(pk=incident.pk).update(
            acknowledged_at=incident.opened_at + timedelta(seconds=DEMO_ACK_SECONDS))
    result = next(r for r in drill_results(limit=5) if r.incident_id == incident.pk)
    page = f"{result.page_seconds:.2f} s" if result.page_seconds is not None else "no page (no policy for level 2)"
    stdout.write(f"Drill #{incident.pk} on {service.name}: alert in -> page out {page}; see /drills/\n")
