"""`manage.py retrain MODEL [--as-of DATE]`: train a challenger, gate it, print the decision;
`manage.py retrain --reproduce RUN_ID`: re-run a recorded run and say whether its metrics match exactly."""
from __future__ import annotations

import json
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from core.exceptions import DomainError
from models_registry import selectors, services
from models_registry.choices import TrainingRunStatus, TrainingTrigger
from models_registry.exceptions import ModelNotFound
from models_registry.models import TrainingRun

# Steps the training service reports (load, features, fit, evaluate, artifact, champion, gate lines, result).
EXPECTED_STEPS = 8


def parse_as_of(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of {value!r} is not an ISO date (YYYY-MM-DD[THH:MM])") from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, timezone.get_current_timezone())


class Command(BaseCommand):
    help = "Train a challenger on data available at --as-of, evaluate on the holdout, gate it against the champion."

    def add_arguments(self, parser):
        parser.add_argument("model", nargs="?", help="registered model name")
        parser.add_argument(
            "--reproduce", type=int, metavar="RUN_ID",
            help="re-run a recorded training run (nothing stored) and report whether its metrics match exactly",
        )
        parser.add_argument("--as-of", dest="as_of", help="train on data before this date (default: now / end of data)")
        parser.add_argument(
            "--params", default="{}", help='JSON overrides, e.g. \'{"max_iter": 50, "holdout_days": 7}\''
        )

    def handle(self, *args, model: str | None, as_of: str | None, params: str, reproduce: int | None, **options):
        if reproduce is not None:
            return self._reproduce(reproduce)
        if not model:
            raise CommandError("name the model to retrain (or --reproduce RUN_ID)")
        try:
            registered = selectors.model_get_by_name(name=model)
        except ModelNotFound as exc:
            raise CommandError(exc.message) from None
        try:
            overrides = json.loads(params)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--params is not JSON: {exc}") from None
        if not isinstance(overrides, dict):
            raise CommandError("--params must be a JSON object")
        try:
            run = services.training_run_create(
                model=registered, as_of=parse_as_of(as_of) if as_of else None, params=overrides,
                trigger=TrainingTrigger.MANUAL, enqueue=False,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"training run {run.pk}: {registered.name} as of {run.as_of:%Y-%m-%d %H:%M}")
        with tqdm(total=EXPECTED_STEPS, desc="retrain", unit="step", file=self.stderr._out) as bar:
            def progress(message: str) -> None:
                if bar.n >= bar.total:  # the gate writes one line per check: grow rather than overflow
                    bar.total += 1
                bar.update(1)
                bar.write(f"  {message}")

            outcome = services.training_run_execute(run_id=run.pk, progress=progress)
            bar.n = bar.total
            bar.refresh()
        if outcome.run.status != TrainingRunStatus.SUCCEEDED:
            raise CommandError(f"training run {run.pk} failed: {outcome.run.error} (champion unchanged)")
        version, decision = outcome.version, outcome.decision
        assert version is not None and decision is not None  # a succeeded run recorded both
        self.stdout.write(f"v{version.version} metrics: " + ", ".join(
            f"{k}={v:.4g}" for k, v in version.metrics.items() if isinstance(v, (int, float))))
        champion_metrics = decision.metrics.get("champion")
        if champion_metrics:
            champion = decision.champion.version if decision.champion else "?"
            self.stdout.write(f"champion v{champion} on the same holdout: " + ", ".join(
                f"{k}={v:.4g}" for k, v in champion_metrics.items() if isinstance(v, (int, float))))
        self.stdout.write(
            self.style.SUCCESS(f"decision: {decision.decision.upper()} v{version.version}")
            if decision.decision == "promote"
            else self.style.WARNING(f"decision: REJECT v{version.version}")
        )
        for reason in decision.reasons:
            self.stdout.write(f"  - {reason}")

    def _reproduce(self, run_id: int) -> None:
        if not TrainingRun.objects.filter(pk=run_id).exists():
            raise CommandError(f"no training run {run_id}")
        with tqdm(total=4, desc="reproduce", unit="step", file=self.stderr._out) as bar:
            def progress(message: str) -> None:
                if bar.n < bar.total:
                    bar.update(1)
                bar.write(f"  {message}")

            try:
                result = services.training_run_reproduce(run_id=run_id, progress=progress)
            except DomainError as exc:
                raise CommandError(exc.message) from None
            bar.n = bar.total
            bar.refresh()
        environment = result.run.environment
        self.stdout.write(f"training run {run_id}: {result.run.model.name} as of {result.run.as_of:%Y-%m-%d %H:%M}, "
                          f"code {environment.get('code_version')}, seeds {environment.get('seeds')}")
        for key, value in result.metrics.items():
            before = result.original_metrics.get(key)
            mark = "=" if before == value else "≠"
            self.stdout.write(f"  {key}: recorded {before!r} {mark} now {value!r}")
        for line in result.environment_differences:
            self.stdout.write(f"  environment changed: {line}")
        if result.matches:
            self.stdout.write(self.style.SUCCESS("metrics match exactly (same data fingerprint)"))
        else:
            for line in result.differences:
                self.stdout.write(f"  - {line}")
            raise CommandError(f"run {run_id} did not reproduce: {len(result.differences)} difference(s)")
