"""Silences in Chromium: a silence created from an alert's labels (two clicks) mutes the next matching alert;
the preview follows the form; the page fits a phone and has no serious accessibility violations."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.choices import Role
from incidents.choices import IncidentStatus
from incidents.models import Alert, Incident, Silence

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"  # vendored with the console's browser tests
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", "var/browser-artifacts"))
DISK = {"alertname": "DiskFull", "instance": "db1", "env": "prod"}


@pytest.fixture
def send(page, live_server, make_integration, make_service):
    """POST one signal through the real alert API with an integration token; returns the JSON answer."""
    _, token = make_integration(service=make_service("db-main"))

    def post(status: str = "firing", **fields):
        body = {"title": "Disk almost full", "labels": DISK, "fingerprint": "disk-db1", "status": status,
                "severity": "warning"} | fields
        response = page.request.post(f"{live_server.url}/api/v1/signals/", data=json.dumps(body),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert response.status in (200, 201, 202), response.text()
        return response.json()

    return post


def test_a_silence_created_from_an_alerts_labels_mutes_the_next_matching_alert(logged_in_page, live_server, send):
    first = send()
    assert first["incident_id"] is not None
    page = logged_in_page(Role.OPERATOR)

    # Click 1: "Silence" on the alert (the incident page links here). Matchers come from its labels.
    page.goto(f"{live_server.url}/incidents/silences/?alert={first['alert_id']}")
    assert page.locator("input[name=m0_label]").input_value() == "alertname"
    preview = page.locator("#silence-preview")
    assert "Disk almost full" in preview.inner_text()

    # The preview follows the form before anything is saved.
    instance = page.locator("input[value=instance]").get_attribute("name").replace("_label", "_value")
    page.fill(f"input[name={instance}]", "db9")
    page.wait_for_function("() => document.querySelector('#silence-preview').innerText.includes('0 matching alert')")
    page.fill(f"input[name={instance}]", "db1")
    page.wait_for_function("() => document.querySelector('#silence-preview').innerText.includes('Disk almost full')")
    assert not Silence.objects.exists()

    # Click 2: save with the pre-filled comment and the default duration.
    page.click("#silence-create")
    page.wait_for_selector(".messages li")
    assert "muted now" in page.locator(".messages li").first.inner_text()
    silence = Silence.objects.get()
    assert {"label": "instance", "op": "=", "value": "db1"} in silence.matchers

    # The fault clears (its incident resolves), then comes back: muted, it neither reopens nor opens one.
    send(status="resolved")
    again = send()
    assert again["outcome"] == "silenced"
    assert Alert.objects.get(pk=again["alert_id"]).silence_id == silence.pk
    assert list(Incident.objects.values_list("status", flat=True)) == [IncidentStatus.RESOLVED]

    page.reload()
    row = page.locator(f"#silence-{silence.pk}")
    assert "DiskFull" in row.inner_text() and "Expire" in row.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "silences.png"), full_page=True)

    # Expire it: the next one counts again.
    row.get_by_role("button", name=f"Expire silence {silence.pk}").click()
    page.wait_for_selector(".messages li")
    send(status="resolved")
    assert send()["outcome"] != "silenced"
    assert Incident.objects.get().status == IncidentStatus.TRIGGERED  # reopened: it counts again


def test_the_silences_page_fits_a_phone(browser, live_server, make_user, send):
    first = send()
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)  # to inject axe-core
    page = context.new_page()
    user = make_user(Role.OPERATOR, username="phone-op")
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "pw-" + user.username)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/incidents/silences/?alert={first['alert_id']}")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert page.locator("#silence-create").is_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "silences-phone.png"), full_page=True)
    if AXE.exists():
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => (await axe.run()).violations.map(v => [v.id, v.impact])")
        assert [v for v in result if v[1] in ("serious", "critical")] == []
    context.close()
