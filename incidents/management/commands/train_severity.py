"""`manage.py train_severity`: fit the severity classifier on past incidents and switch it on."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from incidents.services.classifier import (
    MIN_TRAINING_INCIDENTS,
    NotEnoughHistory,
    severity_classifier_train,
)


class Command(BaseCommand):
    help = "Train the severity classifier on resolved incidents (operator overrides are the labels)."

    def add_arguments(self, parser):
        parser.add_argument("--min-samples", type=int, default=MIN_TRAINING_INCIDENTS,
                            help=f"Refuse with fewer past incidents (default {MIN_TRAINING_INCIDENTS}).")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **options):
        try:
            result = severity_classifier_train(min_samples=options["min_samples"], seed=options["seed"])
        except NotEnoughHistory as exc:
            raise CommandError(exc.message) from exc
        levels = ", ".join(f"L{lvl}: {n}" for lvl, n in sorted(result.per_level.items()))
        self.stdout.write(self.style.SUCCESS(
            f"Trained classifier #{result.classifier_id} on {result.samples} incidents ({levels}); "
            f"held-out accuracy {result.accuracy:.1%}. It now proposes levels for new incidents."
        ))
