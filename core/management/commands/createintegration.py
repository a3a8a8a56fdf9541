"""Create an integration for a monitoring agent and print its token (shown only this once)."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.choices import IntegrationKind
from core.models import Service
from core.services import integration_create
from core.snippets import integration_snippet


class Command(BaseCommand):
    help = "Create an integration token for a monitoring agent and print a configuration snippet."

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, choices=IntegrationKind.values)
        parser.add_argument("--service", required=True, help="Name of an existing service (the default).")
        parser.add_argument(
            "--also-service", action="append", default=[], metavar="NAME", dest="also_service",
            help="Another existing service this integration may file under (repeatable); "
            "it may file under no service but these and --service.",
        )
        parser.add_argument("--name", help="Integration name (default: '<service> <kind>').")
        parser.add_argument("--secret", default="", help="Shared HMAC secret (Grafana).")
        parser.add_argument("--url", default=None, help="Base URL agents reach us at (default SITE_URL).")

    def handle(self, *args, **opts):
        try:
            service = Service.objects.get(name=opts["service"])
        except Service.DoesNotExist:
            raise CommandError(f"no service named {opts['service']!r}; create it in the admin first") from None
        extra = list(Service.objects.filter(name__in=opts["also_service"]))
        missing = sorted(set(opts["also_service"]) - {s.name for s in extra})
        if missing:
            raise CommandError(f"no service named {', '.join(map(repr, missing))} (--also-service)")
        name = opts["name"] or f"{service.name} {opts['kind']}"
        integration, token = integration_create(
            kind=opts["kind"], name=name, service=service, secret=opts["secret"], extra_services=extra
        )
        self.stdout.write(f"Integration #{integration.pk} {integration.name!r} created.")
        names = ", ".join(sorted({service.name, *(s.name for s in extra)}))
        self.stdout.write(f"It may file under: {names}.")
        self.stdout.write(f"Token (shown only once, store it now): {token}")
        snippet = integration_snippet(integration=integration, token=token, base_url=opts["url"])
        if snippet:
            self.stdout.write("\n" + snippet)
