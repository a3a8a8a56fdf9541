"""Default notification policies (ARCHITECTURE.md severity table) and playbooks for the four levels and model drift."""
from __future__ import annotations

from django.db import migrations

EMAIL, INAPP, SLACK, WEBHOOK = "email", "inapp", "slack", "webhook"

# (severity, executives, managers, team, digest_only, channels, escalation tiers, limit)
POLICIES = [
    (1, True, True, True, False, [EMAIL, INAPP, SLACK, WEBHOOK], [(True, True, True)], 3),
    (2, False, True, True, False, [EMAIL, INAPP, SLACK, WEBHOOK], [(True, True, False)], 2),
    (3, False, False, True, False, [EMAIL, INAPP], [(False, True, False)], 2),
    (4, False, True, True, True, [EMAIL, INAPP], [], 0),
]

I, V, R, C, P = "immediate", "investigation", "resolution", "recovery", "post_incident"
OP, MGR = "operator", "manager"


def check(phase, title, owner=OP, minutes=None, description=""):
    return {"phase": phase, "title": title, "owner_role": owner, "expected_minutes": minutes,
            "description": description, "kind": "checklist"}


def action(phase, title, name, params=None, auto_run=False, owner=OP, description=""):
    return {"phase": phase, "title": title, "owner_role": owner, "kind": "action", "action_name": name,
            "params": params or {}, "auto_run": auto_run, "description": description}


PLAYBOOKS = [
    {
        "name": "Level 1 critical: system-wide failure",
        "description": "Immediate response: executives, management and the team are paged at once.",
        "severities": [1],
        "steps": [
            check(I, "Confirm detection and declare the incident (acknowledge it)", OP, 5),
            check(I, "Assess impact: affected services, customers and revenue per minute", OP, 10),
            check(I, "Mobilise the team: open the bridge, name an incident lead", MGR, 5),
            check(I, "Initial containment: fail over, roll back the last change, shed load", OP, 15),
            check(V, "Identify the root cause (dependencies first: see the service graph)", OP, 30),
            check(V, "Evaluate impact on data and downstream services", OP, 15),
            check(V, "Decide the solution and the recovery plan", MGR, 10),
            check(R, "Implement the fix", OP, 30),
            check(R, "Verify the fix: alerts cleared, error rate and latency normal", OP, 10),
            check(R, "Validate performance against the service's SLO", OP, 15),
            check(R, "Document the actions in the incident timeline", OP, 10),
            check(C, "Restore full service and switch back from fail-over", OP, 30),
            check(C, "Confirm business continuity with the service owner", MGR, 15),
            check(C, "Communicate the all-clear to stakeholders and customers", MGR, 10),
            check(P, "Hold the post-incident review within 48 hours", MGR, 60),
            check(P, "Record lessons learned and prevention action items", MGR, 30),
            check(P, "Improve the process: monitors, runbooks, escalation", MGR, 30),
        ],
    },
    {
        "name": "Level 2 high: partial failure",
        "description": "Rapid response: management and the team are paged.",
        "severities": [2],
        "steps": [
            check(I, "Acknowledge and confirm the failure is real", OP, 5),
            check(I, "Assess impact and decide whether to raise to Level 1", OP, 10),
            check(I, "Contain: fail over or roll back if a change caused it", OP, 15),
            check(V, "Identify the root cause", OP, 45),
            check(V, "Plan the fix and the recovery", OP, 15),
            check(R, "Implement and verify the fix", OP, 45),
            check(R, "Document the actions in the timeline", OP, 10),
            check(C, "Restore normal operation and tell stakeholders", MGR, 15),
            check(P, "Post-incident review and action items", MGR, 45),
        ],
    },
    {
        "name": "Level 3 medium: performance degradation",
        "description": "Scheduled response: the owning team handles it in working hours.",
        "severities": [3],
        "steps": [
            check(I, "Acknowledge and check the degradation is ongoing", OP, 10),
            check(V, "Find the cause (recent changes, load, dependencies)", OP, 60),
            check(R, "Fix or schedule the fix; verify latency and errors recover", OP, 120),
            check(C, "Confirm performance is back to normal", OP, 15),
            check(P, "Note the cause and any monitor to tune", OP, 15),
        ],
    },
    {
        "name": "Level 4 low: minor issue",
        "description": "Regular maintenance: reported in the daily digest, handled in the backlog.",
        "severities": [4],
        "steps": [
            check(I, "Triage: confirm it is minor and not a symptom of something larger", OP, 15),
            check(R, "Fix in regular maintenance or close as noise", OP, 60),
            check(P, "Tune the alert if it was noise", OP, 15),
        ],
    },
    {
        "name": "Model drift or degradation",
        "description": "A supervised model's inputs drifted or its accuracy fell: retrain, gate, promote or roll back.",
        "source_kinds": ["model"],
        "priority": 10,
        "steps": [
            check(I, "Confirm the drift is real: check the input data pipeline and feature freshness", OP, 15),
            check(I, "Assess business impact of the degraded predictions", MGR, 10),
            action(V, "Retrain a challenger on recent data", "retrain_model", {"reason": "drift"},
                   description="Runs the registered retrain_model action; the gate compares it with the champion."),
            check(R, "Compare challenger and champion on the business metric (Models page, gate decision)", OP, 15),
            check(R, "Promote the challenger if the gate passed", OP, 5),
            action(R, "Or roll back to the previous model version", "rollback_model", {},
                   description="Use when the new champion misbehaves and retraining did not help."),
            check(C, "Watch prediction error and drift for the next day", OP, 30),
            check(P, "Record the drift cause and adjust monitor thresholds", OP, 20),
        ],
    },
]


def load_defaults(apps, schema_editor):
    Policy = apps.get_model("incidents", "NotificationPolicy")
    Step = apps.get_model("incidents", "EscalationStep")
    Playbook = apps.get_model("incidents", "Playbook")
    PlaybookStep = apps.get_model("incidents", "PlaybookStep")
    for severity, execs, managers, team, digest_only, channels, tiers, limit in POLICIES:
        policy, created = Policy.objects.get_or_create(severity=severity, defaults={
            "notify_executives": execs, "notify_managers": managers, "notify_team": team,
            "digest_only": digest_only, "channels": channels, "escalation_limit": limit,
        })
        if created:
            for position, (t_execs, t_managers, t_team) in enumerate(tiers, start=1):
                Step.objects.create(policy=policy, position=position, notify_executives=t_execs,
                                    notify_managers=t_managers, notify_team=t_team)
    for spec in PLAYBOOKS:
        playbook, created = Playbook.objects.get_or_create(name=spec["name"], defaults={
            "description": spec["description"], "severities": spec.get("severities", []),
            "source_kinds": spec.get("source_kinds", []), "priority": spec.get("priority", 0),
        })
        if created:
            for position, step in enumerate(spec["steps"], start=1):
                PlaybookStep.objects.create(playbook=playbook, position=position, **step)


def unload_defaults(apps, schema_editor):
    apps.get_model("incidents", "Playbook").objects.filter(name__in=[p["name"] for p in PLAYBOOKS]).delete()
    apps.get_model("incidents", "NotificationPolicy").objects.filter(severity__in=[1, 2, 3, 4]).delete()


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_playbooks_notifications")]
    operations = [migrations.RunPython(load_defaults, unload_defaults)]
