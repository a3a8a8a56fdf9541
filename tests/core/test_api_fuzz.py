"""API fuzzing: schemathesis generates requests from our OpenAPI schema (drf-spectacular's, the contract) and
calls every operation in-process, signed in as an admin: no 5xx, and every documented response matches the
schema. Bounded examples per operation, so it runs in the test command; FUZZ_EXAMPLES raises the bound."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.authtoken.models import Token

from core.choices import Role

# Each request commits on its own, as in production: inside one test transaction, a statement PostgreSQL
# refuses (and the view answers 4xx) would abort the transaction for every later request.
pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))


def _schema() -> schemathesis.BaseSchema:
    document = SchemaGenerator().get_schema(request=None, public=True)
    from django.core.wsgi import get_wsgi_application

    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = get_wsgi_application()
    return loaded


@pytest.fixture
def admin_token(make_user):
    user = make_user(Role.ADMIN, Role.OPERATOR, username="fuzz-admin")
    return Token.objects.create(user=user).key


def test_no_operation_answers_5xx_or_off_schema(admin_token):
    headers = {"Authorization": f"Bearer {admin_token}"}
    checks = [schemathesis.checks.not_a_server_error, schemathesis.checks.response_schema_conformance]
    failures: list[str] = []
    operations = 0
    for result in _schema().get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def run(case):
            case.call_and_validate(headers=headers, checks=checks)

        try:
            run()
        except Exception as exc:  # one operation's failure must not hide the others'
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert operations > 30, operations
    assert not failures, "\n\n".join(failures)


def test_the_schema_documents_intake_paths_as_agents_call_them():
    paths = set(SchemaGenerator().get_schema(request=None, public=True)["paths"])
    for documented in ("/api/v1/integrations/alertmanager", "/api/v1/integrations/grafana",
                       "/api/v1/integrations/pagerduty/v2/enqueue", "/api/v1/telemetry", "/api/v1/signals/",
                       "/otlp/v1/metrics", "/api/v1/integrations/test"):
        assert documented in paths, documented
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for documented in ("/api/v1/integrations/alertmanager", "/api/v1/integrations/grafana",
                       "/api/v1/integrations/pagerduty/v2/enqueue"):
        assert documented in readme, documented


def test_a_datetime_filter_with_an_offset_postgresql_refuses_is_compared_in_utc(admin_token):
    """Found by the fuzzer on PostgreSQL (offsets beyond ±15:59 are a DataError there): 200, not 500."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    response = client.get("/api/v1/monitors/", {"until": "3098-05-14T09:28:14.6441-22:43"})
    assert response.status_code == 200, response.content[:300]


def test_an_id_no_row_can_have_is_a_404_not_a_500(admin_token, client, make_user):
    """Found by the fuzzer on SQLite: a 20-digit id in a URL overflowed the driver."""
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    huge = "36893488147419103231"
    assert api.post(f"/api/v1/incidents/{huge}/review/transition/", {"to": "published"}, format="json"
                    ).status_code == 404
    assert api.get(f"/api/v1/incidents/{huge}/cost/").status_code == 404
    client.force_login(make_user(Role.OPERATOR))
    assert client.get(f"/incidents/{huge}/").status_code == 404
