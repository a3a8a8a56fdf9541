"""Pages and the API docs carry a Content-Security-Policy that forbids inline scripts, and still work."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from core.choices import Role

pytestmark = pytest.mark.django_db

# An executable inline script; json_script's data blocks (type="application/json") never run.
INLINE_SCRIPT = re.compile(
    r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", re.IGNORECASE
)


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.fixture
def operator(make_user):
    client = Client()
    client.force_login(make_user(Role.OPERATOR, Role.MANAGER))
    return client


@pytest.mark.parametrize("path", ["/", "/incidents/", "/incidents/noise/", "/reports/", "/login/"])
def test_pages_send_a_policy_without_inline_scripts(operator, path):
    response = operator.get(path)
    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert not INLINE_SCRIPT.search(response.content.decode())


def test_the_api_docs_render_under_the_policy(operator):
    page = operator.get("/api/docs/")
    assert page.status_code == 200 and "Content-Security-Policy" in page
    html = page.content.decode()
    assert not INLINE_SCRIPT.search(html)
    assert "swagger-ui-bundle.js" in html
    # Swagger UI's start-up script comes from our origin, which script-src 'self' allows.
    script = operator.get("/api/docs/?script")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_no_template_has_an_inline_script():
    roots = [Path(settings.BASE_DIR) / "templates", *Path(settings.BASE_DIR).glob("*/templates")]
    offenders = [
        str(path.relative_to(settings.BASE_DIR))
        for root in roots
        for path in root.rglob("*.html")
        if INLINE_SCRIPT.search(path.read_text())
    ]
    assert offenders == []
