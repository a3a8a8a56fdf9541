"""The ops console in Chromium: a Level 1 arriving live and worked with the keyboard to resolution, bulk
acknowledge and merge, storm mode and its undo, a manager kept to reading, the phone layout, axe-core.

Screenshots land in var/screenshots/ (test artifacts)."""
from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve
from playwright.sync_api import expect

from core.choices import Role, Tier
from incidents.choices import IncidentStatus
from incidents.models import BulkOperation, Incident, Playbook, PlaybookStep

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"
# axe-core 4.10.3 (MPL-2.0, tests/browser/vendor/axe-core/LICENSE), committed: no download at run time.
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


@pytest.fixture(autouse=True)
def fast_polling(settings):
    settings.CONSOLE_POLL_SECONDS = 1  # the queue asks for changes every second, so the test waits little


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def timeline(page):
    return page.locator("#timeline ol.timeline")


def post_alert(live_server, token: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/signals/", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        return json.loads(response.read())


def test_an_operator_sees_a_level_1_arrive_live_and_works_it_with_the_keyboard(
        logged_in_page, live_server, make_service, make_integration):
    service = make_service("checkout", tier=Tier.TIER_1)
    _, token = make_integration(service=service)
    playbook = Playbook.objects.create(name="Checkout outage", severities=[1], priority=50)
    PlaybookStep.objects.create(playbook=playbook, position=1, title="Confirm customer impact")
    page = logged_in_page(Role.OPERATOR, username="olga")
    page.goto(f"{live_server.url}/incidents/")
    expect(page.locator("tr.queue-empty")).to_be_visible()
    page.keyboard.press("p")  # paused: the list holds still during triage ...
    expect(page.locator("#live-pause")).to_have_attribute("aria-pressed", "true")

    result = post_alert(live_server, token, {"title": "Checkout is down", "severity": "critical",
                                             "labels": {"region": "eu-west"}})
    row = page.locator(f"#incident-{result['incident_id']}")
    expect(page.locator("#live-status")).to_contain_text("1 change waiting", timeout=10_000)
    assert row.count() == 0
    page.keyboard.press("p")  # ... and shows what arrived once resumed, without a reload
    expect(row).to_contain_text("Checkout is down", timeout=10_000)
    expect(page.locator('.level-open[data-level="1"]')).to_have_text("1")  # the count cards follow
    expect(row).to_have_class(re.compile(r"\bfresh\b"))
    expect(row.locator(".badge")).to_have_text("L1 Critical")
    shot(page, "console-queue")

    page.keyboard.press("j")
    expect(row).to_have_class(re.compile(r"\bcursor\b"))
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/incidents/{result['incident_id']}/")
    page.keyboard.press("a")
    expect(page.locator("#incident-status")).to_have_text("Acknowledged")
    expect(timeline(page)).to_contain_text("Acknowledged")

    page.locator("#playbook tr", has_text="Confirm customer impact").get_by_role("button", name="Done").click()
    expect(timeline(page)).to_contain_text("Confirm customer impact")

    page.fill("#note-text", "Rolled back the 14:02 deploy")
    page.get_by_role("button", name="Add note").click()
    expect(timeline(page)).to_contain_text("Rolled back the 14:02 deploy")

    page.keyboard.press("r")
    expect(page.locator("#resolve-note")).to_be_focused()
    page.keyboard.type("deploy rolled back")
    page.keyboard.press("Enter")
    expect(page.locator("#incident-status")).to_have_text("Resolved")
    expect(timeline(page).locator("li.tl-resolved")).to_contain_text("deploy rolled back")
    shot(page, "console-incident")


def test_bulk_acknowledge_then_merge_from_the_queue(logged_in_page, live_server, make_service, make_incident):
    web = make_service("web")
    first, second, third = (make_incident(service=web, title=f"web 5xx {n}") for n in range(3))
    page = logged_in_page(Role.OPERATOR, username="olga")
    page.goto(f"{live_server.url}/incidents/?service=web")

    page.keyboard.press("j")
    page.keyboard.press("x")  # the keyboard selects the first ...
    page.locator(f"#incident-{second.pk} input[name=ids]").check()  # ... the mouse the second
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    page.locator("#bulk-form").get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".messages")).to_contain_text("Acknowledged 2 incidents")
    assert page.url.endswith("?service=web")  # the filter survives the action
    for _ in range(3):
        page.keyboard.press("j")
    page.keyboard.press("a")  # the row under the cursor, acknowledged in place
    expect(page.locator(f"#incident-{third.pk} .q-status")).to_have_text("Acknowledged")
    assert {i.status for i in Incident.objects.filter(pk__in=[first.pk, second.pk])} == {IncidentStatus.ACKNOWLEDGED}

    for incident in (first, second, third):
        page.locator(f"#incident-{incident.pk} input[name=ids]").check()
    page.fill("#bulk-target", str(first.pk))
    page.get_by_role("button", name="Merge").click()
    expect(page.locator(".messages")).to_contain_text(f"Merged into #{first.pk}: 2 incidents")
    expect(page.locator("tr.queue-row")).to_have_count(1)
    for merged in (second, third):
        merged.refresh_from_db()
        assert merged.status == IncidentStatus.RESOLVED and merged.resolution == f"merged into #{first.pk}"
    assert Incident.objects.get(pk=first.pk).alerts.count() == 3


