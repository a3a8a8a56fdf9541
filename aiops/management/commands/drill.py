"""`manage.py drill --service NAME --level 1`: open a drill incident, page for real, print what it measured."""
from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import DomainError
from core.models import Service
from incidents.selectors import drill_results
from incidents.services.drills import drill_start
from incidents.services.notifications import incident_url

POLL_SECONDS = 0.2  # how often --wait looks for the first page


class Command(BaseCommand):
    help = ("Open a drill incident of a chosen level on a service (marked [DRILL], excluded from reports); "
            "its page, escalation and playbook run for real. Prints alert-in -> page-out; /drills/ shows the "
            "time to acknowledge once someone acknowledges it.")

    def add_arguments(self, parser):
        parser.add_argument("--service", required=True, help="an existing service name")
        parser.add_argument("--level", type=int, default=1, choices=[1, 2, 3, 4])
        parser.add_argument("--wait", type=float, default=60.0,
                            help="seconds to wait for the first page to be sent (0: do not wait)")

    def handle(self, *args, service: str, level: int, wait: float, **options):
        target = Service.objects.filter(name=service).first()
        if target is None:
            raise CommandError(f"--service: no service named {service!r}")
        try:
            incident = drill_start(service=target, level=level, started_by="manage.py drill")
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"drill incident #{incident.pk} (level {level}) on {service}: {incident_url(incident.pk)}")
        deadline = time.monotonic() + wait
        result = None
        while True:
            result = next(r for r in drill_results(limit=20) if r.incident_id == incident.pk)
            if result.page_seconds is not None or time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
        if result.page_seconds is None:
            self.stdout.write(f"no page sent within {wait:.0f} s (sent {result.pages_sent}, failed "
                              f"{result.pages_failed}); check the level's notification policy and the notify worker")
            return
        self.stdout.write(f"alert in -> page out: {result.page_seconds:.2f} s ({result.pages_sent} pages sent, "
                          f"{result.pages_failed} failed); playbook: {result.playbook or 'none'}")
        self.stdout.write("acknowledge it to record the time to acknowledge (shown on /drills/)")
