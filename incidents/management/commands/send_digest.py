"""Send the daily digest or the weekly KPI report now (beat sends them on schedule)."""
from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from incidents.services import digests


class Command(BaseCommand):
    help = "Send the daily digest (Level 4 + summary) or weekly KPI report for the last complete period."

    def add_arguments(self, parser):
        parser.add_argument("--period", choices=["daily", "weekly"], required=True)
        parser.add_argument("--today", help="Pretend today is YYYY-MM-DD (the period before it is reported).")

    def handle(self, *args, period: str, today: str | None, **options):
        try:
            day = date.fromisoformat(today) if today else None
        except ValueError:
            raise CommandError(f"--today must be YYYY-MM-DD, not {today!r}") from None
        result = digests.digest_send(period=period, today=day)
        self.stdout.write(
            f"{period} digest for {result.start:%Y-%m-%d}: {result.recipients} recipients, "
            f"{result.deliveries} new deliveries queued (re-running the same period sends nothing new)"
        )
