"""`manage.py similar_backtest`: hit@3 of similar-incident search on a generated history with known recurrence."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from incidents.services.similar_history import hit_at


class Command(BaseCommand):
    help = "Measure similar-incident search (hit@k) on a generated history whose recurrences are known."

    def add_arguments(self, parser):
        parser.add_argument("--size", type=int, default=3000, help="Past incidents in the history.")
        parser.add_argument("--families", type=int, default=150, help="Distinct faults that recur.")
        parser.add_argument("--queries", type=int, default=500)
        parser.add_argument("--k", type=int, default=3)
        parser.add_argument("--seed", type=int, default=13)

    def handle(self, *args, **opts):
        result = hit_at(size=opts["size"], n_families=opts["families"], queries=opts["queries"], k=opts["k"],
                        seed=opts["seed"])
        k = opts["k"]
        self.stdout.write(
            f"Similar incidents on {opts['size']} past incidents from {opts['families']} recurring faults, "
            f"{result['queries']} new ones: hit@{k} = {result[f'hit@{k}']:.3f} "
            f"(same fingerprint {result[f'hit@{k}_recurring']:.3f}, "
            f"new fingerprint {result[f'hit@{k}_new_fingerprint']:.3f})"
        )
