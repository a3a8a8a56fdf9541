"""Integration tokens: stored hashed, shown once, created from the command line."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from core.models import Integration
from core.selectors import integration_get_by_token, token_hash

pytestmark = pytest.mark.django_db


def test_only_a_hash_of_the_token_is_stored(make_integration):
    integration, token = make_integration()
    integration.refresh_from_db()
    assert token not in {integration.token_hash, integration.token_prefix, integration.name}
    assert integration.token_hash == token_hash(token)
    assert integration_get_by_token(token=token) == integration


def test_createintegration_prints_a_working_token(make_service):
    make_service("checkout-api")
    out = StringIO()
    call_command("createintegration", "--kind", "generic", "--service", "checkout-api", stdout=out)
    token = next(line.split(": ", 1)[1] for line in out.getvalue().splitlines() if line.startswith("Token"))
    integration = integration_get_by_token(token=token)
    assert integration is not None and integration.service.name == "checkout-api"
    assert "/api/v1/signals/" in out.getvalue()


def test_createintegration_refuses_an_unknown_service():
    with pytest.raises(CommandError, match="no service named"):
        call_command("createintegration", "--kind", "generic", "--service", "nope", stdout=StringIO())
    assert not Integration.objects.exists()
