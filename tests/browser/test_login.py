"""A person signs in through the real login page in Chromium and sees the navigation."""
from __future__ import annotations

import pytest

from core.choices import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_signing_in_shows_the_home_page_with_navigation(logged_in_page, live_server):
    page = logged_in_page(Role.OPERATOR)
    assert page.locator("h1").inner_text() == "Operations overview"
    for label in ("Incidents", "Monitoring", "Models", "Reports"):
        assert page.locator("nav.mainnav").get_by_text(label, exact=True).is_visible()


def test_a_wrong_password_is_refused(page, live_server, make_user):
    make_user(Role.OPERATOR, username="someone")
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "someone")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert "didn't match" in page.locator(".error").inner_text()
