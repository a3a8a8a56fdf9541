"""Print a report for a period: `manage.py report operations --period 2026-W48 [--format text|json|csv]`."""
from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand, CommandError

from aiops.reports import report_run, report_specs
from core.exceptions import DomainError


class Command(BaseCommand):
    help = "Compute a report (operations, business_impact, weekly_kpi, reliability, ...) for a period."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="Report name; omit to list them.")
        parser.add_argument("--period", default="", help="2026-11, 2026-W48, 2026-11-05, 2026, or a..b")
        parser.add_argument("--format", choices=["text", "json", "csv"], default="text")

    def handle(self, *args, **options):
        if not options["name"]:
            for spec in report_specs():
                self.stdout.write(f"{spec.name:18s} {spec.title}: {spec.description}")
            return
        started = time.perf_counter()
        try:
            result = report_run(name=options["name"], period=options["period"] or None)
        except DomainError as exc:
            raise CommandError(f"{exc.field or 'report'}: {exc.message}") from exc
        elapsed = time.perf_counter() - started
        if options["format"] == "json":
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
            return
        if options["format"] == "csv":
            self.stdout.write(result.as_csv())
            return
        self.stdout.write(f"{result.title} · {result.period.label} ({result.period.start:%Y-%m-%d %H:%M} to "
                          f"{result.period.end:%Y-%m-%d %H:%M})")
        for figure in result.figures:
            value = "–" if figure.value is None else figure.value
            self.stdout.write(f"  {figure.label}: {value} {figure.unit}".rstrip())
        for table in result.tables:
            self.stdout.write(f"\n{table.title}\n  " + " | ".join(table.columns))
            for row in table.rows:
                self.stdout.write("  " + " | ".join("–" if c is None else str(c) for c in row))
        self.stdout.write(f"\ncomputed in {elapsed:.2f} s")
