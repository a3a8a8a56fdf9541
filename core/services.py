"""Writes of the organisation model: teams, services, integration tokens."""
from __future__ import annotations

import secrets
from collections.abc import Iterable
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from .authentication import integration_cache_forget
from .choices import IntegrationKind, Tier
from .enqueue import enqueue
from .models import ConnectionTest, Integration, Service, Team, validate_time_zone
from .selectors import TOKEN_PREFIX, token_hash


def team_get_or_create(*, name: str, email: str = "", time_zone: str = "UTC") -> Team:
    """The team named `name`, created with these details when new; `time_zone` is an IANA zone."""
    validate_time_zone(time_zone)
    team, _ = Team.objects.get_or_create(name=name, defaults={"slug": slugify(name), "email": email,
                                                              "time_zone": time_zone})
    return team


def service_get_or_create(
    *,
    name: str,
    team: Team,
    tier: int = Tier.TIER_3,
    downtime_cost_per_minute: Decimal | int = 0,
    owner_email: str = "",
) -> Service:
    service, _ = Service.objects.get_or_create(
        name=name,
        defaults={
            "team": team,
            "tier": tier,
            "downtime_cost_per_minute": Decimal(downtime_cost_per_minute),
            "owner_email": owner_email,
        },
    )
    return service


def integration_create(
    *,
    kind: str,
    name: str,
    service: Service | None = None,
    created_by: User | None = None,
    secret: str = "",
    extra_services: Iterable[Service] = (),
) -> tuple[Integration, str]:
    """Create an integration and return it with its token, which is never stored or shown again.

    It files under `service` (its default) and `extra_services`, nothing else.
    """
    if kind not in IntegrationKind.values:
        raise ValueError(f"unknown integration kind {kind!r}; expected one of {IntegrationKind.values}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    integration = Integration.objects.create(
        kind=kind,
        name=name,
        service=service,
        created_by=created_by,
        secret=secret,
        token_hash=token_hash(token),
        token_prefix=token[: len(TOKEN_PREFIX) + 6],
    )
    if extra_services:
        integration.extra_services.set(extra_services)
    return integration, token


def integration_revoke(*, integration: Integration) -> Integration:
    """Revoke at once in this process; other processes refuse the token within INTEGRATION_CACHE_SECONDS."""
    if integration.revoked_at is None:
        integration.revoked_at = timezone.now()
        integration.save(update_fields=["revoked_at"])
    integration_cache_forget(token_hash=integration.token_hash)
    return integration


def integration_record_receipt(*, integration_id: int, count: int = 1) -> None:
    """Count a received request without racing other requests of the same integration."""
    Integration.objects.filter(pk=integration_id).update(
        received_count=F("received_count") + count, last_received_at=timezone.now()
    )


@transaction.atomic
def service_set_dependencies(*, service: Service, depends_on: list[Service]) -> None:
    service.depends_on.set(depends_on)


def connection_test_create(*, integration: Integration) -> ConnectionTest:
    """Store a test event and hand it to a worker once the row is committed."""
    test = ConnectionTest.objects.create(integration=integration)
    integration_record_receipt(integration_id=integration.pk)
    enqueue("core.process_connection_test", test.pk)
    return test


def connection_test_process(*, test_id: int, worker: str) -> bool:
    """Mark a test event processed; a redelivered task finds it claimed and does nothing."""
    return bool(
        ConnectionTest.objects.filter(pk=test_id, processed_at=None).update(
            processed_at=timezone.now(), processed_by=worker[:200]
        )
    )
