"""Configuration as code: export, apply (idempotent, dry run, all-or-nothing), through the command."""
from __future__ import annotations

from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command

from core.models import AuditEntry, Integration, Service, Team
from incidents.models import NotificationPolicy, Playbook, Silence

pytestmark = pytest.mark.django_db

CONFIG = """
teams:
  - slug: payments
    name: Payments
    email: payments@example.com
services:
  - name: pay-db
    team: payments
    tier: 1
    downtime_cost_per_minute: "120.50"
  - name: pay-api
    team: payments
    tier: 2
    depends_on: [pay-db]
integrations:
  - name: prom-payments
    kind: alertmanager
    service: pay-api
    extra_services: [pay-db]
notification_policies:
  - level: 1
    channels: [email, inapp]
    notify_managers: true
    ack_timeout_minutes: 5
    escalation_steps:
      - notify_executives: true
playbooks:
  - name: Payments database down
    severities: [1, 2]
    labels: {alertname: PgDown}
    services: [pay-db]
    steps:
      - title: Check the primary
        phase: immediate
      - title: Fail over
        phase: resolution
        owner_role: operator
silences:
  - comment: payments maintenance
    matchers: [{name: service, value: pay-api}]
    starts_at: "2026-12-01T00:00:00+00:00"
    ends_at: "2026-12-01T04:00:00+00:00"
"""


def run(*args: str) -> str:
    out = StringIO()
    call_command("config", *args, stdout=out)
    return out.getvalue()


def test_apply_creates_everything_then_changes_nothing_the_second_time(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    first = run("apply", str(path))
    assert "+ teams payments" in first and "+ services pay-api" in first and "token for new integration" in first
    api = Service.objects.get(name="pay-api")
    assert [d.name for d in api.depends_on.all()] == ["pay-db"] and api.team.slug == "payments"
    integration = Integration.objects.get(name="prom-payments")
    assert integration.service == api and [s.name for s in integration.extra_services.all()] == ["pay-db"]
    policy = NotificationPolicy.objects.get(severity=1)
    assert policy.channels == ["email", "inapp"] and policy.escalation_steps.get().notify_executives
    playbook = Playbook.objects.get(name="Payments database down")
    assert [s.title for s in playbook.steps.order_by("position")] == ["Check the primary", "Fail over"]
    assert Silence.objects.count() == 1

    assert run("apply", str(path)).strip().endswith("0 object(s) changed")  # idempotent


def test_export_then_apply_round_trips_without_secrets(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    run("apply", str(path))
    exported = tmp_path / "exported.yaml"
    run("export", str(exported))
    text = exported.read_text()
    assert "token" not in text and "secret" not in text
    data = yaml.safe_load(text)
    assert {s["name"] for s in data["services"]} >= {"pay-api", "pay-db"}
    assert run("apply", str(exported)).strip().endswith("0 object(s) changed")


def test_a_dry_run_prints_the_diff_and_writes_nothing(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    run("apply", str(path))
    path.write_text(CONFIG.replace("tier: 2", "tier: 1").replace("ack_timeout_minutes: 5", "ack_timeout_minutes: 9"))
    out = run("apply", str(path), "--dry-run")
    assert "~ services pay-api: tier: 2 -> 1" in out and "ack_timeout_minutes: 5 -> 9" in out and "(dry run)" in out
    assert Service.objects.get(name="pay-api").tier == 2
    run("apply", str(path))
    assert Service.objects.get(name="pay-api").tier == 1
    entry = AuditEntry.objects.get(source="config", object_type="services", object_id="pay-api", action="update")
    assert entry.before == {"tier": 2} and entry.after == {"tier": 1} and entry.actor_name.startswith("config apply")


def test_one_bad_entry_stores_nothing_and_every_problem_is_named(tmp_path):
    path = tmp_path / "config.yaml"
    bad = CONFIG.replace("team: payments\n    tier: 2", "team: nobody\n    tier: 2").replace(
        "level: 1", "level: 7")
    path.write_text(bad)
    with pytest.raises(CommandError) as caught:
        run("apply", str(path))
    message = str(caught.value)
    assert "services[1].team: no team 'nobody'" in message and "notification_policies[0].level" in message
    assert not Team.objects.filter(slug="payments").exists() and not Service.objects.filter(name="pay-db").exists()


def test_unknown_sections_and_fields_are_refused(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("teams:\n  - slug: x\n    colour: red\nwidgets: []\n")
    with pytest.raises(CommandError, match=r"unknown section\(s\): widgets"):
        run("apply", str(path))
    path.write_text("teams:\n  - slug: x\n    colour: red\n")
    with pytest.raises(CommandError, match=r"teams\[0\]: unknown field\(s\) colour"):
        run("apply", str(path))
