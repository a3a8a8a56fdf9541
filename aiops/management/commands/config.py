"""`manage.py config export [FILE]` and `manage.py config apply FILE [--dry-run]`: configuration as code."""
from __future__ import annotations

import getpass
import socket
import sys

import yaml
from django.core.management.base import BaseCommand, CommandError, CommandParser

from aiops.config_as_code import ConfigError, config_apply, config_export


class Command(BaseCommand):
    help = ("Export teams, services, integrations (no secrets), notification policies, playbooks and silences "
            "as YAML, or apply such a file (idempotent; --dry-run prints the diff and writes nothing).")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="Write the configuration as YAML (stdout when no FILE).")
        export.add_argument("file", nargs="?", default="-")
        apply = sub.add_parser("apply", help="Apply a YAML file: create and update, never delete.")
        apply.add_argument("file")
        apply.add_argument("--dry-run", action="store_true", help="Print what would change; write nothing.")

    def handle(self, *args, action: str, file: str, **options) -> None:
        if action == "export":
            text = yaml.safe_dump(config_export(), sort_keys=False, allow_unicode=True)
            if file == "-":
                self.stdout.write(text)
            else:
                with open(file, "w", encoding="utf-8") as handle:
                    handle.write(text)
                self.stdout.write(f"configuration written to {file}")
            return
        try:
            with (sys.stdin if file == "-" else open(file, encoding="utf-8")) as handle:
                data = yaml.safe_load(handle)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        except yaml.YAMLError as exc:
            raise CommandError(f"{file} is not valid YAML: {exc}") from None
        try:
            result = config_apply(data=data, dry_run=options["dry_run"],
                                  actor_name=f"config apply by {getpass.getuser()}@{socket.gethostname()}")
        except ConfigError as exc:
            raise CommandError(f"{file}: nothing applied:\n  " + "\n  ".join(exc.errors)) from None
        for change in result.changes:
            self.stdout.write(change.describe())
        verb = "would change" if result.dry_run else "changed"
        self.stdout.write(f"{len(result.changes)} object(s) {verb}" + (" (dry run)" if result.dry_run else ""))
        for name, token in result.tokens.items():
            self.stdout.write(f"token for new integration {name}: {token}  (shown once; store it now)")
