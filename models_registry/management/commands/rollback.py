"""`manage.py rollback MODEL`: restore the previous champion (recorded as a gate decision)."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import DomainError
from models_registry import selectors, services


class Command(BaseCommand):
    help = "Restore the previous champion of MODEL; the current one is marked rolled back."

    def add_arguments(self, parser):
        parser.add_argument("model")
        parser.add_argument("--reason", default="", help="why, stored with the decision")

    def handle(self, *args, model: str, reason: str, **options):
        try:
            registered = selectors.model_get_by_name(name=model)
            decision = services.model_rollback(model=registered, decided_by="manage.py rollback", reason=reason)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        restored, rolled_back = decision.challenger, decision.champion
        assert restored is not None and rolled_back is not None  # a rollback decision names both versions
        self.stdout.write(
            self.style.SUCCESS(
                f"{registered.name}: champion is v{restored.version} again (v{rolled_back.version} rolled back)"
            )
        )
