"""Load the demo scenario: people with each role, teams, services, and every app's demo data."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from aiops import demo


class Command(BaseCommand):
    help = "Load the demo scenario (idempotent) and print the demo credentials."

    def handle(self, *args, **options):
        demo.load_organisation()
        for step in demo.STEPS:
            self.stdout.write(f"demo: {step.__doc__.splitlines()[0] if step.__doc__ else step.__name__}")
            step(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo loaded. Sign in at http://127.0.0.1:8000/login/ with:"))
        for person in demo.PEOPLE:
            self.stdout.write(f"  {person.username:8s} / {demo.DEMO_PASSWORD}   ({', '.join(person.roles)})")
