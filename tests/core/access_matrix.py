"""The access-control matrix: for every URL pattern (API and pages), what each role gets.

Each entry is `url name -> {method: rule}`; a rule is one letter per principal, in `PRINCIPALS` order:
  A = allowed: any answer but 401/403 or a redirect to the login page (a 400/404/405/409 for the sample
      arguments is fine: the request got past authentication and the role check), never a 5xx;
  D = denied: 401 or 403 (API), or a redirect to the login page / 403 (pages).
Principals: anonymous; an integration token of a kind the endpoint does not take (`tok`); the integration
token the endpoint takes (`own`; see TOKEN_KINDS);
operator; manager; executive; admin.

A URL pattern that is not in this table fails the test: whoever adds an endpoint says who may call it.
`MATRIX_DISCOVER=1 pytest tests/core/test_access_matrix.py -s` prints what every principal gets today.
"""
from __future__ import annotations

PRINCIPALS = ("anon", "tok", "own", "operator", "manager", "executive", "admin")

# Common rules, so the table reads as policy rather than letters.
PUBLIC = "AAAAAAA"  # health checks and the login page: nobody is refused
READ = "DDDAAAA"  # any person with a role reads; no token, nobody anonymous
ACT = "DDDADDA"  # operators and admins act; managers and executives read only
ADMIN = "DDDDDDA"  # admins only
INTAKE = "DDADDDD"  # the integration token of the endpoint's kind only
INTAKE_OR_ACT = "DDAADDA"  # an agent's token, or an operator/admin by hand
PERSONAL = "DDDAAAA"  # a person's own data (notifications): any role, each sees their own

# kwargs for patterns with arguments: objects that do not exist are fine (the role check comes first;
# an allowed principal then gets 404).
SAMPLE_KWARGS = {"pk": 999999, "incident_id": 999999, "step_id": 999999, "name": "no-such-model",
                 "verb": "acknowledge", "id": 999999, "slug": "no-such", "key": "no-such",
                 "event_id": 999999, "item_id": 999999, "op_id": 999999, "view_id": 999999}

# Per-pattern arguments where the sample would stop the request before the role check (a real report name).
KWARGS_FOR = {"report-subscription": {"name": "weekly_kpi"}, "report-detail": {"name": "operations"},
              "report-csv": {"name": "operations"}, "api-report-detail": {"name": "operations"}}