def test_storm_mode_acknowledges_the_filter_and_undo_puts_it_back(logged_in_page, live_server, make_service,
                                                                  make_incident):
    noisy = make_service("noisy")
    storm = [make_incident(service=noisy, severity=3) for _ in range(4)]
    calm = make_incident(severity=3)
    page = logged_in_page(Role.OPERATOR, username="olga")
    page.goto(f"{live_server.url}/incidents/?service=noisy")
    page.locator("#storm-ack").click()
    expect(page.locator(".messages")).to_contain_text("Storm mode acknowledged 4 incidents")
    expect(page.locator(".undo-banner")).to_be_visible()
    operation = BulkOperation.objects.get()
    assert sorted(operation.touched) == sorted(i.pk for i in storm) and operation.query == "service=noisy"
    assert Incident.objects.get(pk=calm.pk).status == IncidentStatus.TRIGGERED

    page.locator("#storm-undo").click()
    expect(page.locator(".messages")).to_contain_text("Undone: 4 incidents triggered again")
    expect(page.locator(".undo-banner")).to_have_count(0)
    assert {i.status for i in Incident.objects.filter(pk__in=[i.pk for i in storm])} == {IncidentStatus.TRIGGERED}


def test_a_manager_sees_no_action_buttons_and_a_direct_post_is_refused(logged_in_page, live_server,
                                                                       make_incident):
    incident = make_incident(severity=2)
    page = logged_in_page(Role.MANAGER, username="mia")
    page.goto(f"{live_server.url}/incidents/")
    expect(page.locator(f"#incident-{incident.pk}")).to_be_visible()
    assert page.locator("#bulk-form, #storm-ack, input[name=ids]").count() == 0
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    assert page.locator(".incident-actions, #act-acknowledge, #note-text").count() == 0
    status = page.evaluate(
        """async ([id]) => {
            const token = document.querySelector('input[name=csrfmiddlewaretoken]').value;
            const body = new URLSearchParams({csrfmiddlewaretoken: token, action: 'acknowledge', ids: id});
            const init = {method: 'POST', body, credentials: 'same-origin'};
            const r = await fetch('/incidents/bulk/', init);
            const own = await fetch(`/incidents/${id}/acknowledge/`, init);
            return [r.status, own.status];
        }""", [str(incident.pk)])
    assert status == [403, 403]
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.TRIGGERED


def _axe_serious(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)""")
    return found


def test_phone_layout_and_accessibility(browser, live_server, make_user, make_service, make_incident):
    # bypass_csp: axe-core is injected as a script the page's own policy would (rightly) refuse.
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        user = make_user(Role.OPERATOR, username="phone-op")
        incident = make_incident(severity=1, service=make_service("payments", tier=Tier.TIER_1),
                                 title="Payments API error rate 12%", labels={"env": "prod", "pod": "pay-7f9c"})
        make_incident(severity=3, title="Search latency p95 above 800 ms")
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "pw-" + user.username)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

        page.goto(f"{live_server.url}/incidents/")
        row = page.locator(f"#incident-{incident.pk}")
        assert row.evaluate("el => getComputedStyle(el).display") == "grid"  # a card, not a table row
        assert page.locator("table.queue thead").is_hidden()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
        for name in ("Acknowledge", "Resolve", "Merge"):
            expect(page.locator("#bulk-form").get_by_role("button", name=name)).to_be_visible()
        shot(page, "console-queue-phone")
        assert _axe_serious(page) == []

        page.goto(f"{live_server.url}/incidents/{incident.pk}/")
        expect(page.locator("#act-acknowledge")).to_be_visible()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        shot(page, "console-incident-phone")
        assert _axe_serious(page) == []

        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{live_server.url}/incidents/")
        page.keyboard.press("?")
        expect(page.locator("#help-overlay")).to_be_visible()
        assert _axe_serious(page) == []
        page.keyboard.press("Escape")
        expect(page.locator("#help-overlay")).to_be_hidden()
        page.keyboard.press("/")
        expect(page.locator("#queue-search")).to_be_focused()
        page.keyboard.type("jk")  # typed into the field: shortcuts are off while typing
        expect(page.locator("#queue-search")).to_have_value("jk")
        assert page.locator("tr.queue-row.cursor").count() == 0
        try:
            resolve("/incidents/silences/")  # built by the silences page work; checked once it exists
        except Resolver404:
            return
        page.goto(f"{live_server.url}/incidents/silences/")
        assert _axe_serious(page) == []
    finally:
        context.close()
