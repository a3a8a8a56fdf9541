"""Under the Content-Security-Policy the API docs and chart pages still run in Chromium, with no violations."""
from __future__ import annotations

import pytest

from core.choices import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def collect_violations(page) -> list[str]:
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    return messages


def test_swagger_ui_renders_the_schema(logged_in_page, live_server):
    page = logged_in_page(Role.OPERATOR, Role.MANAGER)
    violations = collect_violations(page)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "AIOps incident management API" in page.locator(".swagger-ui .info .title").inner_text()
    assert violations == []


def test_the_noise_page_draws_its_charts(logged_in_page, live_server):
    page = logged_in_page(Role.OPERATOR, Role.MANAGER)
    violations = collect_violations(page)
    page.goto(f"{live_server.url}/incidents/noise/")
    page.wait_for_function("() => window.Chart && Chart.getChart('noise-by-service') !== undefined")
    assert violations == []