MATRIX: dict[str, dict[str, str]] = {
    # --- aiops shell ---------------------------------------------------------------------------
    "healthz": {"GET": PUBLIC},
    "readyz": {"GET": PUBLIC},
    "login": {"GET": PUBLIC},
    "favicon": {"GET": PUBLIC},
    "logout": {"POST": "DDDAAAA"},  # nobody to log out: anonymous callers are sent to the login page
    "home": {"GET": READ},
    "metrics": {"GET": ADMIN},  # and the METRICS_TOKEN (tests/aiops/test_operations.py)
    "drills": {"GET": READ, "POST": "DDDDADA"},  # a drill pages people for real: managers and admins start one
    "reports": {"GET": READ},
    "report-detail": {"GET": READ},
    "report-csv": {"GET": READ},
    "report-subscription": {"POST": "DDDDAAA"},  # report e-mails are for managers, executives and admins
    "api-report-list": {"GET": READ},
    "api-report-detail": {"GET": READ},
    "schema": {"GET": READ},
    "api-docs": {"GET": READ},
    # --- core ----------------------------------------------------------------------------------
    "integration-test": {"POST": "DAADDDD"},  # "is my token right?": any integration token, of any kind
    "team-list": {"GET": READ, "POST": ADMIN},
    "team-detail": {"GET": READ, "PATCH": ADMIN, "DELETE": ADMIN},
    "service-list": {"GET": READ, "POST": ADMIN},
    "service-detail": {"GET": READ, "PATCH": ADMIN, "DELETE": ADMIN},
    # --- incidents: API ------------------------------------------------------------------------
    "signals": {"POST": INTAKE_OR_ACT},
    "incident-list": {"GET": READ},
    "incident-queue-changes": {"GET": READ},  # the console's live poll
    "incident-noise": {"GET": READ},
    "incident-detail": {"GET": READ},
    "incident-acknowledge": {"POST": ACT},
    "incident-assign": {"POST": ACT},
    "incident-close": {"POST": ACT},
    "incident-investigate": {"POST": ACT},
    "incident-mitigate": {"POST": ACT},
    "incident-notes": {"POST": ACT},
    "incident-reopen": {"POST": ACT},
    "incident-resolve": {"POST": ACT},
    "incident-severity": {"POST": ACT},
    "silence-list": {"GET": READ, "POST": ACT},
    "silence-detail": {"GET": READ, "DELETE": ACT},
    "incident-playbook": {"GET": READ},
    # Any role reaches it: a step owned by a role is done by that role (the service re-checks: 403 otherwise).
    "incident-playbook-step-done": {"POST": READ},
    "incident-playbook-step-run": {"POST": ACT},
    "incident-deliveries": {"GET": "DDDAADA"},  # who was paged where (contact details): not executives
    "my-notifications": {"GET": PERSONAL},
    "my-notifications-read": {"POST": PERSONAL},
    "my-notification-preferences": {"GET": PERSONAL, "PUT": PERSONAL},
    # reviews, action items, incident cost (#11)
    "incident-review": {"GET": READ, "POST": ACT, "PATCH": ACT},
    "incident-review-transition": {"POST": ACT},
    "incident-review-mark": {"POST": ACT},
    "incident-review-markdown": {"GET": READ},
    "incident-action-items": {"GET": READ, "POST": ACT},
    "incident-cost": {"GET": READ},
    "incident-rootcause": {"GET": READ},  # probable root cause (#13)
    "incident-similar": {"GET": READ},
    "incident-cost-lines": {"POST": ACT},
    "review-list": {"GET": READ},
    "action-item-list": {"GET": READ},
    "action-item-detail": {"GET": READ, "PATCH": ACT},
    # --- incidents: pages ----------------------------------------------------------------------
    "incidents:index": {"GET": READ},
    "incidents:noise": {"GET": READ},
    "incidents:detail": {"GET": READ},
    "incidents:act": {"POST": ACT},
    "incidents:bulk": {"POST": ACT},
    "incidents:bulk_undo": {"POST": ACT},
    "incidents:storm": {"POST": ACT},
    "incidents:queue_view_save": {"POST": PERSONAL},  # a person's own saved views
    "incidents:queue_view_delete": {"POST": PERSONAL},
    "incidents:notifications": {"GET": PERSONAL},
    "incidents:notifications_read": {"POST": PERSONAL},
    "incidents:notification_preferences": {"POST": PERSONAL},
    "incidents:playbook_step_done": {"POST": READ},  # as its API twin: the step's owner role is checked
    "incidents:playbook_steps_skip": {"POST": ACT},
    "incidents:silences": {"GET": READ},
    "incidents:silence_preview": {"GET": READ},
    "incidents:silence_create": {"POST": ACT},
    "incidents:silence_expire": {"POST": ACT},
    "incidents:playbook_step_run": {"POST": ACT},
    "incidents:review": {"GET": READ},
    "incidents:review_markdown": {"GET": READ},
    "incidents:learning_overdue": {"GET": READ},
    "incidents:review_start": {"POST": ACT},
    "incidents:review_save": {"POST": ACT},
    "incidents:review_status": {"POST": ACT},
    "incidents:review_mark": {"POST": ACT},
    "incidents:action_item_add": {"POST": ACT},
    "incidents:action_item_status": {"POST": ACT},
    "incidents:cost_line_add": {"POST": ACT},
    # --- monitoring ----------------------------------------------------------------------------
    "telemetry": {"POST": INTAKE},
    "integration-alertmanager": {"POST": INTAKE},
    "integration-grafana": {"POST": INTAKE},
    # PagerDuty's clients send no Authorization header: the routing_key in the body is the token, so every
    # principal reaches the view, and a body without a valid routing_key gets 400 (tests/monitoring/intake).
    "integration-pagerduty": {"POST": PUBLIC},
    "otlp-metrics": {"POST": INTAKE},  # otlp or generic tokens
    "series-list": {"GET": READ},
    "series-detail": {"GET": READ},
    "series-points": {"GET": READ},
    "anomaly-list": {"GET": READ},
    "anomaly-detail": {"GET": READ},
    "monitoring:index": {"GET": READ},
    "monitoring:series": {"GET": READ},
    # --- models_registry -----------------------------------------------------------------------
    "model-predict": {"POST": INTAKE_OR_ACT},  # model or generic tokens
    "model-actuals": {"POST": INTAKE_OR_ACT},
    "training-run-list": {"GET": READ},
    "training-run-detail": {"GET": READ},
    "monitor-result-list": {"GET": READ},
    "monitor-run-list": {"GET": READ, "POST": ACT},
    "monitor-run-detail": {"GET": READ},
    "registered-model-list": {"GET": READ},
    "registered-model-detail": {"GET": READ},
    "registered-model-gate-decisions": {"GET": READ},
    "registered-model-rollback": {"POST": ACT},
    "registered-model-training-runs": {"GET": READ, "POST": ACT},
    "registered-model-versions": {"GET": READ},
    # cost ledger and ROI (#11): managers (budget owners) and admins enter costs; everyone with a role reads
    "cost-entry-list": {"GET": READ, "POST": "DDDDADA"},
    "cost-entry-detail": {"GET": READ, "DELETE": "DDDDADA"},
    "cost-import-list": {"GET": READ, "POST": "DDDDADA"},
    "roi-report": {"GET": READ},
    "models_registry:roi": {"GET": READ},
    "models_registry:roi-csv": {"GET": READ},
    # model operations (#14)
    "model-batch-jobs": {"GET": READ, "POST": ACT},
    "batch-job-detail": {"GET": READ},
    "batch-job-result": {"GET": READ},
    "at-risk-list": {"GET": READ},
    "at-risk-handled": {"POST": ACT},
    "at-risk-actuals": {"POST": INTAKE_OR_ACT},  # outcomes from the journey system (model/generic token)
    "model-shadow": {"GET": READ, "POST": ACT},
    "model-shadow-decide": {"POST": ACT},
    "model-weekly-report": {"GET": READ},
    "models_registry:at_risk": {"GET": READ},
    "models_registry:at_risk_handle": {"POST": ACT},
    "models_registry:weekly_report": {"GET": READ},
    "models_registry:weekly_report_subscribe": {"POST": PERSONAL},
    "models_registry:shadow": {"POST": ACT},
    "models_registry:index": {"GET": READ},
    "models_registry:detail": {"GET": READ},
    "models_registry:retrain": {"POST": ACT},
    "models_registry:rollback": {"POST": ACT},
}

# (the kind the endpoint takes: `own`, a kind it does not take: `tok`) for intake endpoints; every other
# endpoint is called with a generic token as `own` and an alertmanager token as `tok`.
TOKEN_KINDS = {
    "integration-alertmanager": ("alertmanager", "generic"),
    "integration-grafana": ("grafana", "generic"),
    "integration-pagerduty": ("pagerduty", "generic"),
    "otlp-metrics": ("otlp", "alertmanager"),
    "model-predict": ("model", "alertmanager"),
    "model-actuals": ("model", "alertmanager"),
    "at-risk-actuals": ("model", "alertmanager"),
}
DEFAULT_TOKEN_KINDS = ("generic", "alertmanager")
