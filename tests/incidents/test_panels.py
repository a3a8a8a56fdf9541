"""The incident page's panel registry: features register providers; the page shows what they return, in order,
and a failing provider never takes the page down."""
from __future__ import annotations

import pytest

from core.choices import Role
from incidents import panels

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(panels, "_PROVIDERS", {})
    return panels


def test_panels_are_shown_in_order_and_a_failing_provider_is_skipped(registry, make_incident, make_user, client):
    incident = make_incident()

    @registry.panel_register("second")
    def second(*, incident, user):
        return panels.Panel(key="second", title="Second panel", template="incidents/panels/_test.html",
                            data={"text": f"about #{incident.pk}"}, order=20)

    @registry.panel_register("first")
    def first(*, incident, user):
        return panels.Panel(key="first", title="First panel", template="incidents/panels/_test.html",
                            data={"text": "hello"}, order=10)

    @registry.panel_register("broken")
    def broken(*, incident, user):
        raise RuntimeError("boom")

    @registry.panel_register("absent")
    def absent(*, incident, user):
        return None

    user = make_user(Role.MANAGER)
    assert [p.key for p in registry.incident_panels(incident=incident, user=user)] == ["first", "second"]
    assert registry.incident_panels_data(incident=incident, user=user) == {
        "first": {"text": "hello"}, "second": {"text": f"about #{incident.pk}"}}

    client.force_login(user)
    body = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert body.index("First panel") < body.index("Second panel")
    assert f"about #{incident.pk}" in body


def test_a_key_cannot_be_taken_by_another_provider(registry):
    registry.panel_register("cost")(lambda *, incident, user: None)
    with pytest.raises(ValueError, match="already registered"):
        @registry.panel_register("cost")
        def other(*, incident, user):
            return None
