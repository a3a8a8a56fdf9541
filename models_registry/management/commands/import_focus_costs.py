"""Import a FinOps FOCUS CSV into the cost ledger: every row is stored, or none (bad rows listed by line)."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from models_registry.services.costs import CostImportInvalid, focus_import


class Command(BaseCommand):
    help = "Import a FOCUS CSV (allocation by the `model=<name>` or `service=<name>` tag)."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)

    def handle(self, *args, path: Path, **options):
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None
        try:
            batch = focus_import(content=content, filename=path.name)
        except CostImportInvalid as exc:
            for error in exc.errors:
                self.stderr.write(f"line {error['row']}: {error['field']}: {error['message']}")
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"{path.name}: {batch.entries} entries stored ({batch.skipped} rows without an allocation tag skipped), "
            f"total {batch.total} {batch.currency}"
        )
