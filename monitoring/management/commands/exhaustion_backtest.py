"""`manage.py exhaustion_backtest`: time-to-exhaustion forecasts on synthetic series with a known exhaustion time."""
from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from monitoring.services.capacity.backtest import run


class Command(BaseCommand):
    help = "Median error of the predicted exhaustion time and the interval's coverage, on synthetic series."

    def add_arguments(self, parser):
        parser.add_argument("--series", type=int, default=400)
        parser.add_argument("--fit-hours", type=int, default=settings.CAPACITY_FIT_HOURS)
        parser.add_argument("--horizon-hours", type=float, default=float(settings.CAPACITY_HORIZON_HOURS))
        parser.add_argument("--seed", type=int, default=13)

    def handle(self, *args, **opts):
        r = run(n=opts["series"], fit_hours=opts["fit_hours"], horizon_hours=opts["horizon_hours"], seed=opts["seed"])
        self.stdout.write(
            f"{r.series} synthetic series ({opts['fit_hours']} h of history, horizon {opts['horizon_hours']:g} h): "
            f"{r.predicted} growing series predicted; median |error| of the exhaustion time "
            f"{r.median_abs_error_hours:.2f} h; interval coverage {r.coverage:.3f}; "
            f"false alarms on flat series {r.false_alarms}."
        )
