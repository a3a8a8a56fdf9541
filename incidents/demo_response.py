"""Demo step: incidents with attached playbooks, pages by level (in-app list, e-mail in var/mail), a digest."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from incidents.choices import DeliveryStatus, StepStatus
from incidents.contracts import SignalIn
from incidents.models import Delivery, NotificationPreference, PlaybookRun, UserNotification
from incidents.services import digests, playbooks, signal_ingest


def _drift_signal() -> SignalIn:
    # Two hours ago: outside the correlation window, so the checkout outage (whose service depends on
    # this model) opens its own incident instead of joining the drift one.
    return SignalIn(source_kind="model", source_name="eta-drift-monitor", service="journey-eta-model",
                    title="Input drift on journey-eta-model (PSI 0.31 on distance)", severity_hint="high",
                    labels={"monitor": "drift", "model": "journey-eta", "demo": "response"},
                    occurred_at=timezone.now() - timedelta(hours=2))


DEMO_SIGNALS = (
    SignalIn(source_kind="alertmanager", source_name="demo-alertmanager", service="checkout-api",
             title="Checkout API 5xx above 20% for 5 minutes", severity_hint="critical",
             labels={"alertname": "CheckoutErrors", "env": "prod", "demo": "response"},
             description="Payment confirmations fail; customers cannot complete orders.", kpis=("orders_per_minute",)),
    SignalIn(source_kind="generic", source_name="cron", service="reporting-batch",
             title="Nightly report finished 40 minutes late", severity_hint="info",
             labels={"job": "nightly-report", "demo": "response"}),
)


def run(stdout) -> None:
    """Response demo: playbooks attached, notifications by level (in-app + var/mail), a daily digest."""
    User = get_user_model()
    people = {u.username: u for u in User.objects.filter(username__in=["olivia", "max", "erin", "admin"])}
    if "erin" in people:  # the executive reads e-mail only; everyone else keeps e-mail + in-app
        NotificationPreference.objects.get_or_create(user=people["erin"], defaults={"channels": ["email"]})
    incident_ids = []
    for signal in (_drift_signal(), *DEMO_SIGNALS):
        result = signal_ingest(signal=signal)
        if result.incident_id:
            incident_ids.append(result.incident_id)
    # An operator works the critical incident's playbook: the first steps are ticked.
    operator = people.get("olivia")
    critical = PlaybookRun.objects.filter(incident_id__in=incident_ids).order_by("incident__severity").first()
    if critical and operator:
        for step in critical.steps.filter(status=StepStatus.PENDING).order_by("position")[:2]:
            playbooks.playbook_step_complete(incident_id=critical.incident_id, step_run_id=step.pk, user=operator)
    digest = digests.digest_send(period="daily", today=timezone.localdate() + timedelta(days=1))

    runs = PlaybookRun.objects.filter(incident_id__in=incident_ids).select_related("incident")
    for run in runs:
        stdout.write(f"  incident #{run.incident_id} L{run.incident.severity} {run.incident.title[:50]!r}: "
                     f"playbook {run.playbook_name!r}")
    sent = Counter(Delivery.objects.filter(status=DeliveryStatus.SENT).values_list("channel", flat=True))
    stdout.write(f"  deliveries sent: {dict(sent) or 'none'}; daily digest to {digest.recipients} people")
    notes = Counter(UserNotification.objects.values_list("user__username", flat=True))
    stdout.write(f"  in-app notifications: {dict(notes)} (the bell in the top bar, /incidents/notifications/)")
    if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
        stdout.write(f"  e-mails written to {settings.EMAIL_FILE_PATH}")
