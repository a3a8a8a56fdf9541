"""`manage.py run_monitors [MODEL] [--from DATE --to DATE]`: run every monitor now and print the verdicts."""
from __future__ import annotations

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from core.exceptions import DomainError
from models_registry import selectors
from models_registry.choices import MonitorTrigger
from models_registry.services import monitors as monitor_services


def _moment(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} {value!r} is not an ISO date (YYYY-MM-DD[THH:MM])") from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, timezone.get_current_timezone())


class Command(BaseCommand):
    help = "Run the drift, performance, bias and operational monitors now (default: every model, last period)."

    def add_arguments(self, parser):
        parser.add_argument("model", nargs="?", help="registered model name (default: all)")
        parser.add_argument("--from", dest="start", help="period start (default: --to minus MONITOR_PERIOD_DAYS)")
        parser.add_argument("--to", dest="end", help="period end (default: now)")

    def handle(self, *args, model: str | None, start: str | None, end: str | None, **options):
        try:
            models = [selectors.model_get_by_name(name=model)] if model else list(selectors.model_list())
        except DomainError as exc:
            raise CommandError(exc.message) from None
        period_start, period_end = _moment(start, "--from"), _moment(end, "--to")
        for registered in tqdm(models, desc="monitors", unit="model", file=self.stderr._out):
            try:
                runs = monitor_services.monitors_run_now(
                    model=registered, period_start=period_start, period_end=period_end,
                    trigger=MonitorTrigger.MANUAL,
                )
            except DomainError as exc:
                raise CommandError(exc.message) from None
            if not runs:
                self.stdout.write(f"{registered.name}: no champion and nothing served; skipped")
            for run in runs:
                self.stdout.write(
                    f"{registered.name} v{run.version.version} {run.period_start:%Y-%m-%d %H:%M} → "
                    f"{run.period_end:%Y-%m-%d %H:%M}: {run.status.upper()} ({run.state})"
                    + (f" {run.error}" if run.error else "")
                )
                for result in run.results.order_by("id"):
                    signal = f"  [signal {result.signal_outcome}]" if result.signal_outcome else ""
                    self.stdout.write(
                        f"  {result.kind:17} {result.status:8} {result.reasons[0] if result.reasons else ''}{signal}"
                    )
