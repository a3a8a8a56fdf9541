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
        parser.add_argument("--service", required=True, help="Name of an existing service.")
        parser.add_argument("--name", help="Integration name (default: '<service> <kind>').")
        parser.add_argument("--secret", default="", help="Shared HMAC secret (Grafana).")
        parser.add_argument("--url", default=None, help="Base URL agents reach us at (default SITE_URL).")

    def handle(self, *args, **opts):
        try:
            service = Service.objects.get(name=opts["service"])
        except Service.DoesNotExist:
            raise CommandError(f"no service named {opts['service']!r}; create it in the admin first") from None
        name = opts["name"] or f"{service.name} {opts['kind']}"
        integration, token = integration_create(
            kind=opts["kind"], name=name, service=service, secret=opts["secret"]
        )
        self.stdout.write(f"Integration #{integration.pk} {integration.name!r} created.")
        self.stdout.write(f"Token (shown only once, store it now): {token}")
        snippet = integration_snippet(integration=integration, token=token, base_url=opts["url"])
        if snippet:
            self.stdout.write("\n" + snippet)
